"""The simulator: market + account + VMs + clock + faults, behind one lock.

Time only moves forward. Every request and every `advance()` first brings the state up
to the clock's now, applying due events in chronological order (VM launches, daily
billing, provider terminations), then the market's hourly price path.
"""

from __future__ import annotations

import hashlib
import heapq
import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from optimizer.billing import DEPOSIT_EPOCHS as DEPOSIT_EPOCHS
from optimizer.clock import EPOCH
from optimizer.fluence.models import (
    NAME_RE,
    Constraints,
    DeployRequest,
    Estimate,
    Port,
    VmUpdate,
)
from optimizer.fluence.status import is_ended
from optimizer.sim.clock import SimClock
from optimizer.sim.faults import FaultConfig, FaultInjector
from optimizer.sim.market import Dynamics, Placement, SelectionError, SimMarket, SimOffer
from optimizer.sim.vms import Account, LedgerEntry, SimVm

if TYPE_CHECKING:
    import httpx

    from optimizer.sim.app import SimResponse
    from optimizer.sim.cloud import CloudConfig, CloudWorld

#: the API generations the simulator serves ("faces" of one world)
APIS = ("marketplace-v3", "cloud")

IMAGE_SUFFIXES = (".qcow2", ".img", ".raw", ".raw.xz", ".raw.gz", ".img.xz", ".img.gz")
RESERVED_PORTS = frozenset({10250})
FOREIGN_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl manual"
)


