"""Market moves on the cloud face (optimizer/sim/cloud/moves.py): promotions cut a
cluster's hourly prices for a while, other tenants make availability come and go; off by
default, and a function of (seed, hour) only."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from optimizer.sim import SimClock, Simulator
from optimizer.sim.cloud import CloudConfig
from optimizer.sim.cloud.moves import MAX_FREE, MarketMoves

MOVES = MarketMoves(promotion_rate=1 / 3, capacity_churn=0.05)


def _sim(moves: MarketMoves | None = None) -> Simulator:
    cfg = CloudConfig() if moves is None else CloudConfig(moves=moves)
    return Simulator(7, clock=SimClock.stepped(), cloud=cfg)


def _hourly(sim: Simulator, hours: int) -> list[dict[tuple[str, str], Decimal]]:
    out = []
    for _ in range(hours):
        sim.advance(timedelta(hours=1))
        out.append(dict(sim.cloud.catalog.vm_prices()))
    return out


def test_default_moves_nothing() -> None:
    """The default world is the one every other test and benchmark measured."""
    plain, off = _sim(), _sim(MarketMoves())
    capacity = {cl.id: dict(cl.capacity) for cl in plain.cloud.catalog.clusters}
    assert _hourly(plain, 72) == _hourly(off, 72)
    assert {cl.id: dict(cl.capacity) for cl in plain.cloud.catalog.clusters} == capacity
    assert not plain.cloud.catalog.moves.promotions


def test_a_promotion_cuts_every_price_of_its_cluster_then_ends() -> None:
    sim, plain = _sim(MOVES), _sim()
    seen: dict[str, set[float]] = {}
    ended = False
    for _ in range(24 * 8):
        sim.advance(timedelta(hours=1))
        plain.advance(timedelta(hours=1))
        moving, still = sim.cloud.catalog, plain.cloud.catalog
        promos = dict(moving.moves.promotions)
        for (cl, conf), price in moving.vm_prices().items():
            base = still.vm_prices()[(cl, conf)]
            ratio = float(price / base)
            if cl in promos:
                assert ratio == pytest.approx(promos[cl][0], abs=0.0006 / float(base))
                assert 0.6 <= ratio <= 0.85
                seen.setdefault(cl, set()).add(promos[cl][0])
            else:
                assert price == base
        ended = ended or any(cl not in promos for cl in seen)
    assert len(seen) >= 3 and ended


def test_capacity_comes_and_goes_within_bounds(sim_http: tuple[Simulator, httpx.Client]) -> None:
    """Other tenants' churn shows in the cluster resources the API lists as available."""
    sim, http = sim_http
    cl = sim.cloud.catalog.clusters[0]
    for conf in cl.configurations:  # sold out: another tenant will free one
        sim.cloud.set_capacity(cl.id, conf, 0)
    listed = set()
    for _ in range(24 * 4):
        sim.advance(timedelta(hours=1))
        assert all(0 <= n <= MAX_FREE for c in sim.cloud.catalog.clusters
                   for n in c.capacity.values())  # fmt: skip
        got = http.get(f"/v1/clusters/{cl.id}/resources").json()
        available = got["availableConfigurations"]
        listed.add(frozenset(a["id"] for a in available))
    assert len(listed) >= 2  # availability changed at least once


def test_the_path_depends_on_seed_and_hour_only() -> None:
    """Reading prices at other moments does not change them."""
    a, b = _sim(MOVES), _sim(MOVES)
    for _ in range(40):
        a.advance(timedelta(hours=1))
        a.cloud.catalog.vm_prices()
    b.advance(timedelta(hours=40))
    assert a.cloud.catalog.vm_prices() == b.cloud.catalog.vm_prices()
    assert a.cloud.catalog.moves.promotions == b.cloud.catalog.moves.promotions


@pytest.fixture
def sim_http() -> tuple[Simulator, httpx.Client]:
    sim = _sim(MOVES)
    return sim, sim.http_client(api="cloud")


def test_knobs_are_checked() -> None:
    with pytest.raises(ValueError, match="promotion_depth"):
        MarketMoves(promotion_depth=(0.5, 0.2))
    with pytest.raises(ValueError, match="capacity_churn"):
        MarketMoves(capacity_churn=2)
