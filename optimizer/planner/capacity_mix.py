"""Sizing a `capacity` fleet: which VMs, of which configurations, cover the vCPU and RAM
still missing at the least total price. Pure."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal

#: configuration slug → (vCPU, RAM in GB, price per VM per epoch)
Configurations = Mapping[str, tuple[int, int, Decimal]]


def cheapest_mix(configs: Configurations, need_vcpu: int, need_ram: int) -> dict[str, int]:
    """Given the configurations on offer and the vCPU and RAM (GB) to add, return how many
    VMs of each configuration cover both at the least total price ({} when nothing is
    needed or nothing is on offer).

    Dynamic programming over the covered amounts (scaled by their common divisor, so the
    table stays small); ties are broken by fewer VMs, then toward the slugs that sort
    first."""
    if (need_vcpu <= 0 and need_ram <= 0) or not configs:
        return {}
    slugs = sorted(configs)
    gv = math.gcd(*(configs[s][0] for s in slugs), max(need_vcpu, 0)) or 1
    gr = math.gcd(*(configs[s][1] for s in slugs), max(need_ram, 0)) or 1
    tv, tr = (
        max(need_vcpu, 0) // gv + (1 if need_vcpu % gv else 0),
        max(need_ram, 0) // gr + (1 if need_ram % gr else 0),
    )
    best: dict[tuple[int, int], tuple[Decimal, int, tuple[int, ...]]] = {
        (0, 0): (Decimal(0), 0, (0,) * len(slugs))
    }
    # states in increasing coverage order; each transition adds one VM of one configuration
    for v in range(tv + 1):
        for r in range(tr + 1):
            cur = best.get((v, r))
            if cur is None:
                continue
            for i, s in enumerate(slugs):
                cv, cr, price = configs[s]
                nv, nr = min(tv, v + cv // gv), min(tr, r + cr // gr)
                if (nv, nr) == (v, r):
                    continue
                counts = list(cur[2])
                counts[i] += 1
                cand = (cur[0] + price, cur[1] + 1, tuple(counts))
                old = best.get((nv, nr))
                if old is None or cand[:2] < old[:2] or (cand[:2] == old[:2] and cand[2] > old[2]):
                    best[(nv, nr)] = cand
    final = best.get((tv, tr))
    if final is None:
        return {}
    return {s: n for s, n in zip(slugs, final[2], strict=True) if n}
