"""`fluence-optimizer backtest` end to end: CSV in → table, JSON, self-contained HTML;
bad input → one `error:` line and exit 2, no traceback."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

FLEET = """
[[fleets]]
name = "web"
instances = 2
os_image = "https://example.com/ubuntu.img"
ssh_keys = ["ops"]
[fleets.constraints]
configurations = ["box-small"]
[fleets.policy]
cooldown_epochs = 0
"""


@dataclass
class Out:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run `fluence-optimizer ARGS` in-process (the real entry point, exit code included)."""

    def go(*args: str) -> Out:
        from optimizer.cli.main import main

        try:
            main(list(args))
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
        cap = capsys.readouterr()
        return Out(code, cap.out, cap.err)

    return go


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """5 days, hourly: 'cheap' drops from 1.00 to 0.40 after day 1; 'steady' stays 0.80;
    'other' is another configuration the fleet may not use."""
    t0 = datetime(2026, 2, 1, tzinfo=UTC)
    lines = ["timestamp,offer_key,configuration,country,price_per_epoch_usd,capacity"]
    for h in range(5 * 24):
        ts = (t0 + timedelta(hours=h)).isoformat()
        lines.append(f"{ts},cheap,box-small,DE,{1.0 if h < 24 else 0.4},5")
        lines.append(f"{ts},steady,box-small,FR,0.80,5")
        lines.append(f"{ts},other,box-big,DE,0.10,5")
    csv = tmp_path / "prices.csv"
    csv.write_text("\n".join(lines) + "\n")
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(FLEET)
    return csv, fleet