class SimError(Exception):
    """An API error answer: HTTP `status` with body {"error": message}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class SimConfig:
    """Behaviour knobs. Delays are simulated time; rates are per VM per epoch."""

    launching_after: timedelta = timedelta(minutes=2)  # New → Launching
    active_after: timedelta = timedelta(minutes=3)  # Launching → Active
    launch_jitter: float = 0.25  # ± fraction of each delay, seeded per VM
    termination_rate: float = 0.01  # provider terminations per VM-epoch (× datacenter factor)
    stopped_visible: timedelta = timedelta(minutes=10)  # Stopped VMs stay listed this long
    balance: Decimal = Decimal("1000")
    max_instances: int = 100
    #: "creation": each VM is billed every 24 h from its creation (newer docs);
    #: "daily": all VMs are billed at 17:55 UTC every day (older docs). `nextBillingAt` says.
    billing: str = "creation"

    def __post_init__(self) -> None:
        if self.billing not in ("creation", "daily"):
            raise ValueError(f"billing must be 'creation' or 'daily', got {self.billing!r}")
        if not 0 <= self.launch_jitter < 1:
            raise ValueError("launch_jitter must be within [0, 1)")
        if self.termination_rate < 0:
            raise ValueError("termination_rate must be >= 0")

    def first_billing(self, created: datetime) -> datetime:
        """When a VM created at `created` is charged for the first time after deploy."""
        if self.billing == "creation":
            return created + EPOCH
        at = created.replace(hour=17, minute=55, second=0, microsecond=0)
        return at if at > created else at + EPOCH


@dataclass
class SshKeyRecord:
    name: str
    fingerprint: str
    algorithm: str
    comment: str | None
    public_key: str
    created_at: datetime
    active: bool = True

    def wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fingerprint": self.fingerprint,
            "algorithm": self.algorithm,
            "comment": self.comment,
            "publicKey": self.public_key,
            "active": self.active,
            "createdAt": self.created_at.isoformat().replace("+00:00", "Z"),
        }


DEFAULT_IMAGES: tuple[dict[str, Any], ...] = (
    {
        "id": 1,
        "name": "Ubuntu 22.04 LTS",
        "distribution": "ubuntu",
        "slug": "ubuntu-22-04",
        "downloadUrl": "https://cloud-images.ubuntu.com/releases/22.04/release/"
        "ubuntu-22.04-server-cloudimg-amd64.img",
        "username": "ubuntu",
    },
    {
        "id": 2,
        "name": "Ubuntu 24.04 LTS",
        "distribution": "ubuntu",
        "slug": "ubuntu-24-04",
        "downloadUrl": "https://cloud-images.ubuntu.com/releases/24.04/release/"
        "ubuntu-24.04-server-cloudimg-amd64.img",
        "username": "ubuntu",
    },
    {
        "id": 3,
        "name": "Debian 12",
        "distribution": "debian",
        "slug": "debian-12",
        "downloadUrl": "https://cloud.debian.org/images/cloud/bookworm/latest/"
        "debian-12-genericcloud-amd64.qcow2",
        "username": "debian",
    },
)


@dataclass(order=True)
class _Event:
    at: datetime
    seq: int
    kind: str = field(compare=False)
    vm_id: str = field(compare=False)
    n: int = field(compare=False, default=0)


class Simulator:
    """A faithful fake of the Fluence CPU Cloud API (see shared/fluence-api.md).

    Given a seed, the market, VM ids, IPs, launch delays, terminations and faults are
    deterministic for the same sequence of calls and clock steps.
    """

    def __init__(
        self,
        seed: int = 7,
        *,
        clock: SimClock | None = None,
        offers: int = 80,
        faults: FaultConfig | None = None,
        api_key: str | None = None,
        config: SimConfig | None = None,
        dynamics: Dynamics | None = None,
        cloud: CloudConfig | None = None,
    ) -> None:
        self.seed = seed
        self.clock = clock or SimClock.stepped()
        self.config = config or SimConfig()
        self.api_key = (
            api_key or "sim-" + hashlib.sha256(f"fluence-sim:{seed}".encode()).hexdigest()[:32]
        )
        self.market = SimMarket(seed, offers, dynamics)
        self.faults = FaultInjector(faults, seed)
        self.account = Account(balance=Decimal(self.config.balance))
        self.vms: dict[str, SimVm] = {}
        self.ssh_keys: dict[str, SshKeyRecord] = {}
        self.requests: dict[str, int] = {}
        self._lock = threading.RLock()
        self._start = self.clock.now()
        self._events: list[_Event] = []
        self._seq = 0
        self._ids = random.Random(f"{seed}:vm-ids")
        self._synced = self._start
        self._cloud_config = cloud
        self._cloud: CloudWorld | None = None

    def __repr__(self) -> str:  # never show the key
        return f"Simulator(seed={self.seed}, offers={len(self.market.offers)}, vms={len(self.vms)})"

    @property
    def cloud(self) -> CloudWorld:
        """The cloud generation's face of this world (made on first use)."""
        with self._lock:
            if self._cloud is None:
                from optimizer.sim.cloud import CloudWorld

                self.sync()
                self._cloud = CloudWorld(self, self._cloud_config)
            return self._cloud

    # --- time --------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def advance(self, delta: timedelta | float) -> datetime:
        """Move simulated time forward and apply everything that happens meanwhile."""
        with self._lock:
            now = self.clock.advance(delta)
            self.sync(now)
            return now

    def sync(self, now: datetime | None = None) -> None:
        """Bring the state up to `now` (default: the clock's now), events in time order."""
        with self._lock:
            now = now or self.clock.now()
            if now < self._synced:
                return
            while self._events and self._events[0].at <= now:
                ev = heapq.heappop(self._events)
                self._market_to(ev.at)
                self._apply(ev)
            self._market_to(now)
            self._synced = now
            if self._cloud is not None:
                self._cloud.sync(now)

    def _market_to(self, at: datetime) -> None:
        hour = int((at - self._start).total_seconds() // 3600)
        if hour > self.market.hour:
            self.market.advance_to(hour)

    def _push(self, at: datetime, kind: str, vm_id: str, n: int = 0) -> None:
        self._seq += 1
        heapq.heappush(self._events, _Event(at, self._seq, kind, vm_id, n))

    def _apply(self, ev: _Event) -> None:
        vm = self.vms.get(ev.vm_id)
        if vm is None or is_ended(vm.status):
            return
        if ev.kind == "launching" and vm.status == "New":
            vm.status = "Launching"
        elif ev.kind == "active" and vm.status in ("New", "Launching"):
            vm.status = "Active"
            vm.public_ip = vm.ip
            self._push(ev.at + timedelta(hours=1), "hazard", vm.id, 1)
            self._refresh_statuses()
        elif ev.kind == "bill" and vm.next_billing_at == ev.at:
            self._bill(vm, ev.at)
        elif ev.kind == "hazard" and vm.status not in ("New", "Launching"):
            p = self.config.termination_rate / 24.0 * vm.datacenter.reliability
            if random.Random(f"{self.seed}:term:{vm.id}:{ev.n}").random() < p:
                self._terminate(vm, ev.at)
            else:
                self._push(ev.at + timedelta(hours=1), "hazard", vm.id, ev.n + 1)

    def _bill(self, vm: SimVm, at: datetime) -> None:
        """The daily charge: one epoch out of the reserve (or the balance when the reserve
        ran short), then top the reserve up from the balance."""
        acct, p = self.account, vm.price
        if vm.reserved >= p:
            vm.reserved -= p
            vm.spent += p
            acct.move(at, vm.id, "charge_reserve", p)
            paid = True
        elif acct.balance >= p - vm.reserved:
            if vm.reserved:
                acct.move(at, vm.id, "charge_reserve", vm.reserved)
            acct.move(at, vm.id, "charge", p - vm.reserved)
            vm.spent += p
            vm.reserved = Decimal(0)
            paid = True
        else:
            paid = False
            vm.status = "InsufficientFunds"
        if paid:
            if vm.status == "InsufficientFunds":
                vm.status = "Active"
            if acct.balance >= p - vm.reserved:
                acct.move(at, vm.id, "reserve", p - vm.reserved)
                vm.reserved = p
        vm.next_billing_at = at + EPOCH
        self._push(vm.next_billing_at, "bill", vm.id)
        self._refresh_statuses()

    def _refresh_statuses(self) -> None:
        """SmallBalance ⇔ the balance cannot cover this VM's next reserve top-up."""
        for vm in self.vms.values():
            if vm.status == "Active" and self.account.balance < vm.price:
                vm.status = "SmallBalance"
            elif vm.status == "SmallBalance" and self.account.balance >= vm.price:
                vm.status = "Active"

    def _terminate(self, vm: SimVm, at: datetime) -> None:
        vm.status = "Terminated"
        vm.public_ip = None
        vm.ended_at = at

    # --- marketplace -------------------------------------------------------------------------

    def offers(self, constraints: Constraints | None) -> list[dict[str, Any]]:
        """The offers matching `constraints` as JSON-ready dicts."""
        self._check_constraints(constraints)
        return self.market.offers_wire(constraints)

    def offers_json(self, constraints: Constraints | None) -> bytes:
        """The body of POST /marketplace/offers for `constraints` (fast path)."""
        self._check_constraints(constraints)
        return self.market.offers_json(constraints)

    @staticmethod
    def _check_constraints(c: Constraints | None) -> None:
        if c is None:
            return
        if c.additional_resources is not None and c.additional_resources.storage:
            if c.hardware is None or not c.hardware.storage:
                raise SimError(400, "additionalResources can only be used with hardware.storage")
            for req in c.additional_resources.storage:
                if req.type.lower() not in ("hdd", "ssd", "nvme"):
                    raise SimError(400, f"unknown storage type {req.type!r}")
                if req.units != "GiB":
                    raise SimError(400, f"unsupported storage units {req.units!r}")
                if req.supply <= 0:
                    raise SimError(400, "additional storage supply must be positive")

    def _select(self, c: Constraints | None, instances: int) -> list[Placement]:
        self._check_constraints(c)
        if not 1 <= instances <= self.config.max_instances:
            raise SimError(400, f"instances must be between 1 and {self.config.max_instances}")
        try:
            return self.market.select(c, instances)
        except SelectionError as err:
            raise SimError(422, err.message) from None

    def estimate(self, c: Constraints | None, instances: int) -> Estimate:
        """What a deploy with these constraints would cost now, without committing."""
        try:
            placements = self._select(c, instances)
        except SimError as err:
            if err.status == 422:
                raise SimError(422, "Not enough offers found") from None
            raise
        total = sum((p.price for p in placements), Decimal(0))
        return Estimate(
            deposit_amount_usdc=total * DEPOSIT_EPOCHS,
            deposit_epochs=DEPOSIT_EPOCHS,
            total_price_per_epoch=total,
            max_price_per_epoch=max(p.price for p in placements),
            instances=len(placements),
        )

    # --- VMs -----------------------------------------------------------------------------------

    def deploy(self, req: DeployRequest, *, foreign: bool = False) -> list[SimVm]:
        """Validate, place on the cheapest offers, charge, and create the VMs."""
        cfg = req.vm_configuration
        if not NAME_RE.match(cfg.name):
            raise SimError(400, "vmConfiguration.name may contain only letters, digits and hyphens")
        if not cfg.os_image.startswith(
            ("https://", "http://")
        ) or not cfg.os_image.lower().endswith(IMAGE_SUFFIXES):
            raise SimError(
                400, f"osImage must be a download URL ending in one of {', '.join(IMAGE_SUFFIXES)}"
            )
        if not cfg.ssh_keys:
            raise SimError(400, "at least one SSH key is required")
        names = {k.name for k in self.ssh_keys.values()}
        for key in cfg.ssh_keys:
            if not _looks_like_public_key(key) and key not in names:
                raise SimError(
                    400, f"SSH key {key[:40]!r} is neither a public key nor a stored key name"
                )
        self._check_ports(cfg.open_ports)
        placements = self._select(req.constraints, req.instances)
        deposit = sum((p.price for p in placements), Decimal(0)) * DEPOSIT_EPOCHS
        if deposit > self.account.balance:
            raise SimError(400, f"Insufficient balance: deposit {deposit} USDC needed")
        self.market.commit(placements)
        now = self.clock.now()
        ports = [Port(port=22, protocol="tcp")]
        ports += [p for p in cfg.open_ports if (p.port, p.protocol) != (22, "tcp")]
        out = []
        for pl in placements:
            vm = self._create_vm(pl, cfg.name, cfg.hostname or cfg.name, cfg.os_image,
                                 list(cfg.ssh_keys), ports, now, foreign=foreign)  # fmt: skip
            out.append(vm)
        self._refresh_statuses()
        return out

    def _create_vm(
        self,
        pl: Placement,
        name: str,
        hostname: str,
        os_image: str,
        ssh_keys: list[str],
        ports: list[Port],
        now: datetime,
        *,
        foreign: bool,
    ) -> SimVm:
        vm_id = f"0x{self._ids.getrandbits(160):040x}"
        jit = random.Random(f"{self.seed}:launch:{vm_id}")
        j = self.config.launch_jitter
        d1 = self.config.launching_after * (1 + jit.uniform(-j, j))
        d2 = self.config.active_after * (1 + jit.uniform(-j, j))
        o = pl.offer
        ip = ".".join(
            str(jit.randint(lo, hi)) for lo, hi in ((11, 223), (0, 255), (0, 255), (1, 254))
        )
        vm = SimVm(
            id=vm_id,
            name=name,
            status="New",
            price=pl.price,
            offer=o,
            server=pl.server,
            extra_storage=pl.extra_storage,
            datacenter=o.datacenter,
            slug=o.slug,
            vcpu=o.vcpu,
            ram_gb=o.ram_gb,
            disk_gb=o.disk_gb,
            cpu=dict(o.cpu),
            ram=dict(o.ram),
            storage_type=o.storage_type,
            created_at=now,
            launching_at=now + d1,
            active_at=now + d1 + d2,
            next_billing_at=self.config.first_billing(now),
            os_image=os_image,
            ports=[p.model_copy() for p in ports],
            hostname=hostname,
            ssh_keys=ssh_keys,
            ip=ip,
            foreign=foreign,
        )
        self.vms[vm_id] = vm
        self.account.move(now, vm_id, "charge", pl.price)
        vm.spent = pl.price
        self.account.move(now, vm_id, "reserve", pl.price)
        vm.reserved = pl.price
        self._push(vm.launching_at, "launching", vm_id)
        self._push(vm.active_at, "active", vm_id)
        self._push(vm.next_billing_at, "bill", vm_id)  # type: ignore[arg-type]
        return vm

    @staticmethod
    def _check_ports(ports: list[Port]) -> None:
        for p in ports:
            if not 1 <= p.port <= 65535:
                raise SimError(400, f"port {p.port} is out of range")
            if p.port in RESERVED_PORTS:
                raise SimError(400, f"port {p.port} is reserved")

    def listed_vms(self) -> list[SimVm]:
        """The VMs GET /vms/v3 shows now (Stopped ones vanish after a while)."""
        now = self.clock.now()
        return [vm for vm in self.vms.values() if vm.hidden_after is None or vm.hidden_after > now]

    def _vm(self, vm_id: str) -> SimVm:
        vm = self.vms.get(vm_id)
        if vm is None or (vm.hidden_after is not None and vm.hidden_after <= self.clock.now()):
            raise SimError(404, f"VM {vm_id} not found")
        return vm

    def delete(self, ids: list[str]) -> list[str]:
        """Stop VMs (refund reserves, free capacity); return one transaction hash per VM."""
        vms = [self._vm(i) for i in ids]
        now = self.clock.now()
        txs = []
        for vm in vms:
            if vm.status != "Stopped":
                if vm.reserved:
                    self.account.move(now, vm.id, "refund", vm.reserved)
                    vm.reserved = Decimal(0)
                if vm.status != "Terminated" and vm.offer is not None:
                    self.market.release(vm.offer, vm.server, vm.extra_storage)
                vm.status = "Stopped"
                vm.public_ip = None
                vm.ended_at = now
                vm.hidden_after = now + self.config.stopped_visible
            txs.append("0x" + hashlib.sha256(f"{vm.id}:{now.isoformat()}".encode()).hexdigest())
        self._refresh_statuses()
        return txs

    def patch(self, updates: list[VmUpdate]) -> None:
        vms = [self._vm(u.id) for u in updates]
        for u in updates:
            if u.vm_name is not None and not NAME_RE.match(u.vm_name):
                raise SimError(400, "vmName may contain only letters, digits and hyphens")
            if u.open_ports is not None:
                self._check_ports(u.open_ports)
        for vm, u in zip(vms, updates, strict=True):
            if u.vm_name is not None:
                vm.name = u.vm_name
            if u.open_ports is not None:
                vm.ports = [p.model_copy() for p in u.open_ports]

    # --- SSH keys ------------------------------------------------------------------------------

    def add_ssh_key(self, name: str, public_key: str) -> SshKeyRecord:
        if not name or not NAME_RE.match(name.replace("_", "-").replace(".", "-")):
            raise SimError(400, "SSH key name must be 1-63 letters, digits, hyphens")
        fp, algo, comment = parse_public_key(public_key)
        if fp in self.ssh_keys or any(k.name == name for k in self.ssh_keys.values()):
            raise SimError(400, "SSH key already exists")
        rec = SshKeyRecord(name, fp, algo, comment, public_key.strip(), self.clock.now())
        self.ssh_keys[fp] = rec
        return rec

    def remove_ssh_key(self, fingerprint: str) -> None:
        if fingerprint not in self.ssh_keys:
            raise SimError(404, "SSH key not found")
        del self.ssh_keys[fingerprint]

    # --- helpers for tests and the demo ------------------------------------------------------

    def transport(self, api: str = "marketplace-v3") -> httpx.BaseTransport:
        """An in-process httpx transport serving this simulator's `api` face."""
        from optimizer.sim.transport import SimTransport

        return SimTransport(self, api=api)

    def http_client(
        self, *, header: str = "bearer", api: str = "marketplace-v3", **kw: Any
    ) -> httpx.Client:
        """A plain httpx.Client wired to this simulator with its key (for tests); the
        cloud face takes the key as `X-API-KEY` whatever `header` says."""
        import httpx

        headers = (
            {"Authorization": f"Bearer {self.api_key}"}
            if header == "bearer" and api != "cloud"
            else {"X-API-KEY": self.api_key}
        )
        return httpx.Client(base_url="http://sim.local", transport=self.transport(api),
                            headers=headers, **kw)  # fmt: skip

    def handle(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        api: str = "marketplace-v3",
    ) -> SimResponse:
        """Answer one HTTP request to the `api` face (optimizer.sim.app, sim.cloud.app)."""
        if api == "cloud":
            from optimizer.sim.cloud.app import handle as handle_cloud

            return handle_cloud(self, method, path, query, headers or {}, body)
        if api != "marketplace-v3":
            raise ValueError(f"unknown API generation {api!r}; expected one of {APIS}")
        from optimizer.sim.app import handle

        return handle(self, method, path, query, headers or {}, body)

    def add_foreign_vm(
        self,
        name: str = "manual-vm",
        *,
        constraints: Constraints | None = None,
        active: bool = True,
    ) -> SimVm:
        """A VM the user made by hand (not by the optimizer): deployed like any other,
        already Active when `active`."""
        with self._lock:
            self.sync()
            req = DeployRequest(
                constraints=constraints,
                instances=1,
                vm_configuration={
                    "name": name,
                    "osImage": DEFAULT_IMAGES[0]["downloadUrl"],
                    "sshKeys": [FOREIGN_KEY],
                },
            )
            vm = self.deploy(req, foreign=True)[0]
            if active:
                vm.status = "Active"
                vm.public_ip = vm.ip
                vm.launching_at = vm.active_at = vm.created_at
                self._push(vm.created_at + timedelta(hours=1), "hazard", vm.id, 1)
                self._refresh_statuses()
            return vm

    def add_offer(self, **kw: Any) -> SimOffer:
        """Put a scripted, fixed-price offer on the market now (see SimMarket.add_offer)."""
        with self._lock:
            self.sync()
            return self.market.add_offer(**kw)

    def set_offer_price(self, offer_key: str, price: Decimal | str | None) -> None:
        """Pin an offer's price from now on (None: back to its random path)."""
        with self._lock:
            self.sync()
            self.market.set_price(offer_key, price)

    def remove_offer(self, offer_key: str) -> None:
        with self._lock:
            self.sync()
            self.market.remove_offer(offer_key)

    def offer_price(self, offer_key: str) -> Decimal:
        with self._lock:
            self.sync()
            return self.market.price(self.market.by_key[offer_key])

    def terminate(self, vm_id: str) -> None:
        """The provider ends this VM now (status Terminated, reserve held until DELETE)."""
        with self._lock:
            self.sync()
            vm = self.vms[vm_id]
            if is_ended(vm.status):
                raise ValueError(f"VM {vm_id} has already ended ({vm.status})")
            self._terminate(vm, self.clock.now())

    def report_status(self, vm_id: str, status: str) -> None:
        """From now on the API reports this running VM with `status` — e.g. one a newer API
        adds, which the optimizer does not know — while it keeps running and is billed."""
        with self._lock:
            self.sync()
            vm = self.vms[vm_id]
            if is_ended(vm.status):
                raise ValueError(f"VM {vm_id} has already ended ({vm.status})")
            vm.status = status

    def deposit(self, amount: Decimal | str) -> None:
        """Add money to the account (and top up reserves that ran short)."""
        with self._lock:
            self.sync()
            now = self.clock.now()
            self.account.move(now, None, "deposit", Decimal(str(amount)))
            for vm in self.vms.values():
                if vm.running and vm.reserved < vm.price:
                    need = vm.price - vm.reserved
                    if self.account.balance >= need:
                        self.account.move(now, vm.id, "reserve", need)
                        vm.reserved = vm.price
            self._refresh_statuses()

    def set_balance(self, amount: Decimal | str) -> None:
        """Set the account balance directly (to script low-funds scenarios)."""
        with self._lock:
            self.sync()
            self.account.balance = Decimal(str(amount))
            self._refresh_statuses()

    @property
    def balance(self) -> Decimal:
        return self.account.balance

    @property
    def ledger(self) -> list[LedgerEntry]:
        return self.account.ledger

    def spent_by_vm(self) -> dict[str, Decimal]:
        """Total charged per VM id so far (what `totalSpent` says)."""
        return {vm.id: vm.spent for vm in self.vms.values()}

    def total_spent(self) -> Decimal:
        return sum((vm.spent for vm in self.vms.values()), Decimal(0))

    def reserved_total(self) -> Decimal:
        return sum((vm.reserved for vm in self.vms.values()), Decimal(0))


def _looks_like_public_key(key: str) -> bool:
    try:
        parse_public_key(key)
    except SimError:
        return False
    return True


KEY_ALGORITHMS = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
)


def parse_public_key(public_key: str) -> tuple[str, str, str | None]:
    """OpenSSH public key line → (fingerprint "SHA256:…", algorithm, comment).

    The fingerprint is OpenSSH's: base64 (unpadded) of SHA-256 over the decoded key blob.
    """
    import base64
    import binascii

    parts = public_key.strip().split(None, 2)
    if len(parts) < 2 or parts[0] not in KEY_ALGORITHMS:
        raise SimError(400, "publicKey is not an OpenSSH public key")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise SimError(400, "publicKey is not an OpenSSH public key") from None
    if len(blob) < 8:
        raise SimError(400, "publicKey is not an OpenSSH public key")
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return "SHA256:" + digest, parts[0], parts[2] if len(parts) > 2 else None
