"""`plan`, `apply`, `check-config`, `fleets status|adopt|release` through the CLI, against
the simulator over loopback HTTP."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from optimizer.sim.server import SimServer
from tests.cli_run import run_main as run
from tests.executor.conftest import IMAGE, KEY, make_world

pytestmark = pytest.mark.http


def _toml(mode: str, url: str, db: str) -> str:
    return f"""
mode = "{mode}"
[api]
base_url = "{url}"
[database]
url = "{db}"
[[fleets]]
name = "web"
instances = 2
os_image = "{IMAGE}"
ssh_keys = ["{KEY}"]
open_ports = [{{ port = 80, protocol = "tcp" }}]
[fleets.policy]
cooldown_epochs = 0
max_migrations_per_epoch = 1
max_surge = 1
align_to_billing = false
"""


@pytest.fixture
def served(tmp_path, monkeypatch):
    w = make_world(tmp_path)
    server = SimServer(w.sim).start()
    monkeypatch.setenv("FLUENCE_API_KEY", w.sim.api_key)
    db = f"sqlite:///{tmp_path / 'cli.db'}"

    def config(mode: str) -> Path:
        p = tmp_path / f"{mode}.toml"
        p.write_text(_toml(mode, server.url, db))
        return p

    yield w, config
    server.close()
    w.engine.dispose()


def test_plan_explains_and_changes_nothing(served, capsys) -> None:
    w, config = served
    w.sim.add_offer(country="DE", price="0.30", capacity=5)
    code, out, _ = run(capsys, "-c", str(config("recommend")), "plan")
    assert code == 0
    assert "deploy" in out and "dry run" in out and "fleet has 0 of 2 VMs" in out
    code, out, _ = run(capsys, "-c", str(config("recommend")), "plan", "--json")
    data = json.loads(out)
    assert [a["kind"] for a in data[0]["actions"]] == ["deploy", "deploy"]
    assert data[0]["depositsNeededUsd"] == "1.20000"
    assert w.client.list_vms() == []


def test_apply_refuses_outside_act_mode(served, capsys) -> None:
    _w, config = served
    code, _out, err = run(capsys, "-c", str(config("recommend")), "apply", "--yes")
    assert code == 1 and err.startswith('error: mode is "recommend"')


def test_apply_without_yes_off_a_terminal_refuses(served, capsys) -> None:
    w, config = served
    w.sim.add_offer(country="DE", price="0.30", capacity=5)
    code, _out, err = run(capsys, "-c", str(config("act")), "apply")
    assert code == 1 and "--yes" in err
    assert w.client.list_vms() == []


def test_apply_carries_fleet_to_cheaper_offer_and_status_shows_savings(served, capsys) -> None:
    w, config = served
    cfg = str(config("act"))
    w.sim.add_offer(country="DE", price="1.00", capacity=5)
    for _ in range(3):
        assert run(capsys, "-c", cfg, "apply", "--yes")[0] == 0
        w.sim.advance(timedelta(minutes=10))
    assert len([v for v in w.client.list_vms() if v.status == "Active"]) == 2
    w.sim.add_offer(country="FR", price="0.40", capacity=5)
    for _ in range(4):
        assert run(capsys, "-c", cfg, "apply", "--yes")[0] == 0
        w.sim.advance(timedelta(minutes=10))
    active = [v for v in w.client.list_vms() if v.status == "Active"]
    # not aligned to billing: the old VM was deleted once the cheaper one was Active; one
    # migration per epoch (max_migrations_per_epoch = 1)
    assert sorted(str(v.price_per_epoch) for v in active) == ["0.40000", "1.00000"]
    code, out, _ = run(capsys, "-c", cfg, "fleets", "status")
    assert code == 0 and "2 owned VM(s); 1 migration(s), saving $0.6" in out, out


def test_adopt_and_release(served, capsys) -> None:
    w, config = served
    cfg = str(config("recommend"))
    w.sim.add_offer(country="DE", price="0.30", capacity=5)
    vm = w.sim.add_foreign_vm("legacy")
    code, out, _ = run(capsys, "-c", cfg, "fleets", "adopt", "web", vm.id)
    assert code == 0 and vm.id in out
    code, out, _ = run(capsys, "-c", cfg, "fleets", "status")
    assert "adopted" in out
    code, _out, err = run(capsys, "-c", cfg, "fleets", "adopt", "web", "0xnope")
    assert code == 1 and "no VM 0xnope" in err
    assert run(capsys, "-c", cfg, "fleets", "release", "web", vm.id)[0] == 0
    code, _out, err = run(capsys, "-c", cfg, "fleets", "adopt", "nofleet", vm.id)
    assert code == 2 and "no fleet named" in err


def test_check_config(tmp_path, capsys) -> None:
    good = tmp_path / "good.toml"
    good.write_text(_toml("recommend", "https://api.fluence.dev", "sqlite:///x.db"))
    code, out, _ = run(capsys, "-c", str(good), "check-config")
    assert code == 0 and "1 fleet(s)" in out
    bad = tmp_path / "bad.toml"
    bad.write_text(
        _toml("recommend", "https://api.fluence.dev", "sqlite:///x.db").replace(
            "instances = 2", "instances = -1"
        )
    )
    code, _out, err = run(capsys, "-c", str(bad), "check-config")
    assert code == 2 and "fleets[0].instances" in err and str(bad) in err


def test_apply_refuses_while_the_daemon_holds_the_database(served, capsys, tmp_path) -> None:
    from optimizer.daemon.lock import InstanceLock
    from optimizer.store.engine import open_store

    w, config = served
    w.sim.add_offer(country="DE", price="0.30", capacity=5)
    engine = open_store(f"sqlite:///{tmp_path / 'cli.db'}")
    with InstanceLock(engine):
        code, _out, err = run(capsys, "-c", str(config("act")), "apply", "--yes")
    engine.dispose()
    assert code == 1 and err.startswith("error: ")
    assert w.client.list_vms() == []


def test_plan_for_a_fleet_no_offer_satisfies_says_so(served, capsys) -> None:
    """Issue 20: a fleet with 0 of 2 VMs and nothing to deploy on used to be reported as
    "no actions: the fleet is where it should be"."""
    w, config = served
    w.sim.add_offer(country="DE", price="0.30", capacity=5)
    path = config("recommend")
    path.write_text(
        path.read_text().replace(
            "[fleets.policy]", 'constraints = { countries = ["aq"] }\n[fleets.policy]'
        )
    )
    code, out, err = run(capsys, "-c", str(path), "plan")
    assert code == 0, err
    assert "the fleet is where it should be" not in out
    assert "no actions possible: the fleet is not where it should be" in out
    assert (
        "note: no allowed offer: nothing on the market satisfies the fleet's constraints; 2 VM(s)"
        in out
    )


def test_no_config_file_says_where_it_looked(capsys, monkeypatch, tmp_path) -> None:
    """Issue 20: with no file at the default path, check-config said "ok ... 0 fleet(s)"."""
    # this machine may have an /etc/fluence-optimizer/optimizer.toml of its own
    monkeypatch.setattr("optimizer.config.default_config_path", lambda: None)
    for command in (["check-config"], ["plan"]):
        code, out, err = run(capsys, *command)
        assert code == 2 and out == "", (command, out)
        assert "no configuration file" in err and "/etc/fluence-optimizer/optimizer.toml" in err
        assert "$FLUENCE_OPTIMIZER_CONFIG" in err and "--config" in err
