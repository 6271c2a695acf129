"""Snapshot ingest: offer keys, change detection, failed snapshots, concurrency."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.errors import StoreError
from optimizer.fluence.models import Offer, Vm
from optimizer.store.engine import create_engine, open_store
from optimizer.store.ingest import ingest_snapshot, ingest_vms, parse_offers
from optimizer.store.queries import (
    latest_market,
    launch_durations,
    price_observations,
    terminations_per_datacenter,
    vm_history,
)
from tests.store.conftest import wire_offer

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STEP = timedelta(minutes=15)


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_offer_key_ignores_field_order_and_unknown_fields() -> None:
    plain = wire_offer()
    shuffled = {k: plain[k] for k in reversed(list(plain))}
    shuffled["datacenter"] = dict(reversed(list(plain["datacenter"].items())))
    shuffled["resources"] = [
        {**dict(reversed(list(r.items()))), "surprise": 1} for r in reversed(plain["resources"])
    ]
    shuffled["brandNewField"] = {"x": [1, 2]}
    a, b = parse_offers([plain, shuffled])
    assert a.offer_key == b.offer_key
    # price, capacity and tier are not identity; datacenter and hardware are
    moved = parse_offers([wire_offer(price="9.9", capacity=0, tier=1)])[0]
    assert moved.offer_key == a.offer_key
    assert parse_offers([wire_offer(index=2)])[0].offer_key != a.offer_key
    assert parse_offers([wire_offer(arch="Zen4")])[0].offer_key != a.offer_key


def test_key_is_stable_across_snapshots_with_reordered_json(store: Engine) -> None:
    offers = [wire_offer(index=i) for i in range(3)]
    ingest_snapshot(store, json.dumps(offers), T0)
    reordered = json.dumps([{k: o[k] for k in sorted(o, reverse=True)} for o in offers[::-1]])
    summary = ingest_snapshot(store, reordered, T0 + STEP)
    assert (summary.seen, summary.new, summary.changed, summary.vanished) == (3, 0, 0, 0)
    assert _count(store, "offer") == 3
    assert _count(store, "offer_price") == 3  # unchanged offers cost no new rows


def test_change_detection_new_changed_vanished_reappeared(store: Engine) -> None:
    a, b, c = (wire_offer(index=i) for i in (1, 2, 3))
    s1 = ingest_snapshot(store, [a, b, c], T0)
    assert (s1.seen, s1.new, s1.changed, s1.vanished) == (3, 3, 0, 0)
    a2 = wire_offer(index=1, price="0.25")  # price moved
    b2 = wire_offer(index=2, capacity=4)  # capacity moved
    d = wire_offer(index=4)
    s2 = ingest_snapshot(store, [a2, b2, d], T0 + STEP)  # c vanished
    assert (s2.seen, s2.new, s2.changed, s2.vanished, s2.reappeared) == (3, 1, 2, 1, 0)
    s3 = ingest_snapshot(store, [a2, b2, c, d], T0 + 2 * STEP)
    assert (s3.new, s3.changed, s3.vanished, s3.reappeared) == (0, 0, 0, 1)

    obs = price_observations(store, since=T0)
    assert len(obs) == 3 + 3 + 4
    key_a = Offer.model_validate(a).offer_key
    key_c = Offer.model_validate(c).offer_key
    a_prices = obs[obs.offer_key == key_a].price_usd.tolist()
    assert a_prices == [0.30698, 0.25, 0.25]
    c_times = obs[obs.offer_key == key_c].ts.tolist()
    assert c_times == [T0, T0 + 2 * STEP]  # not listed in the middle snapshot
    b_caps = obs[obs.offer_key == Offer.model_validate(b).offer_key].capacity.tolist()
    assert b_caps == [5, 4, 4]


def test_failed_snapshot_leaves_no_trace(store: Engine) -> None:
    good = [wire_offer(index=i) for i in range(3)]
    ingest_snapshot(store, good, T0)
    before = {t: _count(store, t) for t in ("offer", "offer_price")}
    truncated = json.dumps([*good, wire_offer(index=9)])[:-40]
    s = ingest_snapshot(store, truncated, T0 + STEP)
    assert s.outcome == "failed" and "not valid JSON" in (s.error or "")
    wrong = [{"configuration": {"slug": "x"}, "datacenter": {}}]  # no price, nothing else
    s2 = ingest_snapshot(store, wrong, T0 + 2 * STEP)
    assert s2.outcome == "failed" and "all 1 offers malformed" in (s2.error or "")
    assert "offers[0.configuration.price]" in (s2.error or "")
    s3 = ingest_snapshot(store, b'{"error": "nope"}', T0 + 3 * STEP)
    assert s3.outcome == "failed" and "expected a list" in (s3.error or "")
    assert {t: _count(store, t) for t in ("offer", "offer_price")} == before
    with store.connect() as conn:
        outcomes = conn.execute(sa.text("SELECT outcome FROM snapshot ORDER BY id")).scalars()
        assert list(outcomes) == ["ok", "failed", "failed", "failed"]
    # failed snapshots don't break intervals nor count as observations
    s4 = ingest_snapshot(store, good, T0 + 4 * STEP)
    assert (s4.new, s4.changed, s4.vanished) == (0, 0, 0)
    assert len(price_observations(store, since=T0)) == 6


def test_one_malformed_offer_is_skipped_and_the_rest_stored(store: Engine) -> None:
    """A 17-character city code, a 20-character country or an offer without a price no
    longer fails the whole snapshot (issue 19, finding 9): those offers are left out and
    counted, the others are stored as usual."""
    ingest_snapshot(store, [wire_offer()], T0)
    bad = [
        wire_offer(index=3, city="ABCDEFGHIJKLMNOPQ"),
        wire_offer(index=4, country="X" * 20),
        {"configuration": {"slug": "cpu-2-ram-4gb-storage-25gb"}, "datacenter": {}},
    ]
    s = ingest_snapshot(store, [wire_offer(), wire_offer(index=2), *bad], T0 + STEP)
    assert (s.outcome, s.skipped, s.seen, s.new) == ("ok", 3, 2, 1)
    assert _count(store, "offer") == 2
    with store.connect() as conn:
        cities = conn.execute(sa.text("SELECT max(length(city)) FROM offer")).scalar_one()
    assert cities <= 16


def test_duplicate_keys_are_disambiguated_deterministically(store: Engine) -> None:
    dear = wire_offer(price="0.50")
    cheap = wire_offer(price="0.40")
    s1 = ingest_snapshot(store, [dear, cheap], T0)
    assert (s1.seen, s1.duplicates) == (2, 1)
    s2 = ingest_snapshot(store, [cheap, dear], T0 + STEP)  # other order: same keys
    assert (s2.new, s2.changed) == (0, 0)
    market = latest_market(store)
    key = Offer.model_validate(cheap).offer_key
    assert dict(zip(market.offer_key, market.price_usd, strict=True)) == {
        key: 0.40,
        f"{key}~2": 0.50,
    }


def test_snapshots_must_arrive_in_time_order(store: Engine) -> None:
    ingest_snapshot(store, [wire_offer()], T0)
    with pytest.raises(StoreError, match="time order"):
        ingest_snapshot(store, [wire_offer()], T0 - STEP)


def test_reader_sees_committed_state_while_a_write_is_open(tmp_path) -> None:
    """SQLite WAL: a reader is not blocked by an open write transaction and sees the last
    committed snapshot, never a half-written one."""
    url = f"sqlite:///{tmp_path / 'opt.db'}"
    writer = open_store(url)
    reader = open_store(url)
    try:
        ingest_snapshot(writer, [wire_offer(index=i) for i in range(5)], T0)
        in_write = threading.Event()
        release = threading.Event()
        seen: list[int] = []

        def write() -> None:
            with writer.begin() as conn:
                conn.execute(sa.text("DELETE FROM offer_price"))
                conn.execute(
                    sa.text(
                        "INSERT INTO snapshot (taken_at, duration_ms, offer_count, outcome) "
                        "VALUES ('2026-03-01 13:00:00', 0, 0, 'ok')"
                    )
                )
                in_write.set()
                release.wait(10)

        t = threading.Thread(target=write)
        t.start()
        assert in_write.wait(10)
        try:
            seen.append(len(price_observations(reader, since=T0)))
            seen.append(len(latest_market(reader)))
        finally:
            release.set()
            t.join(10)
        assert seen == [5, 5]
        assert len(latest_market(reader)) == 0  # after commit the reader sees the change
    finally:
        writer.dispose()
        reader.dispose()


def test_read_only_database_is_one_clear_error(tmp_path) -> None:
    path = tmp_path / "opt.db"
    open_store(f"sqlite:///{path}").dispose()
    ro = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        with pytest.raises(StoreError, match="read-only") as err:
            ingest_snapshot(ro, [wire_offer()], T0)
        assert "\n" not in str(err.value)
    finally:
        ro.dispose()


def _vm(status: str, **kw: object) -> Vm:
    base = {
        "id": "0xabc",
        "vmName": "web-1",
        "status": status,
        "pricePerEpoch": "0.30",
        "createdAt": "2026-03-01T11:55:00Z",
        "reservedBalance": "0.30",
        "totalSpent": "0.30",
        "datacenter": {"countryCode": "FR", "cityCode": "PAR", "cityIndex": 1},
    }
    return Vm.model_validate({**base, **kw})


def test_vm_observations_are_change_only_and_feed_launch_and_terminations(
    store: Engine,
) -> None:
    polls = [
        (T0, _vm("New")),
        (T0 + STEP, _vm("New")),
        (T0 + 2 * STEP, _vm("Active")),
        (T0 + 3 * STEP, _vm("Active")),
        (T0 + 4 * STEP, _vm("Active", totalSpent="0.60")),
        (T0 + 5 * STEP, _vm("Terminated", datacenter=None, totalSpent="0.60")),
    ]
    for at, vm in polls:
        ingest_vms(store, [vm], at)
    hist = vm_history(store, "0xabc")
    assert hist.status.tolist() == ["New", "Active", "Active", "Terminated"]
    assert hist.to_at.iloc[0] == T0 + STEP and hist.to_at.iloc[1] == T0 + 3 * STEP
    assert hist.spent_usd.tolist() == [0.3, 0.3, 0.6, 0.6]
    launches = launch_durations(store)
    assert launches.launch_seconds.tolist() == [2 * STEP.total_seconds()]
    per_dc = terminations_per_datacenter(store)
    assert per_dc.to_dict("records") == [{"datacenter": "FR-PAR-1", "terminations": 1}]


def test_money_is_stored_exactly(store: Engine) -> None:
    ingest_snapshot(store, [wire_offer(price="0.123457")], T0)
    with store.connect() as conn:
        micros = conn.execute(sa.text("SELECT price_micros FROM offer_price")).scalar_one()
    assert micros == 123457
    assert Decimal(micros) / 1_000_000 == Decimal("0.123457")


def test_ingest_pauses_the_garbage_collector_and_leaves_it_as_it_was(store: Engine) -> None:
    """The snapshot runs with the cyclic collector paused (its allocations would set off
    collections of the whole heap) and gives it back enabled, also when it fails; a
    collector the caller had disabled stays disabled."""
    import gc

    assert gc.isenabled()
    ingest_snapshot(store, json.dumps([wire_offer(index=1)]), T0)
    assert gc.isenabled()
    with pytest.raises(StoreError, match="older than the latest"):
        ingest_snapshot(store, json.dumps([wire_offer(index=2)]), T0 - STEP)
    assert gc.isenabled()
    gc.disable()
    try:
        ingest_snapshot(store, json.dumps([wire_offer(index=3)]), T0 + STEP)
        assert not gc.isenabled()
    finally:
        gc.enable()
