"""`fluence-optimizer snapshot` end to end: the real CLI against the simulator over
loopback HTTP, into a real database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from optimizer.cli.main import main
from optimizer.fluence.models import Offer
from optimizer.sim import FaultConfig, SimServer, Simulator, start_server

pytestmark = pytest.mark.http

LINE = re.compile(r"snapshot \d+: (\d+) offers seen, (\d+) new, (\d+) changed, (\d+) vanished")


def _serve(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimServer]:
    monkeypatch.setenv("FLUENCE_API_KEY", sim.api_key)
    with start_server(sim) as srv:
        yield srv


@pytest.fixture
def sim() -> Simulator:
    return Simulator(seed=3, offers=60)


@pytest.fixture
def server(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimServer]:
    yield from _serve(sim, monkeypatch)


def run(url: str, db_url: str, capsys: pytest.CaptureFixture[str], *args: str):  # type: ignore[no-untyped-def]
    try:
        main(["--api-url", url, "--database", db_url, *args])
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    else:
        code = 0
    out = capsys.readouterr()
    return code, out.out, out.err


def _market(sim: Simulator) -> dict[str, tuple[str, int]]:
    offers = [Offer.model_validate(o) for o in sim.offers(None)]
    return {o.offer_key: (str(o.price), o.capacity) for o in offers}


def test_snapshot_prints_seen_new_changed_vanished(
    server: SimServer, sim: Simulator, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _market(sim)
    code, out, err = run(server.url, db_url, capsys, "snapshot")
    assert code == 0, err
    assert LINE.search(out).groups() == (str(len(before)), str(len(before)), "0", "0")  # type: ignore[union-attr]

    sim.advance(timedelta(hours=30))  # prices move; some offers come and go
    after = _market(sim)
    changed = sum(1 for k, v in after.items() if k in before and before[k] != v)
    new = len(after.keys() - before.keys())
    vanished = len(before.keys() - after.keys())
    assert changed > 0
    code, out, err = run(server.url, db_url, capsys, "snapshot")
    assert code == 0, err
    got = tuple(int(x) for x in LINE.search(out).groups())  # type: ignore[union-attr]
    assert got == (len(after), new, changed, vanished)


def test_api_failure_is_recorded_as_a_failed_snapshot(
    db_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "optimizer.toml"
    config.write_text("[api]\nmax_retries = 0\n")
    monkeypatch.setenv("FLUENCE_OPTIMIZER_CONFIG", str(config))
    faults = FaultConfig(per_endpoint={"offers": 1.0}, weights={"malformed": 1.0})
    sim = Simulator(seed=3, offers=20, faults=faults)
    for srv in _serve(sim, monkeypatch):
        code, _out, err = run(srv.url, db_url, capsys, "snapshot")
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert code == 4 and len(errors) == 1 and "offers" in errors[0]
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT outcome, error FROM snapshot")).all()
            offers = conn.execute(sa.text("SELECT count(*) FROM offer")).scalar_one()
    finally:
        engine.dispose()
    assert [r[0] for r in rows] == ["failed"] and rows[0][1]
    assert offers == 0
