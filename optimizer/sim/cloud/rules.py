"""The cloud generation's state and rules, over the simulator's world.

`CloudRules(sim)` (made as `world.CloudWorld`, which adds the test hooks) shares the
simulator's seed, clock, account (balance and ledger), fault injector, lock and market
datacenters (as clusters); it keeps its own VMs, disks, public IPs and SSH keys, because
the two API generations do not see each other's VMs.

Rules (shared/fluence-cloud-api/README.md):
- VMs go new → launching → launched (or failed, at `failure_rate`); terminate goes
  terminating → terminated. Actions outside a VM's `allowedActions` answer 406.
- Billing is per second from the balance, while a resource exists: a VM while it is
  billable (`VM_BILLED`), disks and public IPs until deleted — terminating a VM deletes
  neither. A VM pays its (configuration, cluster) price of each hour (`vm_pricing =
  "current"`, the specs' request-time prices) or the price it was created at ("fixed").
- Creating a VM needs a balance covering every billable resource, the new ones included,
  for `balance_hours` (6) hours; else 422 `insufficient_balance`.
- Unpaid debt above 5 USD or older than 3 days removes VMs and public IPs; above 20 USD
  or older than 10 days, disks too.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from optimizer.sim.cloud.billing import HOUR, Metering
from optimizer.sim.cloud.catalog import (
    DEFAULT_IMAGES,
    SPEC_0_10,
    SPECS,
    Catalog,
    Cluster,
    seeded_uuid,
)
from optimizer.sim.cloud.errors import CloudError, not_found, unprocessable
from optimizer.sim.cloud.moves import MarketMoves
from optimizer.sim.cloud.resources import (
    RESOURCE_NAME_RE,
    Charge,
    CloudPublicIp,
    CloudSshKey,
    CloudStorage,
    CloudVm,
)

if TYPE_CHECKING:
    from optimizer.sim.simulator import Simulator

#: the 0.10.0 spec's limit on cloudInit.userData (bytes, UTF-8)
CLOUD_INIT_MAX_BYTES = 16 * 1024


@dataclass
class CloudConfig:
    """Behaviour knobs of the cloud face. Delays are simulated time."""

    #: which published spec's wire shapes to speak: "0.10.0" (default) or "0.8.210"
    spec: str = SPEC_0_10
    launching_after: timedelta = timedelta(minutes=1)  # new → launching
    launched_after: timedelta = timedelta(minutes=2)  # launching → launched
    launch_jitter: float = 0.25
    failure_rate: float = 0.02  # share of launches that end "failed"
    terminating_after: timedelta = timedelta(minutes=1)  # terminating → terminated
    removing_after: timedelta = timedelta(seconds=30)  # removing → removed (disks, IPs)
    restart_after: timedelta = timedelta(minutes=1)
    ended_visible: timedelta = timedelta(hours=24)  # ended resources stay listed this long
    termination_rate: float = 0.0  # provider terminations per VM-day (× datacenter factor)
    balance_hours: int = 6
    vm_pricing: str = "current"  # "current" | "fixed"
    #: promotions and other tenants' capacity churn (moves.py); the default moves nothing
    moves: MarketMoves = field(default_factory=MarketMoves)
    debt_vm_usd: Decimal = Decimal(5)
    debt_vm_age: timedelta = timedelta(days=3)
    debt_disk_usd: Decimal = Decimal(20)
    debt_disk_age: timedelta = timedelta(days=10)
    boot_min_gb: int = 20
    default_per_page: int = 20
    max_per_page: int = 100

    def __post_init__(self) -> None:
        if self.spec not in SPECS:
            raise ValueError(f"spec must be one of {SPECS}, got {self.spec!r}")
        if self.vm_pricing not in ("current", "fixed"):
            raise ValueError(f"vm_pricing must be 'current' or 'fixed', got {self.vm_pricing!r}")
        if not 0 <= self.failure_rate <= 1:
            raise ValueError("failure_rate must be within [0, 1]")
        if not 0 <= self.launch_jitter < 1:
            raise ValueError("launch_jitter must be within [0, 1)")


@dataclass(order=True)
class _Event:
    at: datetime
    seq: int
    kind: str = field(compare=False)
    ref: str = field(compare=False)
    n: int = field(compare=False, default=0)


class CloudRules(Metering):
    """The cloud face's state and rules. `app.handle` calls the operations (create_vm,
    terminate_vm, …) with the simulator's lock held and the state synced to the clock;
    `world.CloudWorld` adds the hooks tests script it with."""

    def __init__(self, sim: Simulator, config: CloudConfig | None = None) -> None:
        self.sim = sim
        self.config = config or CloudConfig()
        self.catalog = Catalog(
            sim.seed, list(sim.market.datacenters), sim.market.dynamics, self.config.moves
        )
        self._start = sim._start
        self.catalog.advance_to(self._hour(sim.clock.now()))
        self._ids = random.Random(f"{sim.seed}:cloud:ids")
        self.user_id = seeded_uuid(random.Random(f"{sim.seed}:cloud:user"))
        #: a key that may read but not write (403 on mutating calls)
        self.read_only_key = "ro-" + sim.api_key
        self.vms: dict[str, CloudVm] = {}
        self.storages: dict[str, CloudStorage] = {}
        self.public_ips: dict[str, CloudPublicIp] = {}
        self.ssh_keys: dict[str, CloudSshKey] = {}
        self.charges: dict[tuple[str, str], Charge] = {}
        self.deposited = sim.account.balance
        #: raw JSON objects appended to a list answer, by endpoint name ("cloud.list_vms",
        #: "cloud.list_ssh_keys", "cloud.list_storages", "cloud.list_public_ips",
        #: "cloud.prices_vm"): malformed items for tests of tolerant clients
        self.raw_items: dict[str, list[Any]] = {}
        self._events: list[_Event] = []
        self._seq = 0
        self._billed_to = sim.clock.now()
        self._debt_since: datetime | None = None

    @property
    def spec(self) -> str:
        return self.config.spec

    @property
    def raw_vm_items(self) -> list[Any]:
        """`raw_items["cloud.list_vms"]`."""
        return self.raw_items.setdefault("cloud.list_vms", [])

    def raw(self, endpoint: str) -> list[Any]:
        return list(self.raw_items.get(endpoint, []))

    @property
    def billed_to(self) -> datetime:
        """Until when every billable resource has been charged."""
        return self._billed_to

    # --- time -----------------------------------------------------------------------------

    def sync(self, now: datetime) -> None:
        """Apply due events in time order, billing the time between them."""
        while self._events and self._events[0].at <= now:
            ev = heapq.heappop(self._events)
            self.bill_to(ev.at)
            self._apply(ev)
        self.bill_to(now)

    def _push(self, at: datetime, kind: str, ref: str, n: int = 0) -> None:
        self._seq += 1
        heapq.heappush(self._events, _Event(at, self._seq, kind, ref, n))

    def _apply(self, ev: _Event) -> None:
        at = ev.at
        if ev.kind.startswith("vm_"):
            vm = self.vms.get(ev.ref)
            if vm is not None:
                self._apply_vm(ev, vm)
        elif ev.kind == "storage_ready":
            st = self.storages.get(ev.ref)
            if st is not None and st.status in ("new", "created"):
                st.status, st.ready_since = "ready", at
        elif ev.kind == "storage_removed":
            st = self.storages.get(ev.ref)
            if st is not None and st.status == "removing":
                st.status, st.removed_at = "removed", at
                st.hidden_after = at + self.config.ended_visible
        elif ev.kind == "ip_ready":
            ip = self.public_ips.get(ev.ref)
            if ip is not None and ip.status in ("new", "created"):
                ip.status, ip.ready_since = "ready", at
        elif ev.kind == "ip_removed":
            ip = self.public_ips.get(ev.ref)
            if ip is not None and ip.status == "removing":
                ip.status, ip.removed_at = "removed", at
                ip.hidden_after = at + self.config.ended_visible

    def _apply_vm(self, ev: _Event, vm: CloudVm) -> None:
        at = ev.at
        if ev.kind == "vm_launching" and vm.status == "new":
            vm.status, vm.updated_at = "launching", at
            disk = self.storages.get(vm.boot_disk or "")
            if disk is not None and disk.status in ("new", "created"):
                disk.status = "created"
        elif ev.kind == "vm_launched" and vm.status == "launching":
            self._launched(vm, at)
        elif ev.kind == "vm_terminated" and vm.status == "terminating":
            self._end_vm(vm, at)
        elif ev.kind == "vm_restarted" and vm.status in ("restarting", "softRebooting"):
            vm.status, vm.updated_at = "launched", at
        elif ev.kind == "vm_hazard" and vm.status == "launched":
            self._hazard(vm, at, ev.n)

    def _launched(self, vm: CloudVm, at: datetime) -> None:
        """The launch ends: failed at `failure_rate` (seeded per VM), else launched, its
        disks and IP ready."""
        failed = random.Random(f"{self.sim.seed}:cloud:fail:{vm.id}").random()
        if failed < self.config.failure_rate:
            self._fail(vm, at)
            return
        vm.status, vm.updated_at, vm.ready_since = "launched", at, at
        for sid in [vm.boot_disk, *vm.data_disks]:
            if sid is not None:
                self._push(at, "storage_ready", sid)
        if vm.public_ip:
            self._push(at, "ip_ready", vm.public_ip)
        if self.config.termination_rate > 0:
            self._push(at + HOUR, "vm_hazard", vm.id, 1)

    def _hazard(self, vm: CloudVm, at: datetime, n: int) -> None:
        """Hourly chance that the provider ends the VM (more in less reliable datacenters)."""
        dc = self._cluster(vm.cluster_id).datacenter
        p = self.config.termination_rate / 24.0 * dc.reliability
        if random.Random(f"{self.sim.seed}:cloud:term:{vm.id}:{n}").random() < p:
            self._end_vm(vm, at)
        else:
            self._push(at + HOUR, "vm_hazard", vm.id, n + 1)

    def _fail(self, vm: CloudVm, at: datetime) -> None:
        """A failed launch: the VM stops billing; its disk and IP stay, detached, billing."""
        vm.status, vm.updated_at = "failed", at
        self._release(vm, at)

    def _end_vm(self, vm: CloudVm, at: datetime) -> None:
        vm.status, vm.updated_at, vm.terminated_at = "terminated", at, at
        vm.hidden_after = at + self.config.ended_visible
        self._release(vm, at)

    def _release(self, vm: CloudVm, at: datetime) -> None:
        """Detach the VM's disks and IP and give its instance back to the cluster (once)."""
        self._detach(vm, at)
        cl = self.catalog.cluster(vm.cluster_id)
        if vm.holds_capacity and cl is not None:
            cl.capacity[vm.configuration_id] = cl.capacity.get(vm.configuration_id, 0) + 1
        vm.holds_capacity = False

    def _detach(self, vm: CloudVm, at: datetime) -> None:
        for st in self.storages.values():
            if vm.id in st.attached_to:
                st.attached_to.remove(vm.id)
                if st.status in ("new", "created"):
                    self._push(at, "storage_ready", st.id)
        ip = self.public_ips.get(vm.public_ip or "")
        if ip is not None and ip.attached_to == vm.id:
            ip.attached_to = None
            if ip.status in ("new", "created"):
                self._push(at, "ip_ready", ip.id)

    def _debt_rules(self, at: datetime) -> None:
        balance = self.sim.account.balance
        if balance >= 0:
            self._debt_since = None
            return
        if self._debt_since is None:
            self._debt_since = at
        debt, age = -balance, at - self._debt_since
        cfg = self.config
        if debt > cfg.debt_vm_usd or age >= cfg.debt_vm_age:
            for vm in self.vms.values():
                if vm.status not in ("terminated", "failed"):
                    self._end_vm(vm, at)
            for ip in self.public_ips.values():
                if ip.status not in ("removing", "removed"):
                    self._remove_ip(ip, at)
        if debt > cfg.debt_disk_usd or age >= cfg.debt_disk_age:
            for st in self.storages.values():
                if st.status not in ("removing", "removed"):
                    self._remove_storage(st, at)

    # --- lookups ----------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.sim.clock.now()

    def _uuid(self) -> str:
        return seeded_uuid(self._ids)

    def visible(self, items: Iterable[Any]) -> list[Any]:
        """Resources a list still shows (ended ones vanish after `ended_visible`)."""
        now = self.now()
        return [x for x in items if x.hidden_after is None or x.hidden_after > now]

    def held_by(self, vm: CloudVm) -> list[CloudStorage | CloudPublicIp]:
        """The disks and public IP `vm` holds or was created with (they outlive it)."""
        out: list[CloudStorage | CloudPublicIp] = [
            self.storages[i] for i in (vm.boot_disk, *vm.data_disks) if i in self.storages
        ]
        if vm.public_ip in self.public_ips:
            out.append(self.public_ips[vm.public_ip])
        return out

    def vm(self, vm_id: str) -> CloudVm:
        vm = self.vms.get(vm_id)
        if vm is None or vm not in self.visible([vm]):
            raise not_found("VM", vm_id)
        return vm

    def storage(self, storage_id: str) -> CloudStorage:
        st = self.storages.get(storage_id)
        if st is None or st not in self.visible([st]):
            raise not_found("storage", storage_id)
        return st

    def public_ip(self, ip_id: str) -> CloudPublicIp:
        ip = self.public_ips.get(ip_id)
        if ip is None or ip not in self.visible([ip]):
            raise not_found("public IP", ip_id)
        return ip

    # --- VMs --------------------------------------------------------------------------------

    def create_vm(self, body: dict[str, Any], *, foreign: bool = False) -> CloudVm:  # noqa: C901
        """`POST /v2/vms`: validate, check capacity and the 6-hour balance rule, create the
        VM with its boot disk and public IP (inline requests or existing ids)."""
        # validation in the API's order, then VM, disk and IP created together: one piece
        # so that nothing is created when any check fails
        name = _str(body, "name")
        _check_name(name, "name")
        cluster = self._cluster_ref(_str(body, "clusterId"), "clusterId")
        conf_id = _str(body, "configurationId")
        conf = self.catalog.config_by_id.get(conf_id)
        price = self.catalog.vm_price(cluster.id, conf_id) if conf is not None else None
        if conf is None or price is None or not self.listed(conf_id):
            raise CloudError(
                404, "not_found", f"configuration {conf_id} is not sold in cluster {cluster.id}"
            )
        keys = body.get("sshKeys", [])
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise unprocessable("sshKeys: expected a list of SSH key ids")
        for k in keys:
            if k not in self.ssh_keys:
                raise unprocessable(f"sshKeys: no SSH key with id {k}")
        cloud_init = body.get("cloudInit")
        user_data = cloud_init.get("userData") if isinstance(cloud_init, dict) else None
        if isinstance(user_data, str) and len(user_data.encode()) > CLOUD_INIT_MAX_BYTES:
            raise CloudError(400, "bad_request", "cloudInit.userData is larger than 16 KiB")
        disk_new, disk_id = self._disk_request(body.get("bootDisk"), cluster, "bootDisk")
        ip_new, ip_id = self._ip_request(body.get("publicIp"), cluster, "publicIp")
        raw_data = body.get("dataDisks", [])
        if not isinstance(raw_data, list):
            raise unprocessable("dataDisks: expected a list")
        data = [
            self._disk_request(d, cluster, f"dataDisks[{i}]", boot=False)
            for i, d in enumerate(raw_data)
        ]
        if cluster.capacity.get(conf_id, 0) <= 0:
            raise unprocessable(f"cluster {cluster.id} has no capacity for {conf.slug}")
        # the 6-hour rule: every billable resource, the new ones included
        extra = price
        if disk_new is not None:
            extra += (
                cluster.storage_gb_hour
                * disk_new["volumeGb"]
                * (2 if disk_new["replicated"] else 1)
            )
        if ip_new:
            extra += cluster.public_ip_hour
        for new, _ in data:
            if new is not None:
                extra += cluster.storage_gb_hour * new["volumeGb"] * (2 if new["replicated"] else 1)
        need = (self.hourly_burn() + extra) * self.config.balance_hours
        if self.sim.account.balance < need:
            raise CloudError(
                422,
                "insufficient_balance",
                f"Insufficient balance: {need.quantize(Decimal('0.01'))} USD needed to run "
                f"every resource for {self.config.balance_hours} hours",
            )
        now = self.now()
        vm_id = self._uuid()
        if disk_new is not None:
            disk_id = self._new_storage(disk_new, cluster, "BOOT", now).id
        if ip_new is not None:
            ip_id = self._new_ip(ip_new, cluster, now).id
        data_ids = [
            old if new is None else self._new_storage(new, cluster, "DATA", now).id
            for new, old in data
        ]
        jit = random.Random(f"{self.sim.seed}:cloud:launch:{vm_id}")
        j = self.config.launch_jitter
        d1 = self.config.launching_after * (1 + jit.uniform(-j, j))
        d2 = self.config.launched_after * (1 + jit.uniform(-j, j))
        vm = CloudVm(
            id=vm_id,
            name=name,
            cluster_id=cluster.id,
            configuration_id=conf_id,
            status="new",
            created_at=now,
            updated_at=now,
            ssh_keys=list(keys),
            network_interface=self._uuid(),
            boot_disk=disk_id,
            public_ip=ip_id,
            data_disks=[d for d in data_ids if d is not None],
            cloud_init=user_data if isinstance(user_data, str) else None,
            price_at_create=price,
            foreign=foreign,
        )
        self.vms[vm_id] = vm
        for sid in [disk_id, *vm.data_disks]:
            if sid is not None:
                self.storages[sid].attached_to.append(vm_id)
        if ip_id is not None:
            self.public_ips[ip_id].attached_to = vm_id
        cluster.capacity[conf_id] -= 1
        self._push(now + d1, "vm_launching", vm_id)
        self._push(now + d1 + d2, "vm_launched", vm_id)
        return vm

    def price_points(self, cluster_id: str | None = None) -> list[tuple[str, str, Decimal]]:
        """(cluster id, configuration id, hourly price) for each point this face lists now."""
        prices = self.catalog.vm_prices()
        return [
            (cl.id, cid, prices[(cl.id, cid)])
            for cl in self.catalog.clusters
            if cluster_id is None or cl.id == cluster_id
            for cid in cl.configurations
            if self.listed(cid) and (cl.id, cid) in prices
        ]

    def listed(self, conf_id: str) -> bool:
        """Whether this face's spec version lists the configuration at all."""
        conf = self.catalog.config_by_id.get(conf_id)
        return conf is not None and (self.spec == SPEC_0_10 or conf.since != SPEC_0_10)

    def _cluster_ref(self, cluster_id: str, where: str) -> Cluster:
        cl = self.catalog.cluster(cluster_id)
        if cl is None:
            raise unprocessable(f"{where}: no cluster with id {cluster_id}")
        return cl

    def _disk_request(
        self, raw: Any, cluster: Cluster, where: str, *, boot: bool = True
    ) -> tuple[dict[str, Any] | None, str | None]:
        """(inline create request, None) or (None, id of an existing free disk)."""
        if isinstance(raw, str):
            return None, _free_to_attach(self.storages.get(raw), raw, cluster, where, "storage")
        if not isinstance(raw, dict):
            raise unprocessable(f"{where}: expected a storage id or a storage create request")
        req = self._storage_request(raw, where)
        if req["clusterId"] != cluster.id:
            raise unprocessable(f"{where}.clusterId must be the VM's cluster {cluster.id}")
        if boot and req["volumeGb"] < self.config.boot_min_gb:
            raise unprocessable(f"{where}.volumeGb must be at least {self.config.boot_min_gb}")
        if boot and not req.get("osImage"):
            raise unprocessable(f"{where}.osImage is required for a boot disk")
        return req, None

    def _storage_request(self, raw: dict[str, Any], where: str) -> dict[str, Any]:
        name = _str(raw, "name", where)
        _check_name(name, f"{where}.name")
        cluster_id = _str(raw, "clusterId", where)
        self._cluster_ref(cluster_id, f"{where}.clusterId")
        if raw.get("storageType") != "NVME":
            raise unprocessable(f"{where}.storageType: only NVME can be created")
        vol = raw.get("volumeGb")
        if not isinstance(vol, int) or isinstance(vol, bool) or vol <= 0:
            raise unprocessable(f"{where}.volumeGb: expected a positive integer")
        replicated = raw.get("replicated")
        if not isinstance(replicated, bool):
            raise unprocessable(f"{where}.replicated: expected a boolean")
        image = raw.get("osImage")
        if image is not None and (not isinstance(image, str) or not image.startswith("http")):
            raise unprocessable(f"{where}.osImage: expected an image URL")
        return {"name": name, "clusterId": cluster_id, "volumeGb": vol,
                "replicated": replicated, "osImage": image}  # fmt: skip

    def _ip_request(
        self, raw: Any, cluster: Cluster, where: str
    ) -> tuple[dict[str, Any] | None, str | None]:
        if raw is None:
            return None, None
        if isinstance(raw, str):
            return None, _free_to_attach(self.public_ips.get(raw), raw, cluster, where, "public IP")
        if not isinstance(raw, dict):
            raise unprocessable(f"{where}: expected a public IP id or a create request")
        req = self._ip_create_request(raw, where)
        if req["clusterId"] != cluster.id:
            raise unprocessable(f"{where}.clusterId must be the VM's cluster {cluster.id}")
        return req, None

    def _ip_create_request(self, raw: dict[str, Any], where: str) -> dict[str, Any]:
        name = _str(raw, "name", where)
        _check_name(name, f"{where}.name")
        cluster_id = _str(raw, "clusterId", where)
        cl = self._cluster_ref(cluster_id, f"{where}.clusterId")
        if raw.get("addressType") != "V4":
            raise unprocessable(f"{where}.addressType: only V4 can be created")
        if cl.free_ips <= 0:
            raise unprocessable(f"cluster {cl.id} has no public IPv4 address left")
        return {"name": name, "clusterId": cluster_id}

    def _new_storage(
        self, req: dict[str, Any], cluster: Cluster, role: str, now: datetime
    ) -> CloudStorage:
        image_id = None
        for img in DEFAULT_IMAGES:
            if img["downloadUrl"] == req.get("osImage"):
                image_id = img["id"]
        st = CloudStorage(
            id=self._uuid(),
            name=req["name"],
            cluster_id=cluster.id,
            volume_gb=req["volumeGb"],
            role=role,
            status="new",
            created_at=now,
            replicated=req["replicated"],
            os_image=req.get("osImage"),
            image_id=image_id,
        )
        cluster.free_storage_gb -= st.volume_gb
        self.storages[st.id] = st
        return st

    def _new_ip(self, req: dict[str, Any], cluster: Cluster, now: datetime) -> CloudPublicIp:
        ip_id = self._uuid()
        rnd = random.Random(f"{self.sim.seed}:cloud:ip:{ip_id}")
        address = ".".join(
            str(rnd.randint(lo, hi)) for lo, hi in ((11, 223), (0, 255), (0, 255), (1, 254))
        )
        ip = CloudPublicIp(ip_id, req["name"], cluster.id, "new", now, address)
        cluster.free_ips -= 1
        self.public_ips[ip.id] = ip
        return ip

    def _require(self, vm: CloudVm, action: str) -> None:
        if action not in vm.allowed_actions:
            raise CloudError(
                406, "not_acceptable", f"{action} is not allowed in status {vm.status}"
            )

    def terminate_vm(self, vm_id: str) -> CloudVm:
        """`POST /v2/vms/{id}/terminate`: terminating now, terminated a little later; the
        disk and IP stay (and keep billing) until deleted."""
        vm = self.vm(vm_id)
        self._require(vm, "terminate")
        now = self.now()
        if vm.status == "failed":
            self._end_vm(vm, now)
            return vm
        vm.status, vm.updated_at = "terminating", now
        self._push(now + self.config.terminating_after, "vm_terminated", vm.id)
        return vm

    def rename_vm(self, vm_id: str, body: dict[str, Any]) -> CloudVm:
        vm = self.vm(vm_id)
        name = body.get("name")
        if name is not None:
            if not isinstance(name, str):
                raise unprocessable("name: expected a string")
            _check_name(name, "name")
            vm.name, vm.updated_at = name, self.now()
        return vm

    def restart_vm(self, vm_id: str, soft: bool) -> CloudVm:
        vm = self.vm(vm_id)
        self._require(vm, "softReboot" if soft else "restart")
        now = self.now()
        vm.status, vm.updated_at = ("softRebooting" if soft else "restarting"), now
        self._push(now + self.config.restart_after, "vm_restarted", vm.id)
        return vm

    def vm_add_public_ip(self, vm_id: str, body: dict[str, Any]) -> CloudVm:
        vm = self.vm(vm_id)
        self._require(vm, "addPublicIp")
        if vm.public_ip and vm.public_ip in self.public_ips:
            cur = self.public_ips[vm.public_ip]
            if cur.attached_to == vm.id:
                raise CloudError(406, "not_acceptable", "the VM already has a public IP")
        ip_id = _str(body, "publicIpId")
        _, ip_id_ok = self._ip_request(ip_id, self._cluster(vm.cluster_id), "publicIpId")
        assert ip_id_ok is not None
        ip = self.public_ips[ip_id_ok]
        ip.attached_to, vm.public_ip, vm.updated_at = vm.id, ip.id, self.now()
        return vm

    def vm_remove_public_ip(self, vm_id: str) -> CloudVm:
        vm = self.vm(vm_id)
        self._require(vm, "removePublicIp")
        ip = self.public_ips.get(vm.public_ip or "")
        if ip is None or ip.attached_to != vm.id:
            raise CloudError(406, "not_acceptable", "the VM has no public IP")
        ip.attached_to, vm.public_ip, vm.updated_at = None, None, self.now()
        return vm

    def vm_add_storages(self, vm_id: str, body: dict[str, Any]) -> CloudVm:
        """Attach existing free data disks of the VM's cluster."""
        vm = self.vm(vm_id)
        self._require(vm, "addStorages")
        ids = _ids_field(body, "dataDisks")
        cluster = self._cluster(vm.cluster_id)
        for i, sid in enumerate(ids):
            self._disk_request(sid, cluster, f"dataDisks[{i}]", boot=False)
        for sid in ids:
            self.storages[sid].attached_to.append(vm.id)
            vm.data_disks.append(sid)
        vm.updated_at = self.now()
        return vm

    def vm_remove_storages(self, vm_id: str, body: dict[str, Any]) -> CloudVm:
        """Detach data disks (they stay, and bill, until deleted)."""
        vm = self.vm(vm_id)
        self._require(vm, "removeStorages")
        ids = _ids_field(body, "dataDisks")
        for sid in ids:
            if sid not in vm.data_disks:
                raise unprocessable(f"dataDisks: {sid} is not a data disk of this VM")
        for sid in ids:
            vm.data_disks.remove(sid)
            st = self.storages[sid]
            if vm.id in st.attached_to:
                st.attached_to.remove(vm.id)
        vm.updated_at = self.now()
        return vm

    # --- disks and IPs ----------------------------------------------------------------------

    def create_storage(self, body: dict[str, Any]) -> CloudStorage:
        req = self._storage_request(body, "body")
        cluster = self._cluster(req["clusterId"])
        now = self.now()
        st = self._new_storage(req, cluster, "DATA", now)
        self._push(now + self.config.launching_after, "storage_ready", st.id)
        return st

    def create_public_ip(self, body: dict[str, Any]) -> CloudPublicIp:
        req = self._ip_create_request(body, "body")
        cluster = self._cluster(req["clusterId"])
        now = self.now()
        ip = self._new_ip(req, cluster, now)
        self._push(now + self.config.launching_after, "ip_ready", ip.id)
        return ip

    def delete_storages(self, ids: list[str]) -> list[CloudStorage]:
        """Delete disks (all or none): an attached disk answers 406."""
        disks = [self.storage(i) for i in ids]
        _refuse_attached(disks, "storage")
        now = self.now()
        for st in disks:
            self._remove_storage(st, now)
        return disks

    def delete_public_ips(self, ids: list[str]) -> list[CloudPublicIp]:
        """Delete public IPs (all or none): an attached IP answers 406."""
        ips = [self.public_ip(i) for i in ids]
        _refuse_attached(ips, "public IP")
        now = self.now()
        for ip in ips:
            self._remove_ip(ip, now)
        return ips

    def _remove_storage(self, st: CloudStorage, at: datetime) -> None:
        if st.status in ("removing", "removed"):
            return
        st.status = "removing"
        st.attached_to = []
        cl = self.catalog.cluster(st.cluster_id)
        if cl is not None:
            cl.free_storage_gb += st.volume_gb
        self._push(at + self.config.removing_after, "storage_removed", st.id)

    def _remove_ip(self, ip: CloudPublicIp, at: datetime) -> None:
        if ip.status in ("removing", "removed"):
            return
        ip.status, ip.attached_to = "removing", None
        cl = self.catalog.cluster(ip.cluster_id)
        if cl is not None:
            cl.free_ips += 1
        self._push(at + self.config.removing_after, "ip_removed", ip.id)

    def rename_storage(self, storage_id: str, body: dict[str, Any]) -> CloudStorage:
        st = self.storage(storage_id)
        name = body.get("name")
        if name is not None:
            if not isinstance(name, str):
                raise unprocessable("name: expected a string")
            _check_name(name, "name")
            st.name = name
        return st

    def rename_public_ip(self, ip_id: str, body: dict[str, Any]) -> CloudPublicIp:
        ip = self.public_ip(ip_id)
        name = body.get("name")
        if name is not None:
            if not isinstance(name, str):
                raise unprocessable("name: expected a string")
            _check_name(name, "name")
            ip.name = name
        return ip

    # --- SSH keys ----------------------------------------------------------------------------

    def add_ssh_key(self, body: dict[str, Any]) -> CloudSshKey:
        """Register a key; the same key body (comment ignored) answers 409 conflict."""
        from optimizer.sim.simulator import SimError, parse_public_key

        name = _str(body, "name")
        public_key = _str(body, "publicKey")
        if not name.strip():
            raise unprocessable("name must not be empty")
        try:
            fp, algo, _comment = parse_public_key(public_key)
        except SimError as err:
            raise unprocessable(err.message) from None
        for k in self.ssh_keys.values():
            if k.fingerprint == fp:
                raise CloudError(409, "conflict", f"SSH key already exists: {k.id}")
        key = CloudSshKey(self._uuid(), name, public_key.strip(), algo, fp, self.now())
        self.ssh_keys[key.id] = key
        return key

    def delete_ssh_keys(self, ids: list[str]) -> list[CloudSshKey]:
        keys = []
        for i in ids:
            if i not in self.ssh_keys:
                raise not_found("SSH key", i)
            keys.append(self.ssh_keys[i])
        for k in keys:
            del self.ssh_keys[k.id]
        return keys


