"""Handlers of the account routes: balances and billing charges."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from optimizer.sim.app import SimResponse
from optimizer.sim.cloud import wire
from optimizer.sim.cloud.catalog import SPEC_0_8, SPEC_0_10
from optimizer.sim.cloud.errors import CloudError
from optimizer.sim.cloud.params import Query, answer
from optimizer.sim.cloud.world import CloudWorld


def balances(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    balance = w.sim.account.balance
    burn = w.hourly_burn()
    usage = sum((c.cost for c in w.charges.values()), Decimal(0))
    days_left = None
    if burn > 0:
        days_left = int(min(max(balance, Decimal(0)) / (burn * 24), Decimal(65535)))
    item = {
        "balance": wire.money(balance),
        "usage": wire.money(usage),
        "estimatedUsage": wire.money(usage + burn * 24 * 30),
        "overage": wire.money(max(-balance, Decimal(0))),
        "totalDepositedAmount": wire.money(w.deposited),
        "userId": w.user_id,
        "featureKey": "cloud_usd_balance",
        "usageDaysLeft": days_left,
    }
    key = q.one("entitlementKey") if w.spec == SPEC_0_10 else None
    return answer(200, [item] if key in (None, item["featureKey"]) else [])


def _charge_rows(w: CloudWorld, q: Query, *, dates_required: bool) -> list[Any]:
    start = q.day("startDate", required=dates_required)
    end = q.day("endDate", required=dates_required)
    rid, rtype = q.one("resourceId"), q.one("resourceType")
    return [
        c
        for c in w.charges.values()
        if (start is None or c.day >= start.isoformat())
        and (end is None or c.day <= end.isoformat())
        and (rid is None or c.resource_id == rid)
        and (rtype is None or c.resource_type == rtype)
    ]


def charges_total(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    rows = _charge_rows(w, q, dates_required=False)
    out = {"total": wire.money(sum((c.cost for c in rows), Decimal(0)))}
    for kind in ("VM", "STORAGE", "PUBLIC_IP"):
        out[kind] = wire.money(sum((c.cost for c in rows if c.resource_type == kind), Decimal(0)))
    return answer(200, out)


def charges_aggregated(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    rows = _charge_rows(w, q, dates_required=True)
    group = (q.one("groupBy") if w.spec == SPEC_0_10 else None) or "RESOURCE"
    period = q.one("period") if w.spec == SPEC_0_10 else None
    if group not in ("RESOURCE", "RESOURCE_TYPE", "CLUSTER"):
        raise CloudError(400, "bad_request", f"query groupBy: unknown value {group!r}")
    if period not in (None, "DAY", "MONTH"):
        raise CloudError(400, "bad_request", f"query period: unknown value {period!r}")
    buckets: dict[tuple[str, str | None], dict[str, Any]] = {}
    for c in rows:
        info = _resource_info(w, c.resource_id, c.resource_type)
        key_main = {"RESOURCE": c.resource_id, "RESOURCE_TYPE": c.resource_type,
                    "CLUSTER": info["clusterId"]}[group]  # fmt: skip
        bucket = None if period is None else (c.day if period == "DAY" else c.day[:7] + "-01")
        fresh = {"secs": Decimal(0), "cost": Decimal(0), "info": info, "type": c.resource_type}
        row = buckets.setdefault((key_main, bucket), fresh)
        row["secs"] += c.seconds
        row["cost"] += c.cost
    out = []
    for (_key, bucket), row in sorted(buckets.items(), key=lambda kv: (kv[0][1] or "", kv[0][0])):
        info = row["info"]
        entry: dict[str, Any] = {
            "userId": w.user_id,
            "totalUsageHours": wire.money(row["secs"] / 3600),
            "totalCost": wire.money(row["cost"]),
            "resourceType": row["type"] if group != "CLUSTER" else None,
            "clusterId": info["clusterId"] if group != "RESOURCE_TYPE" else None,
            "resourceId": info["id"] if group == "RESOURCE" else None,
            "resourceName": info["name"] if group == "RESOURCE" else None,
            "quantity": info["quantity"] if group == "RESOURCE" else None,
            "vmConfiguration": info["vmConfiguration"] if group == "RESOURCE" else None,
            "storageType": "NVMe" if group == "RESOURCE" and row["type"] == "STORAGE" else None,
            "replicatedStorage": info["replicated"] if group == "RESOURCE" else None,
            "ipAddressType": "V4" if group == "RESOURCE" and row["type"] == "PUBLIC_IP" else None,
        }
        if bucket is not None:
            entry["periodStart"] = bucket
        if w.spec == SPEC_0_8:  # 0.8.210 declares these non-null (it only groups by resource)
            entry = {k: v for k, v in entry.items() if v is not None or k in _NULLABLE_08}
        out.append(entry)
    if q.one("format") == "csv":
        buf = io.StringIO()
        fields = sorted({k for e in out for k in e})
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(out)
        return SimResponse(200, buf.getvalue().encode(), {"content-type": "text/csv"})
    return answer(200, out)


_NULLABLE_08 = frozenset({"ipAddressType", "replicatedStorage", "storageType", "vmConfiguration"})


def _resource_info(w: CloudWorld, rid: str, rtype: str) -> dict[str, Any]:
    info: dict[str, Any] = {"id": rid, "name": "", "clusterId": "", "quantity": "1",
                            "vmConfiguration": None, "replicated": None}  # fmt: skip
    if rtype == "VM" and rid in w.vms:
        v = w.vms[rid]
        conf = w.catalog.config_by_id.get(v.configuration_id)
        if conf is not None and (w.spec == SPEC_0_10 or conf.since == SPEC_0_8):
            info["vmConfiguration"] = conf.slug
        info.update(name=v.name, clusterId=v.cluster_id)
    elif rtype == "STORAGE" and rid in w.storages:
        s = w.storages[rid]
        info.update(name=s.name, clusterId=s.cluster_id, quantity=str(s.volume_gb),
                    replicated=s.replicated)  # fmt: skip
    elif rtype == "PUBLIC_IP" and rid in w.public_ips:
        i = w.public_ips[rid]
        info.update(name=i.name, clusterId=i.cluster_id)
    return info
