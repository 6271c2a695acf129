"""`CloudWorld`: the cloud face's rules (rules.CloudRules) plus the hooks tests and demos
script it with, as the v3 simulator has them: set or pin a price (a VM's, or a cluster's
disk and IP prices), stop selling a configuration, set capacity, add VMs, disks and IPs
made by hand, fail or end a VM, set the balance, list what bills without a VM. Each hook
takes the simulator's lock and brings the world up to the clock first; move the clock
with `Simulator.advance`, script faults with `Simulator.faults.force_next("cloud.…", kind)`.
"""

from __future__ import annotations

import heapq
from decimal import Decimal

from optimizer.sim.cloud.catalog import DEFAULT_IMAGES, Cluster
from optimizer.sim.cloud.resources import CloudPublicIp, CloudStorage, CloudVm
from optimizer.sim.cloud.rules import CloudRules

__all__ = ["CloudWorld"]


class CloudWorld(CloudRules):
    """The cloud face of one simulator (`Simulator.cloud`)."""

    def set_price(self, cluster_id: str, configuration: str, price: Decimal | str | None) -> None:
        """Pin the hourly price of a configuration (id or slug) in a cluster (None: back to
        its path)."""
        with self.sim._lock:
            self.sim.sync()
            conf = self.catalog.configuration(configuration)
            if conf is None:
                raise KeyError(f"unknown configuration {configuration!r}")
            self.catalog.pin(cluster_id, conf.id, None if price is None else Decimal(str(price)))

    def price(self, cluster_id: str, configuration: str) -> Decimal | None:
        with self.sim._lock:
            self.sim.sync()
            conf = self.catalog.configuration(configuration)
            return None if conf is None else self.catalog.vm_price(cluster_id, conf.id)

    def unprice(self, cluster_id: str, configuration: str) -> None:
        """Stop selling a configuration in a cluster."""
        with self.sim._lock:
            self.sim.sync()
            conf = self.catalog.configuration(configuration)
            if conf is None:
                raise KeyError(f"unknown configuration {configuration!r}")
            self.catalog.unprice(cluster_id, conf.id)

    def set_resource_prices(
        self,
        cluster_id: str,
        *,
        storage_gb_hour: Decimal | str | None = None,
        public_ip_hour: Decimal | str | None = None,
    ) -> None:
        """Set a cluster's hourly price per GB of (non-replicated) NVMe storage and per
        public IPv4; None keeps the current one. Resources already held bill at the new
        price from now on."""
        with self.sim._lock:
            self.sim.sync()
            cl = self._cluster(cluster_id)
            if storage_gb_hour is not None:
                cl.storage_gb_hour = Decimal(str(storage_gb_hour))
            if public_ip_hour is not None:
                cl.public_ip_hour = Decimal(str(public_ip_hour))

    def set_capacity(self, cluster_id: str, configuration: str, free: int) -> None:
        with self.sim._lock:
            conf = self.catalog.configuration(configuration)
            if conf is None:
                raise KeyError(f"unknown configuration {configuration!r}")
            self._cluster(cluster_id).capacity[conf.id] = free

    def cheapest(self, configuration: str) -> tuple[Cluster, Decimal]:
        """The cluster selling `configuration` cheapest now, and its price."""
        with self.sim._lock:
            self.sim.sync()
            conf = self.catalog.configuration(configuration)
            if conf is None:
                raise KeyError(f"unknown configuration {configuration!r}")
            best = min(
                (
                    (p, cl)
                    for cl in self.catalog.clusters
                    if (p := self.catalog.vm_price(cl.id, conf.id)) is not None
                ),
                key=lambda t: t[0],
            )
            return best[1], best[0]

    def add_foreign_vm(
        self,
        name: str = "manual-vm",
        *,
        cluster_id: str | None = None,
        configuration: str | None = None,
        launched: bool = True,
    ) -> CloudVm:
        """A VM the user made by hand (with a boot disk and a public IP), launched at once
        when `launched`. Bypasses the balance rule: it already exists."""
        with self.sim._lock:
            self.sim.sync()
            conf = self.catalog.configuration(configuration or "cpu-regular-2vcpu-4gb")
            if conf is None:
                raise KeyError(f"unknown configuration {configuration!r}")
            if cluster_id is None:
                cluster_id = next(
                    cl.id for cl in self.catalog.clusters if conf.id in cl.configurations
                )
            from optimizer.sim.simulator import FOREIGN_KEY  # the v3 face's hand-made key

            key = next(iter(self.ssh_keys.values()), None) or self.add_ssh_key(
                {"name": "manual", "publicKey": FOREIGN_KEY}
            )
            balance = self.sim.account.balance
            self.sim.account.balance = Decimal("1e12")  # the rule is not checked here
            try:
                vm = self.create_vm(
                    {
                        "name": name,
                        "clusterId": cluster_id,
                        "configurationId": conf.id,
                        "sshKeys": [key.id],
                        "bootDisk": {
                            "name": f"{name}-disk"[:25].strip("-"),
                            "clusterId": cluster_id,
                            "storageType": "NVME",
                            "volumeGb": 25,
                            "replicated": False,
                            "osImage": DEFAULT_IMAGES[0]["downloadUrl"],
                        },
                        "publicIp": {
                            "name": f"{name}-ip"[:25].strip("-"),
                            "clusterId": cluster_id,
                            "addressType": "V4",
                        },
                    },
                    foreign=True,
                )
            finally:
                self.sim.account.balance = balance
            if launched:
                now = self.now()
                vm.status, vm.ready_since = "launched", now
                for st in self.storages.values():
                    if vm.id in st.attached_to:
                        st.status, st.ready_since = "ready", now
                ip = self.public_ips[vm.public_ip] if vm.public_ip else None
                if ip is not None:
                    ip.status, ip.ready_since = "ready", now
                self._events = [e for e in self._events if e.ref != vm.id]
                heapq.heapify(self._events)
            return vm

    def add_foreign_storage(
        self, name: str = "manual-disk", *, cluster_id: str | None = None, volume_gb: int = 25
    ) -> CloudStorage:
        """A detached data disk the user made by hand (ready, billing)."""
        with self.sim._lock:
            self.sim.sync()
            cl = self._cluster(cluster_id) if cluster_id else self.catalog.clusters[0]
            st = self._new_storage(
                {"name": name, "volumeGb": volume_gb, "replicated": False, "osImage": None},
                cl,
                "DATA",
                self.now(),
            )
            st.status, st.ready_since = "ready", self.now()
            return st

    def add_foreign_public_ip(
        self, name: str = "manual-ip", *, cluster_id: str | None = None
    ) -> CloudPublicIp:
        """A detached public IP the user made by hand (ready, billing)."""
        with self.sim._lock:
            self.sim.sync()
            cl = self._cluster(cluster_id) if cluster_id else self.catalog.clusters[0]
            ip = self._new_ip({"name": name}, cl, self.now())
            ip.status, ip.ready_since = "ready", self.now()
            return ip

    def fail_vm(self, vm_id: str) -> None:
        """The VM's launch (or the VM) fails now."""
        with self.sim._lock:
            self.sim.sync()
            self._fail(self.vms[vm_id], self.now())

    def provider_terminate(self, vm_id: str) -> None:
        """The provider ends this VM now (terminated; its disk and IP stay and bill)."""
        with self.sim._lock:
            self.sim.sync()
            vm = self.vms[vm_id]
            if vm.status == "terminated":
                raise ValueError(f"VM {vm_id} has already ended")
            self._end_vm(vm, self.now())

    def set_balance(self, amount: Decimal | str) -> None:
        """Set the account balance (what `/v2/users/balances` says)."""
        self.sim.set_balance(amount)

    def deposit(self, amount: Decimal | str) -> None:
        with self.sim._lock:
            self.sim.sync()
            self.sim.account.move(self.now(), None, "deposit", Decimal(str(amount)))
            self.deposited += Decimal(str(amount))

    def orphans(self) -> list[CloudStorage | CloudPublicIp]:
        """Disks and public IPs that bill without a live VM (none attached, or attached
        only to VMs that failed or ended): what an optimizer must never leave behind."""
        with self.sim._lock:
            self.sim.sync()
            live = {v.id for v in self.vms.values() if v.status not in ("failed", "terminated")}
            out: list[CloudStorage | CloudPublicIp] = [
                st for st in self.storages.values()
                if st.billable and not set(st.attached_to) & live
            ]  # fmt: skip
            out += [
                ip for ip in self.public_ips.values()
                if ip.billable and ip.attached_to not in live
            ]  # fmt: skip
            return out

    def spent(self) -> Decimal:
        """Everything charged so far on this face."""
        with self.sim._lock:
            self.sim.sync()
            return sum((c.cost for c in self.charges.values()), Decimal(0))
