"""Per-second metering of the cloud face: every billable resource is charged, from the
shared account, at its hourly price for the seconds it exists, hour by hour (a VM's price
can change at each hour); per resource and UTC day the use is kept for the charges
endpoints. `CloudRules` (rules.py) adds what happens to a debt.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from optimizer.sim.cloud.catalog import Catalog, Cluster
from optimizer.sim.cloud.errors import not_found
from optimizer.sim.cloud.resources import Charge, CloudPublicIp, CloudStorage, CloudVm

if TYPE_CHECKING:
    from optimizer.sim.cloud.rules import CloudConfig
    from optimizer.sim.simulator import Simulator

HOUR = timedelta(hours=1)
MICRO = timedelta(microseconds=1)


class Metering:
    """The billing half of `CloudRules`; the state below is set up by `CloudRules`."""

    sim: Simulator
    config: CloudConfig
    catalog: Catalog
    vms: dict[str, CloudVm]
    storages: dict[str, CloudStorage]
    public_ips: dict[str, CloudPublicIp]
    charges: dict[tuple[str, str], Charge]
    _start: datetime
    _billed_to: datetime

    def _hour(self, at: datetime) -> int:
        return int((at - self._start).total_seconds() // 3600)

    def _cluster(self, cluster_id: str) -> Cluster:
        cl = self.catalog.cluster(cluster_id)
        if cl is None:
            raise not_found("cluster", cluster_id)
        return cl

    def vm_hourly(self, vm: CloudVm) -> Decimal:
        if self.config.vm_pricing == "fixed":
            return vm.price_at_create
        price = self.catalog.vm_prices().get((vm.cluster_id, vm.configuration_id))
        return price if price is not None else vm.price_at_create

    def storage_hourly(self, st: CloudStorage) -> Decimal:
        per_gb = self._cluster(st.cluster_id).storage_gb_hour * (2 if st.replicated else 1)
        return per_gb * st.volume_gb

    def ip_hourly(self, ip: CloudPublicIp) -> Decimal:
        return self._cluster(ip.cluster_id).public_ip_hour

    def hourly_burn(self) -> Decimal:
        """What every billable resource costs per hour now."""
        total = sum((self.vm_hourly(v) for v in self.vms.values() if v.billable), Decimal(0))
        total += sum(
            (self.storage_hourly(s) for s in self.storages.values() if s.billable), Decimal(0)
        )
        total += sum(
            (self.ip_hourly(i) for i in self.public_ips.values() if i.billable), Decimal(0)
        )
        return total

    def bill_to(self, t: datetime) -> None:
        """Charge every billable resource per second up to `t`, hour by hour (a VM's price
        can change at each hour), then apply the debt rules."""
        while self._billed_to < t:
            a = self._billed_to
            hour = self._hour(a)
            b = min(t, self._start + (hour + 1) * HOUR)
            self.catalog.advance_to(hour)
            secs = Decimal((b - a) // MICRO) / Decimal(1_000_000)
            day = a.date().isoformat()
            total = Decimal(0)
            for vm in self.vms.values():
                if vm.billable:
                    amount = self._charge(vm.id, "VM", day, secs, self.vm_hourly(vm))
                    vm.spent += amount
                    total += amount
            for st in self.storages.values():
                if st.billable:
                    amount = self._charge(st.id, "STORAGE", day, secs, self.storage_hourly(st))
                    st.spent += amount
                    total += amount
            for ip in self.public_ips.values():
                if ip.billable:
                    amount = self._charge(ip.id, "PUBLIC_IP", day, secs, self.ip_hourly(ip))
                    ip.spent += amount
                    total += amount
            if total > 0:  # one ledger line per stretch; per resource: `charges`, `.spent`
                self.sim.account.move(b, None, "charge", total)
            self._billed_to = b
            self._debt_rules(b)
        self.catalog.advance_to(self._hour(t))

    def _charge(self, ref: str, kind: str, day: str, secs: Decimal, hourly: Decimal) -> Decimal:
        """Record `secs` of use at `hourly` USD for one resource; return the amount."""
        amount = hourly * secs / 3600
        if amount <= 0:
            return Decimal(0)
        ch = self.charges.setdefault((ref, day), Charge(ref, kind, day))
        ch.seconds += secs
        ch.cost += amount
        return amount

    def _debt_rules(self, at: datetime) -> None:
        """What a debt does at `at` (rules.py)."""
        raise NotImplementedError