def _str(body: dict[str, Any], key: str, where: str | None = None) -> str:
    value = body.get(key)
    if not isinstance(value, str):
        label = f"{where}.{key}" if where and where != "body" else key
        raise unprocessable(f"{label}: expected a string")
    return value


def _ids_field(body: dict[str, Any], key: str) -> list[str]:
    ids = body.get(key)
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise unprocessable(f"{key}: expected a list of ids")
    return ids


def _check_name(name: str, where: str) -> None:
    if not RESOURCE_NAME_RE.match(name):
        raise unprocessable(
            f"{where}: {name!r} must be 1-25 lowercase letters, digits or hyphens, "
            "not starting or ending with a hyphen"
        )


def _free_to_attach(
    res: CloudStorage | CloudPublicIp | None, rid: str, cluster: Cluster, where: str, what: str
) -> str:
    """The id of an existing disk or IP a new VM may take: live, in its cluster, detached."""
    if res is None or res.status in ("removing", "removed"):
        raise unprocessable(f"{where}: no {what} with id {rid}")
    if res.cluster_id != cluster.id:
        raise unprocessable(f"{where}: {what} {rid} is in another cluster")
    if res.attached_to:
        raise CloudError(406, "not_acceptable", f"{where}: {what} {rid} is attached")
    return rid


def _refuse_attached(resources: Iterable[CloudStorage | CloudPublicIp], what: str) -> None:
    """A delete of disks or IPs is all or none: any still attached answers 406."""
    for res in resources:
        if res.attached_to:
            raise CloudError(
                406, "not_acceptable", f"{what} {res.id} is attached to a VM; detach it first"
            )
