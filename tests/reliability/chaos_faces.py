"""What the chaos harness (chaos.py) needs from each face of the simulator.

The daemon under test is told nothing but its configuration (`[api] generation`); the
harness, which built the simulator, reads the truth from it through one of these:

- `V3Face`: the seeds' marketplace (`/vms/v3`): offers with a deal price, VMs billed per
  epoch; a cheaper offer appears mid-run.
- `CloudFace`: the cloud generation (`/v2/vms`): clusters with an hourly price billed per
  second, VMs created with a boot disk and a public IP that outlive them; a cluster's
  price drops mid-run. Foreign VMs, disks and IPs exist from the start.

Kill points are named the same on both ("estimate", "deploy", "delete_vms",
"delete_resources", "list_vms", "offers"), so the harness aims them alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from optimizer.fluence.models import Constraints, Offer
from optimizer.sim import Simulator
from optimizer.sim.app import ROUTES
from optimizer.sim.faults import FaultConfig
from optimizer.sim.simulator import SimConfig

FLEET = "web"


@dataclass(frozen=True)
class VmView:
    """A fleet VM as the harness compares them on both faces."""

    id: str
    name: str
    status: str  # the face's own spelling
    price: Decimal  # per epoch (v3) or per hour (cloud): only compared within a face
    created_at: datetime
    ended_at: datetime | None
    running: bool  # exists and counts towards the footprint
    active: bool  # in service


def _v3_view(v: Any) -> VmView:
    return VmView(v.id, v.name, v.status, v.price, v.created_at, v.ended_at, v.running,
                  v.status == "Active")  # fmt: skip


class V3Face:
    api = "marketplace-v3"
    configuration = "cpu-2-ram-4gb-storage-25gb"
    #: the kill points inside requests: (endpoint, before|after it takes effect)
    request_points = (
        ("estimate", "before"),
        ("deploy", "before"),
        ("deploy", "after"),
        ("delete_vms", "before"),
        ("delete_vms", "after"),
        ("list_vms", "after"),
        ("offers", "after"),
    )
    mutating = ("deploy", "delete_vms")
    has_resources = False

    def config_lines(self) -> str:
        return ""

    def make_sim(self, seed: int, clock: object, offers: int, faults: FaultConfig) -> Simulator:
        sim = Simulator(
            seed,
            clock=clock,  # type: ignore[arg-type]
            offers=offers,
            faults=faults,
            config=SimConfig(termination_rate=0.0),
        )
        # foreign VMs: one even carries the fleet's name prefix
        sim.add_foreign_vm(
            "web-manual", constraints=Constraints(basic_configuration=self.configuration)
        )
        sim.add_foreign_vm("db-primary")
        return sim

    def endpoint(self, method: str, path: str) -> str | None:
        return ROUTES.get((method.upper(), "/" + path.strip("/")))

    def foreign(self, sim: Simulator) -> Any:
        return {v.id: (v.status, list(v.ports), v.name) for v in sim.vms.values() if v.foreign}

    def fleet_vms(self, sim: Simulator) -> list[VmView]:
        with sim._lock:
            sim.sync()
            return [
                _v3_view(v)
                for v in sim.vms.values()
                if not v.foreign and v.name.startswith(FLEET + "-")
            ]

    def spend(self, sim: Simulator) -> Decimal:
        with sim._lock:
            sim.sync()
            return sum(
                (v.spent for v in sim.vms.values()
                 if not v.foreign and v.name.startswith(FLEET + "-")),
                Decimal(0),
            )  # fmt: skip

    def accrued(self, sim: Simulator, end: datetime) -> Decimal:
        """Σ deal price × running time (in epochs) until `end`: unlike the billed spend,
        it does not jump by a whole epoch at each billing time, so two runs whose deploys
        happened minutes apart compare fairly."""
        total = Decimal(0)
        for v in self.fleet_vms(sim):
            stop = min(v.ended_at or end, end)
            secs = max((stop - v.created_at).total_seconds(), 0.0)
            total += v.price * Decimal(str(secs)) / Decimal(86400)
        return total.quantize(Decimal("0.000001"))

    def add_cheap_offer(self, sim: Simulator) -> None:
        """A clearly cheaper eligible offer appears: the fleet should migrate onto it."""
        prices = [self._offer(o).price for o in self._eligible(sim)]
        low = min(prices) if prices else Decimal("0.5")
        sim.add_offer(configuration=self.configuration, country="NL",
                      price=str(low * Decimal("0.6")), capacity=8)  # fmt: skip

    def terminate(self, sim: Simulator, vm_id: str) -> None:
        sim.terminate(vm_id)

    def cheapest_slots(self, sim: Simulator, n: int, avoid: frozenset[str]) -> list[Decimal]:
        """The `n` cheapest prices the fleet could hold now: free capacity on eligible
        offers at today's price, plus the slot each running fleet VM occupies at its own
        (deal) price. Offers in `avoid` (datacenters that failed to launch a VM of this
        fleet in the last epoch, which the planner avoids by design) are not eligible."""
        slots = [v.price for v in self.fleet_vms(sim) if v.running]
        for raw in self._eligible(sim):
            o = self._offer(raw)
            if o.datacenter.label in avoid:
                continue
            slots += [o.price] * min(o.capacity, n)
        return sorted(slots)[:n]

    def late_resources(self, sim: Simulator, due: Callable[[datetime], datetime]) -> list[str]:
        return []  # no disk or IP outlives a VM here

    def after_vm_spend(self, sim: Simulator) -> Decimal:
        return Decimal(0)

    def lateness(self, sim: Simulator, calm: datetime) -> list[tuple[str, timedelta]]:
        return []

    def _eligible(self, sim: Simulator) -> list[dict[str, Any]]:
        return sim.offers(Constraints(basic_configuration=self.configuration))

    @staticmethod
    def _offer(raw: dict[str, Any]) -> Offer:
        return Offer.model_validate(raw)


class CloudFace:
    api = "cloud"
    configuration = "cpu-regular-2vcpu-4gb"
    request_points = (
        ("estimate", "before"),
        ("deploy", "before"),
        ("deploy", "after"),
        ("delete_vms", "before"),
        ("delete_vms", "after"),
        ("delete_resources", "before"),
        ("delete_resources", "after"),
        ("list_vms", "after"),
        ("offers", "after"),
    )
    mutating = ("deploy", "delete_vms", "delete_resources")
    has_resources = True
    #: cloud endpoint → the harness's kill point name
    NAMES: ClassVar[dict[str, str]] = {
        "cloud.prices_cost": "estimate",
        "cloud.create_vm": "deploy",
        "cloud.terminate_vm": "delete_vms",
        "cloud.delete_storages": "delete_resources",
        "cloud.delete_storage": "delete_resources",
        "cloud.delete_public_ips": "delete_resources",
        "cloud.delete_public_ip": "delete_resources",
        "cloud.list_vms": "list_vms",
        "cloud.prices_vm": "offers",
    }

    def config_lines(self) -> str:
        return 'generation = "cloud"\n'

    def make_sim(self, seed: int, clock: object, offers: int, faults: FaultConfig) -> Simulator:
        from optimizer.sim.cloud import CloudConfig

        sim = Simulator(
            seed,
            clock=clock,  # type: ignore[arg-type]
            offers=offers,
            faults=faults,
            cloud=CloudConfig(termination_rate=0.0),
        )
        w = sim.cloud
        # foreign VMs (one with the fleet's name prefix, in the cheapest cluster), and a
        # detached disk and IP made by hand: the reaper must never touch them
        cheapest, _ = w.cheapest(self.configuration)
        w.add_foreign_vm("web-manual", cluster_id=cheapest.id, configuration=self.configuration)
        w.add_foreign_vm("db-primary")
        w.add_foreign_storage("web-scratch", cluster_id=cheapest.id)
        w.add_foreign_public_ip("spare-ip")
        return sim

    def endpoint(self, method: str, path: str) -> str | None:
        from optimizer.sim.cloud.routes import ROUTES as CLOUD_ROUTES

        path = "/" + path.strip("/")
        for r in CLOUD_ROUTES:
            if r.method == method.upper() and r.regex.match(path):
                return self.NAMES.get(r.endpoint, r.endpoint)
        return None

    def foreign(self, sim: Simulator) -> Any:
        w = sim.cloud
        with sim._lock:
            vms = {v.id: (v.status, v.name, v.public_ip, v.boot_disk) for v in w.vms.values()
                   if v.foreign}  # fmt: skip
            held = {i for v in w.vms.values() if v.foreign for i in (v.boot_disk, v.public_ip)}
            disks = {s.id: (s.status, s.name) for s in w.storages.values()
                     if s.id in held or s.name == "web-scratch"}  # fmt: skip
            ips = {i.id: (i.status, i.name) for i in w.public_ips.values()
                   if i.id in held or i.name == "spare-ip"}  # fmt: skip
        return vms, disks, ips

    def fleet_vms(self, sim: Simulator) -> list[VmView]:
        from optimizer.sim.cloud.resources import VM_BILLED

        w = sim.cloud
        with sim._lock:
            sim.sync()
            return [
                VmView(
                    v.id,
                    v.name,
                    v.status,
                    w.vm_hourly(v),
                    v.created_at,
                    self._ended(v),
                    running=v.status in VM_BILLED,
                    active=v.status == "launched",
                )
                for v in w.vms.values()
                if not v.foreign and v.name.startswith(FLEET + "-")
            ]

    def spend(self, sim: Simulator) -> Decimal:
        """What the simulator billed, per second, for the fleet's VMs and everything
        created with them (disks and IPs bill until deleted, VM or not)."""
        w = sim.cloud
        with sim._lock:
            sim.sync()
            total = Decimal(0)
            for v in w.vms.values():
                if v.foreign or not v.name.startswith(FLEET + "-"):
                    continue
                total += v.spent + sum((r.spent for r in sim.cloud.held_by(v)), Decimal(0))
            return total.quantize(Decimal("0.000001"))

    def accrued(self, sim: Simulator, end: datetime) -> Decimal:
        """Billing is per second already: the spend is pro rata."""
        return self.spend(sim)

    def add_cheap_offer(self, sim: Simulator) -> None:
        """An allowed cluster drops its price well below the cheapest, with room for the
        fleet: the fleet should move there."""
        w = sim.cloud
        cheapest, low = w.cheapest(self.configuration)
        conf = w.catalog.configuration(self.configuration)
        assert conf is not None
        others = sorted(
            (p, cl.id)
            for cl in w.catalog.clusters
            if cl.id != cheapest.id and (p := w.catalog.vm_price(cl.id, conf.id)) is not None
        )
        target = others[0][1]
        w.set_price(target, self.configuration, low * Decimal("0.6"))
        w.set_capacity(target, self.configuration, 8)

    def terminate(self, sim: Simulator, vm_id: str) -> None:
        sim.cloud.provider_terminate(vm_id)

    def cheapest_slots(self, sim: Simulator, n: int, avoid: frozenset[str]) -> list[Decimal]:
        """The `n` cheapest hourly prices the fleet could hold now: free capacity in the
        clusters selling the configuration, plus each running fleet VM's cluster price
        (a VM pays its cluster's current price). Clusters in `avoid` are not eligible."""
        w = sim.cloud
        conf = w.catalog.configuration(self.configuration)
        assert conf is not None
        slots = [v.price for v in self.fleet_vms(sim) if v.running]
        with sim._lock:
            for cl in w.catalog.clusters:
                price = w.catalog.vm_price(cl.id, conf.id)
                if price is None or cl.id in avoid or cl.datacenter.label in avoid:
                    continue
                slots += [price] * min(cl.capacity.get(conf.id, 0), n)
        return sorted(slots)[:n]

    def late_resources(self, sim: Simulator, due: Callable[[datetime], datetime]) -> list[str]:
        """Disks and IPs created with a fleet VM that still billed (or were deleted) after
        `due(when their VM ended)`."""
        return sorted(
            f"{name}: {gone - due(ended)} late"
            for name, ended, gone, _ in self._billing_ends(sim)
            if gone > due(ended)
        )

    def lateness(self, sim: Simulator, calm: datetime) -> list[tuple[str, timedelta]]:
        """(name, how long it billed after max(its VM's end, `calm`)) for each disk and IP
        created with an ended fleet VM; `calm` = the run's start measures from the VM's end."""
        return sorted(
            (name, gone - max(ended, calm)) for name, ended, gone, _ in self._billing_ends(sim)
        )

    def after_vm_spend(self, sim: Simulator) -> Decimal:
        """What the fleet's disks and IPs billed after their VM ended (a killed daemon
        reaps nothing: `late_resources` bounds how long, this says what it cost)."""
        total = Decimal(0)
        for _, ended, gone, hourly in self._billing_ends(sim):
            secs = max(Decimal(int((gone - ended).total_seconds())), Decimal(0))
            total += hourly * secs / 3600
        return total.quantize(Decimal("0.000001"))

    def _billing_ends(self, sim: Simulator) -> list[tuple[str, datetime, datetime, Decimal]]:
        """("<disk or IP> of <VM>", when the VM ended, when the resource stopped billing
        (now if it still bills), its hourly price) for each disk and IP created with an
        ended fleet VM."""
        from optimizer.sim.cloud.resources import CloudStorage

        w = sim.cloud
        now = sim.now()
        out = []
        with sim._lock:
            sim.sync()
            for v in w.vms.values():
                ended = self._ended(v)
                if v.foreign or ended is None:
                    continue
                for r in sim.cloud.held_by(v):
                    gone = now if r.billable else (r.removed_at or now) - w.config.removing_after
                    hourly = w.storage_hourly(r) if isinstance(r, CloudStorage) else w.ip_hourly(r)
                    out.append((f"{r.name} of {v.name}", ended, gone, hourly))
        return out

    @staticmethod
    def _ended(v: Any) -> datetime | None:
        if v.status == "terminated":
            return v.terminated_at  # type: ignore[no-any-return]
        if v.status == "failed":
            return v.updated_at  # type: ignore[no-any-return]
        return None


FACES: dict[str, V3Face | CloudFace] = {"marketplace-v3": V3Face(), "cloud": CloudFace()}
