"""`fluence-optimizer demo --api cloud`: what the demo reads from the simulator's cloud face.

The daemon talks to the cloud face over HTTP exactly as to Fluence's API and is not told
it is a simulator; the demo, which built the simulator, reads the truth from it:

- the market moves (`MarketMoves`): a cluster runs a promotion about every six days
  (15-40 % off for one to four days) and other tenants take and free instances, so the
  cheapest allowed cluster changes and moving pays;
- the cost of a fleet: what the simulator billed, per second, for the fleet's VMs and the
  boot disks and public IPs created with them (while they existed, VM or not);
- what is left behind: disks and public IPs created with the daemon's VMs that still bill
  without a live VM. The demo lets the daemon run on for `DRAIN` after the run with
  migrations off, so the reaper's grace passes for the last moves, then counts them.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from optimizer.config import Config
from optimizer.daemon.demo import FleetCost
from optimizer.money import from_micros, to_micros

if TYPE_CHECKING:
    from optimizer.sim import Simulator
    from optimizer.sim.cloud import CloudVm

#: how long the daemon runs on after the run before leftovers are counted: time for a move
#: still in flight to finish and for the reaper's grace (daemon.reaper_grace, 5 minutes by
#: default) and the next tick to pass, with hours to spare
DRAIN = timedelta(hours=6)


def sim_options() -> dict[str, Any]:
    """The Simulator's keyword arguments for the cloud demo: a market that moves."""
    from optimizer.sim.cloud import CloudConfig
    from optimizer.sim.cloud.moves import MarketMoves

    return {"cloud": CloudConfig(moves=MarketMoves(promotion_rate=1 / 6, capacity_churn=0.01))}


def _fleet_vms(sim: Simulator, fleet: str) -> list[CloudVm]:
    """The VMs named after `fleet` that the daemon created (the hand-made ones excluded)."""
    return [v for v in sim.cloud.vms.values() if not v.foreign and v.name.startswith(f"{fleet}-")]


def fleet_costs(sim: Simulator, config: Config) -> list[FleetCost]:
    """Per fleet, what the simulator billed per second for its VMs and their disks and IPs
    so far, and how many of its VMs run now; `without_migrations` is left at 0."""
    with sim._lock:
        sim.sync()
        out = []
        for fleet in config.fleets:
            vms = _fleet_vms(sim, fleet.name)
            spent = sum((v.spent for v in vms), Decimal(0))
            spent += sum((r.spent for v in vms for r in sim.cloud.held_by(v)), Decimal(0))
            up = sum(1 for v in vms if v.status == "launched")
            out.append(FleetCost(fleet.name, up, from_micros(to_micros(spent)), Decimal(0)))
        return out


def left_behind(sim: Simulator) -> list[str]:
    """`kind name` of each disk or public IP created with one of the daemon's VMs that still
    bills without a live VM (`CloudWorld.orphans`)."""
    orphans = {id(r) for r in sim.cloud.orphans()}
    with sim._lock:
        ours = [r for v in sim.cloud.vms.values() if not v.foreign for r in sim.cloud.held_by(v)]
    return sorted(
        f"{'disk' if hasattr(r, 'volume_gb') else 'public IP'} {r.name}"
        for r in ours
        if id(r) in orphans
    )