def test_json_output_has_every_policy_with_its_figures(files, run_cli) -> None:  # type: ignore[no-untyped-def]
    csv, fleet = files
    out = run_cli("backtest", "--fleet-config", str(fleet), "--prices", str(csv), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    names = [p["policy"] for p in doc["policies"]]
    assert names == ["static", "greedy", "optimum", "planner"]
    by = {p["policy"]: p for p in doc["policies"]}
    # static: 2 VMs on 'steady' (0.80) for the whole run; never 'other' (wrong configuration)
    assert by["static"]["vm_epochs_per_offer"] == {"steady": 10}
    assert by["static"]["total_usd"] == "8.000000"
    assert "other" not in json.dumps(by)
    assert by["optimum"]["share_of_optimum_saving"] == 1.0
    opt, planner = by["optimum"], by["planner"]
    assert float(opt["total_usd"]) <= float(planner["total_usd"]) <= 8.0
    assert planner["migrations"] >= 1  # the 50 % drop clears the default thresholds


def test_epoch_steps_and_market_pricing(files, run_cli) -> None:  # type: ignore[no-untyped-def]
    """--step epoch keeps one snapshot per epoch (5 over 5 days; the last ends the run, so
    4 decision steps); --price-model market
    makes static's VMs follow 'steady' (flat 0.80), so static still costs 2 × 4 × 0.80."""
    csv, fleet = files
    out = run_cli("backtest", "--fleet-config", str(fleet), "--prices", str(csv), "--json",
                  "--step", "epoch", "--price-model", "market")  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["snapshots"] == 4 and doc["price_model"] == "market"
    by = {p["policy"]: p for p in doc["policies"]}
    assert by["static"]["total_usd"] == "6.400000"


def test_table_and_self_contained_html(files, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv, fleet = files
    report = tmp_path / "bt.html"
    out = run_cli(
        "backtest", "--fleet-config", str(fleet), "--prices", str(csv), "--out", str(report)
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    table = [ln for ln in lines if not ln.startswith("report written to ")]  # + a tmp path
    assert all(len(line) <= 80 for line in table), out.stdout
    assert any("optimum's" in line for line in lines)  # headers wrap, whole words
    assert f"report written to {report}" in out.stdout
    page = report.read_text()
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert "data:image/png;base64," in page
    assert 'src="http' not in page and "<script" not in page  # nothing fetched to view it
    for name in ("static", "greedy", "optimum", "planner"):
        assert f"<td>{name}</td>" in page


def test_policy_sets_run_the_planner_with_another_policy(files, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv, fleet = files
    eager = tmp_path / "eager.toml"
    eager.write_text(
        "[policy]\nmin_savings_pct = 1\ncooldown_epochs = 0\nalign_to_billing = false\n"
    )
    out = run_cli("backtest", "--fleet-config", str(fleet), "--prices", str(csv), "--json",
               "--policy-set", f"eager={eager}")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert [p["policy"] for p in json.loads(out.stdout)["policies"]][-1] == "eager"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prices", "{csv}", "--from-db"], "give exactly one of --from-db or --prices"),
        (["--prices", "{bad}"], "bad.csv:3: price_per_epoch_usd 'abc' is not a number"),
        (["--prices", "{csv}", "--since", "soon"], "is not a duration"),
        (["--prices", "{csv}", "--policy-set", "x"], "write it as NAME=FILE"),
        (["--prices", "{csv}", "--price-model", "spot"], "use deal, market, per-second"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(files, run_cli, tmp_path, args, message) -> None:  # type: ignore[no-untyped-def]
    csv, fleet = files
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "timestamp,offer_key,configuration,country,price_per_epoch_usd\n"
        "2026-01-01T00:00:00Z,a,box-small,DE,0.5\n"
        "2026-01-01T01:00:00Z,a,box-small,DE,abc\n"
    )
    args = [a.format(csv=csv, bad=bad) for a in args]
    out = run_cli("backtest", "--fleet-config", str(fleet), *args)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert message in out.stderr
    assert all(line.startswith("error: ") for line in out.stderr.strip().splitlines())


def test_history_from_the_database(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    """--from-db reads what snapshots stored (the simulator's offers, three hours)."""
    from optimizer.fluence.models import Offer
    from optimizer.sim import Simulator
    from optimizer.store.engine import open_store
    from optimizer.store.ingest import ingest_snapshot

    url = f"sqlite:///{tmp_path / 'o.db'}"
    engine = open_store(url)
    sim = Simulator(seed=5, offers=30)
    for _ in range(4):
        ingest_snapshot(engine, [Offer.model_validate(o) for o in sim.offers(None)], sim.now())
        sim.advance(timedelta(hours=1))
    engine.dispose()
    fleet = tmp_path / "one.toml"
    fleet.write_text(
        'name = "api"\ninstances = 1\nos_image = "https://example.com/a.img"\nssh_keys = ["k"]\n'
    )
    out = run_cli("--database", url, "backtest", "--fleet-config", str(fleet), "--from-db",
                  "--since", "3650d", "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["snapshots"] == 3 and doc["fleet"] == "api"


def test_the_readme_command_on_the_example_config_fleets(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    """Issue 20: `backtest --from-db` with `--config` only used to demand --fleet-config;
    then `min_tier = 3` excluded every offer (the store gave no tiers); then the capacity
    fleet stopped the run. Now: fleets from --config, tiers from the store, the capacity
    fleet skipped with a note, the rest backtested."""
    from optimizer.fluence.models import Offer
    from optimizer.sim import Simulator
    from optimizer.store.engine import open_store
    from optimizer.store.ingest import ingest_snapshot

    url = f"sqlite:///{tmp_path / 'o.db'}"
    engine = open_store(url)
    sim = Simulator(seed=7, offers=80)
    for _ in range(4):
        ingest_snapshot(engine, [Offer.model_validate(o) for o in sim.offers(None)], sim.now())
        sim.advance(timedelta(hours=1))
    engine.dispose()
    example = (Path(__file__).parents[2] / "config" / "optimizer.example.toml").read_text()
    cfg = tmp_path / "optimizer.toml"
    cfg.write_text(example)
    out = run_cli(
        "--config", str(cfg), "--database", url, "backtest", "--from-db", "--since", "3650d",
        "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["fleet"] == "web" and doc["snapshots"] == 3
    assert "note: fleet batch is sized by capacity" in out.stderr and "skipped" in out.stderr
    # min_tier = 3 was applied with the recorded tiers: fewer offers match than without it
    tiers = {int(o["datacenter"]["tier"]) for o in sim.offers(None)}
    assert min(tiers) < 3 <= max(tiers)
    used = {k for p in doc["policies"] for k in p["vm_epochs_per_offer"]}
    tier_of = {Offer.model_validate(o).offer_key: o["datacenter"]["tier"] for o in sim.offers(None)}
    assert used and all(tier_of[k] >= 3 for k in used if k in tier_of)


def test_a_history_without_tiers_skips_min_tier_with_a_note(files, run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    csv, fleet = files
    fleet.write_text(FLEET.replace("[fleets.policy]", "min_tier = 3\n[fleets.policy]"))
    out = run_cli("backtest", "--fleet-config", str(fleet), "--prices", str(csv), "--json")
    assert out.returncode == 0, out.stderr
    assert (
        "the price history has no tiers: min_tier is not checked" in json.loads(out.stdout)["notes"]
    )


def test_only_capacity_fleets_is_one_line_and_exit_2(tmp_path: Path, files, run_cli) -> None:  # type: ignore[no-untyped-def]
    csv, fleet = files
    fleet.write_text(FLEET.replace("instances = 2\n", "") + "[fleets.capacity]\nvcpu = 4\n")
    out = run_cli("backtest", "--fleet-config", str(fleet), "--prices", str(csv))
    assert out.returncode == 2
    assert "no fleet sized by `instances` to backtest" in out.stderr


@pytest.fixture
def hourly_files(tmp_path: Path) -> tuple[Path, Path]:
    """The cloud's hourly price points for 2 days: 'cheap' 0.05/h that drops to 0.02/h after
    12 h, 'steady' 0.04/h; whole-VM extras are not in a CSV."""
    t0 = datetime(2026, 2, 1, tzinfo=UTC)
    lines = ["timestamp,offer_key,configuration,country,price_per_hour_usd,capacity"]
    for h in range(2 * 24 + 1):
        ts = (t0 + timedelta(hours=h)).isoformat()
        lines.append(f"{ts},cheap,box-small,DE,{0.05 if h < 12 else 0.02},5")
        lines.append(f"{ts},steady,box-small,FR,0.04,5")
    csv = tmp_path / "hourly.csv"
    csv.write_text("\n".join(lines) + "\n")
    fleet = tmp_path / "fleet.toml"
    fleet.write_text(FLEET)
    return csv, fleet


def test_per_second_on_hourly_points(hourly_files, run_cli) -> None:  # type: ignore[no-untyped-def]
    """--price-model per-second bills every second at the hourly price: static keeps 2 VMs
    on 'steady' for 48 h = 2 × 48 × 0.04; the optimum moves both to 'cheap' at the drop
    (12 h at 0.04, then 0.02 with a 10 min overlap); VM-hours instead of VM-epochs."""
    csv, fleet = hourly_files
    out = run_cli("backtest", "--fleet-config", str(fleet), "--prices", str(csv), "--json",
                  "--price-model", "per-second")  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["price_model"] == "per-second"
    by = {p["policy"]: p for p in doc["policies"]}
    assert by["static"]["total_usd"] == "3.840000000"
    assert by["static"]["vm_hours_per_offer"] == {"steady": 96}
    # 2 × (12 h × 0.04 + 1/6 h × 0.04 overlap + 36 h × 0.02) = 2.413333…
    assert by["optimum"]["total_usd"] == "2.413333333"
    assert by["optimum"]["migrations"] == 2
    assert doc["lower_bound_usd"] == by["optimum"]["total_usd"]  # one VM's plan is exact
    assert float(by["planner"]["total_usd"]) < 3.84


def test_epoch_billing_of_hourly_points_charges_24_hours(hourly_files, run_cli) -> None:  # type: ignore[no-untyped-def]
    """The deal model on hourly points: an epoch costs 24 × the hourly price (static: 2 VMs
    × 2 epochs × 0.96)."""
    csv, fleet = hourly_files
    out = run_cli("backtest", "--fleet-config", str(fleet), "--prices", str(csv), "--json")
    assert out.returncode == 0, out.stderr
    by = {p["policy"]: p for p in json.loads(out.stdout)["policies"]}
    assert by["static"]["total_usd"] == "3.840000"
