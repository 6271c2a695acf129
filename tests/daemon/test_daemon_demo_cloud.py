"""`fluence-optimizer demo --api cloud`: the real daemon on the simulator's cloud face.

What the demo reads from the simulator (optimizer/daemon/demo_cloud.py) is checked
against VMs made over the cloud API as a client would make them; the end-to-end run is
the real CLI with a short horizon."""

from __future__ import annotations

import re
import sqlite3
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from optimizer.daemon import demo_cloud
from optimizer.daemon.demo import FleetCost, demo_config
from optimizer.sim import SimClock, Simulator
from tests.daemon.helpers import ROOT, demo_cli
from tests.sim.cloud.conftest import Cloud


def _web(sim: Simulator) -> FleetCost:
    [web] = [c for c in demo_cloud.fleet_costs(sim, demo_config("sqlite://", "cloud"))
             if c.fleet == "web"]  # fmt: skip
    return web


def test_cost_is_the_per_second_billing_of_vm_disk_and_ip_and_leftovers_are_counted() -> None:
    sim = Simulator(3, clock=SimClock.stepped(), **demo_cloud.sim_options())
    cloud = Cloud(sim)
    ours = cloud.create("web-a1")
    other = cloud.create("db-b2")  # another fleet's name: not web's cost
    sim.cloud.add_foreign_vm("web-manual")  # hand-made, even with web's prefix: not ours
    sim.advance(timedelta(hours=2))
    assert demo_cloud.left_behind(sim) == []
    web = _web(sim)
    vm = sim.cloud.vms[ours["id"]]
    disk, ip = sim.cloud.storages[vm.boot_disk or ""], sim.cloud.public_ips[vm.public_ip or ""]
    assert web.vms_now == 1 and vm.spent > 0 and disk.spent > 0 and ip.spent > 0
    assert web.actual == (vm.spent + disk.spent + ip.spent).quantize(Decimal("0.000001"))

    # terminated: the VM stops billing, its disk and IP do not - they are left behind
    assert cloud.http.post(f"/v2/vms/{ours['id']}/terminate").status_code == 200
    sim.advance(timedelta(hours=1))
    left = demo_cloud.left_behind(sim)
    assert left == [f"disk {disk.name}", f"public IP {ip.name}"]
    after = _web(sim)
    assert after.vms_now == 0 and after.actual > web.actual
    # deleted: nothing left; the hand-made VM and the other fleet's never counted
    assert cloud.http.post("/v1/storages/delete", json={"ids": [disk.id]}).status_code == 200
    assert cloud.http.post("/v1/public_ips/delete", json={"ids": [ip.id]}).status_code == 200
    sim.advance(timedelta(minutes=5))
    assert demo_cloud.left_behind(sim) == []
    assert other["name"] == "db-b2"


def test_config_demo_cloud_toml_is_the_packaged_copy_and_speaks_cloud() -> None:
    text = (ROOT / "config" / "demo-cloud.toml").read_text()
    assert text == (ROOT / "optimizer" / "data" / "demo-cloud.toml").read_text()
    cfg = demo_config("sqlite://", "cloud")
    assert cfg.api.generation == "cloud" and cfg.mode == "act"
    from optimizer.config import FleetPolicy

    assert cfg.fleets and all(f.policy == FleetPolicy() for f in cfg.fleets)


def test_demo_api_cloud_runs_the_daemon_and_leaves_nothing_behind(tmp_path: Path) -> None:
    """The real CLI, half a simulated day: both fleets created on the cloud face, the
    cost is what the simulator billed, the saving is measured, no disk or IP is left."""
    text = demo_cli("--api", "cloud", "--days", "0.5", "--seed", "5", "--dir", str(tmp_path))
    assert "API cloud" in text and "disks and IPs left behind: 0 " in text, text
    assert "deploy done: 5" in text, text
    total = re.search(r"total\s*│\s*│\s*\$([\d,.]+)\s*│\s*\$([\d,.]+)\s*│\s*(-?)\$([\d,.]+)", text)
    assert total, text
    cost, base = Decimal(total[1].replace(",", "")), Decimal(total[2].replace(",", ""))
    saved = Decimal(total[4].replace(",", "")) * (-1 if total[3] else 1)
    assert cost > 0 and base > 0
    assert abs(saved - (base - cost)) <= Decimal("0.01")  # each is rounded to the cent
    # the daemon's own journal agrees: every disk and IP it created is deleted or held by
    # a VM that still runs
    with sqlite3.connect(tmp_path / "demo.db") as con:
        rows = con.execute("SELECT vm_gone_at, deleted_at FROM fleet_resource").fetchall()
    assert len(rows) >= 10 and all(deleted or not gone for gone, deleted in rows), rows
