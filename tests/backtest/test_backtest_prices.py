"""Price input: CSV rows checked with their line numbers (the run stops rather than
guessing), any configuration names, optional columns; the store path through
`price_observations`; the dense Market layout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.backtest.prices import Market, epoch_steps, from_store, load_csv
from optimizer.errors import ConfigError

HEADER = "timestamp,offer_key,configuration,country,price_per_epoch_usd\n"


def _write(tmp_path: Path, text: str, name: str = "prices.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _good_rows(n: int) -> str:
    return "".join(
        f"2026-01-01T{h:02d}:00:00Z,off-{h % 3},my big box,de,{0.3 + h / 100:.2f}\n"
        for h in range(n)
    )


def test_bad_price_is_reported_with_file_and_line(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Line 17 (header = line 1) has price 'abc': exactly one line names file, line, field."""
    rows = _good_rows(15) + "2026-01-02T00:00:00Z,off-9,x,DE,abc\n"
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, HEADER + rows)
    with pytest.raises(ConfigError) as e:
        load_csv("prices.csv")
    assert str(e.value) == "prices.csv:17: price_per_epoch_usd 'abc' is not a number"


def test_every_bad_row_is_reported_and_blank_lines_keep_numbering(tmp_path: Path) -> None:
    text = (
        HEADER
        + "2026-01-01T00:00:00Z,a,c1,DE,0.5\n"  # 2
        + "\n"  # 3 (blank: skipped, still counted)
        + "yesterday,a,c1,DE,0.5\n"  # 4
        + "2026-01-01T01:00:00Z,,c1,DE,0.5\n"  # 5
        + "2026-01-01T01:00:00Z,a,c1,Germany,-1\n"  # 6
        + "2026-01-01T02:00:00Z,a,c1,DE\n"  # 7
        + "2026-01-01T00:00:00+00:00,a,c1,DE,0.6\n"  # 8 duplicate of line 2
    )
    p = _write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_csv(p)
    lines = str(e.value).splitlines()
    assert lines == [
        f"{p}:4: timestamp 'yesterday' is not an ISO 8601 time",
        f"{p}:5: offer_key is empty",
        f"{p}:6: country 'Germany' is not a two-letter country code",
        f"{p}:6: price_per_epoch_usd '-1' is negative",
        f"{p}:7: expected 5 fields, found 4",
        f"{p}:8: offer 'a' at 2026-01-01T00:00:00+00:00 appears twice (also line 2)",
    ]


def test_missing_column_and_missing_file_and_empty_file(tmp_path: Path) -> None:
    p = _write(tmp_path, "timestamp,offer_key,country,price_per_epoch_usd\n")
    with pytest.raises(ConfigError, match=r"prices.csv:1: missing column\(s\) configuration"):
        load_csv(p)
    with pytest.raises(ConfigError, match="price file not found"):
        load_csv(tmp_path / "nope.csv")
    with pytest.raises(ConfigError, match="the file is empty"):
        load_csv(_write(tmp_path, ""))
    with pytest.raises(ConfigError, match="no price rows"):
        load_csv(_write(tmp_path, HEADER))


def test_optional_columns_any_configuration_name_and_exact_prices(tmp_path: Path) -> None:
    """Optional capacity/vcpu/ram_gb/tier in any column order; empty = unknown; prices
    kept exactly as integer micro-USD; naive timestamps are UTC."""
    text = (
        "price_per_epoch_usd,tier,country,configuration,offer_key,timestamp,capacity\n"
        "0.30698,3,fr,GPU monster (h100),k1,2026-01-01 00:00,4\n"
        "0.1,,FR,GPU monster (h100),k2,2026-01-01 00:00,\n"
    )
    h = load_csv(_write(tmp_path, text))
    f = h.frame
    assert list(f["price_micros"]) == [306_980, 100_000]
    assert list(f["configuration"]) == ["GPU monster (h100)"] * 2
    assert list(f["country"]) == ["FR", "FR"]
    assert list(f["tier"]) == [3, -1]
    assert list(f["capacity"]) == [4, -1]
    assert f["ts"].iloc[0] == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ConfigError, match=r":3: tier 7 is out of range"):
        load_csv(_write(tmp_path, text.replace(",,FR", ",7,FR")))


def test_market_layout_marks_unlisted_offers_and_carries_prices_forward(tmp_path: Path) -> None:
    text = HEADER + (
        "2026-01-01T00:00:00Z,a,c,DE,1.0\n"
        "2026-01-01T00:00:00Z,b,c,DE,2.0\n"
        "2026-01-01T01:00:00Z,b,c,DE,2.5\n"
        "2026-01-02T00:30:00Z,a,c,DE,0.5\n"
    )
    m = Market.build(load_csv(_write(tmp_path, text)))
    assert m.price.tolist() == [[1_000_000, 2_000_000], [-1, 2_500_000], [500_000, -1]]
    assert m.ffill_price.tolist() == [
        [1_000_000, 2_000_000],
        [1_000_000, 2_500_000],
        [500_000, 2_500_000],
    ]
    assert epoch_steps(m.times, 86_400).tolist() == [0, 2]
    assert m.price_asof(0, int(m.times[1]) + 60) == 1_000_000


def test_history_from_the_store(db_url: str) -> None:
    """Snapshots of the simulator's offers ingested into the store come back as the same
    prices, per offer and snapshot."""
    from optimizer.sim import Simulator
    from optimizer.store.engine import open_store
    from optimizer.store.ingest import ingest_snapshot

    engine = open_store(db_url)
    sim = Simulator(seed=3, offers=12)
    t0 = sim.now()
    seen: dict[tuple[datetime, str], float] = {}
    for _ in range(3):
        from optimizer.fluence.models import Offer

        offers = [Offer.model_validate(o) for o in sim.offers(None)]
        ingest_snapshot(engine, offers, sim.now())
        for o in offers:
            seen[(sim.now(), o.offer_key)] = float(o.price)
        sim.advance(timedelta(hours=1))
    h = from_store(engine, t0 - timedelta(minutes=1))
    got = {(r.ts.to_pydatetime(), r.offer_key): r.price_micros / 1e6 for r in h.frame.itertuples()}
    assert got.keys() == seen.keys()
    assert np.allclose([got[k] for k in seen], list(seen.values()))
    engine.dispose()


def test_an_hourly_csv_is_a_history_of_hourly_points(tmp_path: Path) -> None:
    csv = _write(tmp_path, HEADER.replace("epoch", "hour") + _good_rows(3))
    h = load_csv(csv)
    assert h.unit == "hour"
    m = Market.build(h)
    assert m.period_s == 3600 and m.hourly
    # charged per epoch, an hourly point is 24 of them (exact)
    daily = np.where(m.price >= 0, m.price * 24, -1)  # unlisted stays unlisted
    assert (m.per_epoch().price == daily).all() and m.per_epoch().period_s == 86_400
    bad = _write(tmp_path, HEADER.replace("epoch", "hour") + "2026-01-01,o,c,DE,x\n", "b.csv")
    with pytest.raises(ConfigError, match=r"b.csv:2: price_per_hour_usd 'x' is not a number"):
        load_csv(bad)


def test_a_csv_with_both_price_columns_is_refused(tmp_path: Path) -> None:
    csv = _write(tmp_path, HEADER.strip() + ",price_per_hour_usd\n")
    with pytest.raises(ConfigError, match=r"prices.csv:1: give one of .* not both"):
        load_csv(csv)


def _frame(units: list[str], **extra: list[float | None]) -> pd.DataFrame:

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    return pd.DataFrame(
        {
            "ts": [t0 + timedelta(hours=i) for i in range(len(units))],
            "offer_key": "a",
            "configuration": "cpu-2",
            "country": "DE",
            "price_usd": 0.05,
            "price_unit": units,
            **extra,
        }
    )


def test_a_history_mixing_epoch_and_hourly_prices_names_the_change() -> None:
    from optimizer.backtest.prices import from_frame

    with pytest.raises(ConfigError, match=r"mixes prices per epoch and per hour .* until "
                       r"2026-01-01 01:00 UTC.*--since"):  # fmt: skip
        from_frame(_frame(["epoch", "epoch", "hour"]), "store")
    assert from_frame(_frame(["hour", "hour"]), "store").unit == "hour"


def test_whole_vm_prices_add_the_boot_disk_and_the_public_ip_where_known() -> None:
    """0.05/h VM + 25 GB × 0.0001/GB-h + 0.005/h IP = 0.0575/h; where the disk price is
    unknown only the IP is added; without the IP, only the disk."""
    from optimizer.backtest.prices import from_frame

    f = _frame(["hour"] * 3, disk_price_per_gb=[0.0001, None, 0.0001],
               public_ip_price=[0.005, 0.005, 0.005])  # fmt: skip
    m = Market.build(from_frame(f, "store"))
    whole, note = m.whole_vm(25, public_ip=True)
    assert whole.price[:, 0].tolist() == [57_500, 55_000, 57_500]
    assert note == "prices are whole VMs: the VM plus a 25 GB boot disk and a public IP"
    no_ip, _ = m.whole_vm(25, public_ip=False)
    assert no_ip.price[:, 0].tolist() == [52_500, 50_000, 52_500]
    # per epoch, the hourly extras count 24 times
    assert m.per_epoch().whole_vm(25, True)[0].price[0, 0] == 57_500 * 24
    plain = Market.build(from_frame(_frame(["hour"] * 2), "store"))
    assert plain.whole_vm(25, True) == (plain, None)


def test_the_integral_of_prices_is_exact_between_any_two_seconds() -> None:
    from optimizer.backtest.prices import from_frame

    f = _frame(["hour"] * 3)
    f["price_usd"] = [0.36, 0.72, 0.18]
    m = Market.build(from_frame(f, "store"))
    t0 = int(m.times[0])
    assert m.cost_between(0, t0 + 1800, t0 + 4500) == 360_000 * 1800 + 720_000 * 900
    assert m.cost_between(0, t0 + 7000, t0 + 9000) == 720_000 * 200 + 180_000 * 1800
    assert m.cost_between(0, t0 + 10, t0 + 10) == 0
