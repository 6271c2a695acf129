"""The journaled executor: advances every open action one non-blocking step per tick.

Steps of a deploying action (deploy, migrate, replace_stuck):

    planned ─(not_before reached; replace_stuck: delete the stuck VM)─► estimate with the
    exact constraints (abort if above the cap or the budget) ─► deploying (token written
    first) ─► deploy `<fleet>-<token>` ─► launching ─► Active (`active_at` journaled) ─►
    migrate: cutover (delete the old VM, ledger row: on the tick that sees the new VM
    Active, or once it has been Active for the fleet's `cutover_health_wait`; billing-
    aligned, on the last tick before `cutover_at`, and not before that wait) ─► done

A migration's new VM that ends or leaves the VM list before the cutover fails the action
(an ended one as a launch failure, deleted if still owned): the old VM is never deleted
for a new VM that is not Active on that tick.

A deploy whose answer was lost stays in `deploying` and is recognized next tick by its
name in `GET /vms/v3`; it is re-attempted only when no VM of that name appears within
`deploy_grace`. A VM found by that name is claimed only when it is the only VM of that
name, nobody owns it, and the API says it was created after the deploy started (less
CLAIM_CLOCK_SKEW); otherwise the action fails (cause "claim", which raises an alert) and
the VM is left alone: a name is not proof of ownership. A launch that is not Active
within the fleet's `launch_timeout` is deleted and the action fails; so is a migration's
new VM that is not Active at its cutover time and stays so for `launch_timeout` more
(both VMs are paid meanwhile). That, or a VM that ends before going Active or before its
migration's cutover, is the only failure that makes the planner avoid the datacenter
next time (failure_cause "launch").
Delete and finalize check ownership and then DELETE.

Safety: every mutating call is preceded by an ownership check against `fleet_vm`; a
VM not owned is never patched or deleted, nor is a VM listed under an owned id with a
`createdAt` other than the one recorded at ownership (ids may be reused). Each round
first reconciles ownership with the VM list (journal.reconcile_ownership): owned VMs
missing from several lists in a row are released. One failing action never stops the
others.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import structlog
from sqlalchemy.engine import Engine

from optimizer.clock import Clock, utc
from optimizer.config import Config, FleetConfig
from optimizer.epoch_cap import epoch_caps
from optimizer.errors import (
    ApiError,
    BadResponse,
    ExecutionError,
    NoMatchingOffers,
    OptimizerError,
    ServerError,
    TransportError,
)
from optimizer.executor import journal as jr
from optimizer.executor.api import ExecutorClient
from optimizer.fluence.models import (
    Constraints,
    DeployRequest,
    Port,
    Vm,
    VmConfiguration,
    VmUpdate,
)
from optimizer.fluence.status import VmStatus, is_ended, is_healthy
from optimizer.money import from_micros, to_micros
from optimizer.planner.inputs import CUTOVER_MARGIN, Plan
from optimizer.store.engine import store_errors
from optimizer.store.tables.journal import FleetVm, JournalAction, SavingsEntry

log = structlog.get_logger("optimizer.executor")

_AMBIGUOUS = (TransportError, ServerError, BadResponse)  # the deploy may have happened

#: How far the API's clock may lag ours when a VM is recognized by name after a lost
#: deploy answer: it is claimed only if its `createdAt` is no earlier than the moment the
#: deploy was sent minus this allowance.
CLAIM_CLOCK_SKEW = timedelta(minutes=5)


def desired_ports(fleet: FleetConfig) -> list[Port]:
    """The fleet's open ports, plus 22/tcp unless `keep_ssh_open = false`; sorted, unique."""
    ports = {(p.port, p.protocol) for p in fleet.open_ports}
    if fleet.keep_ssh_open:
        ports.add((22, "tcp"))
    return [Port(port=p, protocol=proto) for p, proto in sorted(ports)]


class Executor:
    """Advance journaled actions against the API.

    `Executor(client, engine, clock, config).advance(vms)` runs one non-blocking round: one
    VM list (pass the tick's list to save the call), then for each open action at most one
    step (estimate, deploy, delete or patch calls only where a step needs them).
    """

    def __init__(
        self,
        client: ExecutorClient,
        engine: Engine,
        clock: Clock,
        config: Config,
        *,
        fencing_token: int | None = None,
        deploy_grace: timedelta = timedelta(minutes=2),
        max_attempts: int = 3,
        tick: timedelta | None = None,
    ) -> None:
        self.client = client
        self.engine = engine
        self.clock = clock
        self.config = config
        self.fencing_token = fencing_token
        self.deploy_grace = deploy_grace
        self.max_attempts = max_attempts
        self._images: dict[str, str] = {}
        self._whole: dict[str, Decimal] = {}  # see `advance`
        # how often advance() runs: time-bound steps happen on the last tick before
        # their deadline, not on the first tick after it
        self.tick = tick if tick is not None else config.daemon.snapshot_interval

    # -- public -------------------------------------------------------------------------
    def submit(self, plan: Plan) -> list[int]:
        """Journal `plan`'s actions (act mode only). Raise ExecutionError otherwise."""
        if self.config.mode != "act":
            raise ExecutionError(
                f"mode is {self.config.mode}: nothing is executed", fleet=plan.fleet
            )
        ids = jr.record_plan(self.engine, plan, self.clock.now(), self.fencing_token)
        for i in ids:
            log.info("action journaled", fleet=plan.fleet, action=i)
        return ids

    def advance(
        self,
        vms: Sequence[Vm] | None = None,
        *,
        fleet: str | None = None,
        whole: Mapping[str, Decimal] | None = None,
    ) -> Counter[str]:
        """One step for every open action (of `fleet`, or all), then port corrections.
        Returns counts "kind:state" of what happened. Never raises for one action's failure:
        that action is retried or failed and the others go on. `whole`: VM id → its whole
        price per epoch (boot disk and IP included) for the cap check before a deploy, as
        the planner counted it; a VM not in it counts alone."""
        self._whole = dict(whole or {})
        if self.config.mode != "act":
            raise ExecutionError(f"mode is {self.config.mode}: nothing is executed", fleet=fleet)
        if vms is None:
            vms = self.client.list_vms()
        counts: Counter[str] = Counter()
        for gone in jr.reconcile_ownership(self.engine, vms, self.clock.now(), fleet):
            log.warning("ownership released", fleet=gone.fleet, vm_id=gone.vm_id, why=gone.why)
        fleets = {f.name: f for f in self.config.fleets}
        for row in jr.open_actions(self.engine, fleet):
            spec = fleets.get(row.fleet)
            try:
                if spec is None:
                    self._finish(row, "aborted", "the fleet is no longer in the configuration")
                else:
                    self._step(row, spec, vms)
            except ApiError as err:
                if err.permanent:  # a 4xx that says "never": repeating it cannot help
                    self._fail(row, f"rejected by the API: {err}", "rejected")
                else:
                    self._retry_or_fail(row, err)
            except ExecutionError as err:
                self._fail(row, str(err), "error")
            counts[f"{row.kind}:{row.state}"] += 1
        for name, spec in sorted(fleets.items()):
            if fleet is not None and name != fleet:
                continue
            try:
                counts["patch"] += self._fix_ports(spec, vms)
            except ApiError as err:
                log.warning("port correction failed", fleet=name, error=str(err))
        return counts

    # -- steps --------------------------------------------------------------------------
    def _step(self, row: JournalAction, fleet: FleetConfig, vms: Sequence[Vm]) -> None:
        now = self.clock.now()
        by_id = {v.id: v for v in vms}
        structlog.contextvars.bind_contextvars(action=row.id)
        if row.kind in ("delete", "finalize"):
            self._delete_step(row, by_id)
            return
        start_at, cut_at = self._times(row, fleet, by_id)
        if (start_at, cut_at) != (row.not_before, row.cutover_at):
            self._save(row, not_before=start_at, cutover_at=cut_at)
        if row.state == "planned":
            if start_at is not None and now + self.tick < start_at:
                return  # the next tick is still early enough
            if row.kind == "replace_stuck" and row.old_vm_id:
                self._delete_owned(row, row.old_vm_id, by_id)
            self._estimate_and_deploy(row, fleet, vms)
        elif row.state == "deploying":
            self._resolve_deploy(row, fleet, vms)
        elif row.state == "launching":
            self._launching(row, fleet, by_id)
        elif row.state == "cutover":
            self._cutover(row, fleet, by_id)

    def _estimate_and_deploy(
        self, row: JournalAction, fleet: FleetConfig, vms: Sequence[Vm]
    ) -> None:
        constraints = Constraints.model_validate_json(row.constraints_json or "{}")
        # what a whole VM is made of where the API bills disk and IP apart (else ignored)
        constraints.disk_gb, constraints.public_ip = fleet.disk_gb, fleet.public_ip
        cap = from_micros(row.cap_micros) if row.cap_micros is not None else None
        try:
            est = self.client.estimate(constraints, 1)
        except NoMatchingOffers as err:
            self._finish(row, "aborted", f"estimate: {err.message}")
            return
        price = est.max_price_per_epoch
        if cap is not None and price > cap:
            b = self.client.billing
            above = f"estimate {b.rate(price)} is above the cap {b.price(cap)}"
            self._finish(row, "aborted", above)
            return
        problem = self._over_budget(row, fleet, price, vms)
        if problem:
            self._finish(row, "aborted", problem)
            return
        # record intent (token is already in the row) before the non-idempotent call
        now = self.clock.now()
        self._save(
            row,
            state="deploying",
            deploy_started_at=now,
            new_price_micros=to_micros(price),
            attempts=row.attempts + 1,
        )
        request = DeployRequest(
            constraints=constraints,
            instances=1,
            vm_configuration=VmConfiguration(
                name=jr.vm_name(row.fleet, row.token),
                open_ports=desired_ports(fleet),
                hostname=fleet.hostname,
                os_image=self._image(fleet),
                ssh_keys=list(fleet.ssh_keys),
                disk_gb=fleet.disk_gb,
                public_ip=fleet.public_ip,
            ),
        )
        try:
            deployed = self.client.deploy(request)
        except _AMBIGUOUS as err:
            log.warning("deploy answer lost; will look for the VM by name", error=str(err))
            self._save(row, error=f"deploy answer lost: {err}")
            return
        except NoMatchingOffers as err:
            self._finish(row, "aborted", f"deploy: {err.message}")
            return
        ids = [d.vm_id for d in deployed]
        held = [
            (kind, rid, d.vm_id)
            for d in deployed
            for kind, rid in (("disk", d.boot_disk_id), ("ip", d.public_ip_id))
            if rid
        ]
        self._launched(row, ids, resources=held)

    def _launched(
        self,
        row: JournalAction,
        ids: list[str],
        created_at: datetime | None = None,
        *,
        resources: Sequence[tuple[str, str, str | None]] = (),
    ) -> None:
        """Own the new VMs and journal the disks and IPs created with them ((kind, id, VM
        id) each), in one commit with the action's move to `launching`."""
        now = self.clock.now()
        name = jr.vm_name(row.fleet, row.token)
        with store_errors(self.engine), jr.session(self.engine) as s:
            for kind, rid, vm_id in resources:
                jr.record_resource(
                    s, rid, kind, row.fleet, now, name=name, vm_id=vm_id, action_id=row.id
                )
            for vm_id in ids:
                jr.own(
                    s,
                    vm_id,
                    row.fleet,
                    now,
                    source="created",
                    name=jr.vm_name(row.fleet, row.token),
                    action_id=row.id,
                    created_at=created_at,
                )
            row.new_vm_ids = ",".join(ids)
            row.state = "launching"
            row.error = None
            row.updated_at = now
            s.add(row)
            s.commit()
        log.info("deployed", fleet=row.fleet, vm_ids=ids, name=jr.vm_name(row.fleet, row.token))

    def _resolve_deploy(self, row: JournalAction, fleet: FleetConfig, vms: Sequence[Vm]) -> None:
        name = jr.vm_name(row.fleet, row.token)
        found = sorted((v for v in vms if v.vm_name == name), key=lambda v: v.id)
        started = row.deploy_started_at or row.updated_at
        if found:
            problem = self._claim_problem(name, found, started)
            if problem is None:
                vm = found[0]
                held: list[tuple[str, str, str | None]] = [
                    (k, rid, vm.id) for k, rid in jr.vm_resources(vm)
                ]
                held += self._named_resources(name, started, {rid for _, rid, _ in held})
                self._launched(row, [vm.id], vm.created_at, resources=held)
                return
            log.error("VM not claimed", name=name, why=problem, vm_ids=[v.id for v in found])
            self._fail(
                row,
                f"deploy answer lost; not claimed, left alone: {problem}. "
                "Check the account (adopt the VM with `fleets adopt` if it is ours)",
                "claim",
            )
            return
        if self.clock.now() - started < self.deploy_grace:
            return  # the VM list may lag behind the deploy
        # a disk or IP of a create that made no VM is ours to delete (the reaper does)
        self._journal_resources(row, self._named_resources(name, started, set()))
        if row.attempts >= self.max_attempts:
            self._fail(row, f"no VM named {name} after {row.attempts} deploys", "deploy")
            return
        log.info("no VM named after the token; deploying again", name=name)
        self._save(row, state="planned")
        self._estimate_and_deploy(row, fleet, vms)

    def _named_resources(
        self, name: str, started: datetime, known: set[str]
    ) -> list[tuple[str, str, str | None]]:
        """Disks and IPs named after a deploy whose answer was lost, as (kind, id, VM id):
        those created no earlier than the deploy (less CLAIM_CLOCK_SKEW) that the journal
        does not hold yet. Asked of the API only on this rare path."""
        earliest = started - CLAIM_CLOCK_SKEW
        ours = jr.resource_ids(self.engine) | known
        out: list[tuple[str, str, str | None]] = []
        for kind, items in (
            ("disk", self.client.list_disks()),
            ("ip", self.client.list_public_ips()),
        ):
            for r in items:
                if (
                    r.name == name
                    and r.id not in ours
                    and r.created_at is not None
                    and utc(r.created_at) >= earliest
                ):
                    out.append((kind, r.id, r.vm_ids[0] if r.vm_ids else None))
        return out

    def _journal_resources(
        self,
        row: JournalAction,
        held: Sequence[tuple[str, str, str | None]],
        name: str | None = None,
    ) -> None:
        """Journal disks and IPs ((kind, id, VM id) each) as the fleet's, named `name`
        (default: the action's VM name)."""
        if not held:
            return
        now = self.clock.now()
        name = name if name is not None else jr.vm_name(row.fleet, row.token)
        with store_errors(self.engine), jr.session(self.engine) as s:
            for kind, rid, vm_id in held:
                jr.record_resource(
                    s, rid, kind, row.fleet, now, name=name, vm_id=vm_id, action_id=row.id
                )
            s.commit()

    def _claim_problem(self, name: str, found: Sequence[Vm], started: datetime) -> str | None:
        """Why the VMs named after a deploy's token (`found`, at least one) may not be
        taken as that deploy's result, or None when exactly one may."""
        if len(found) > 1:
            return f"{len(found)} VMs are named {name}: {', '.join(v.id for v in found)}"
        vm = found[0]
        owner = jr.owned_ids(self.engine).get(vm.id)
        if owner is not None:
            return f"VM {vm.id} named {name} is already owned by fleet {owner.fleet}"
        if vm.created_at is None:
            return f"VM {vm.id} named {name} has no createdAt to check against the deploy"
        earliest = started - CLAIM_CLOCK_SKEW
        if utc(vm.created_at) < earliest:
            return (
                f"VM {vm.id} named {name} was created at {utc(vm.created_at).isoformat()}, "
                f"before this deploy was sent at {started.isoformat()}"
            )
        return None

    def _launching(self, row: JournalAction, fleet: FleetConfig, by_id: dict[str, Vm]) -> None:
        ids = [x for x in row.new_vm_ids.split(",") if x]
        vm = by_id.get(ids[0]) if ids else None
        now = self.clock.now()
        if vm is None:
            self._fail(row, "the new VM disappeared from the VM list", "vanished")
            return
        known = jr.resource_ids(self.engine)
        self._journal_resources(
            row, [(k, rid, vm.id) for k, rid in jr.vm_resources(vm) if rid not in known]
        )
        if is_healthy(vm.status):
            if vm.price_per_epoch is not None:
                self._save(row, new_price_micros=to_micros(vm.price_per_epoch))
            if row.kind == "migrate":
                # journaled before acting: a restart does not restart the health wait
                self._save(row, state="cutover", active_at=now)
                self._cutover(row, fleet, by_id)
            else:
                self._finish(row, "done")
            return
        if is_ended(vm.status):
            self._delete_owned(row, vm.id, by_id)
            self._fail(row, f"the new VM ended as {vm.status} before going Active", "launch")
            return
        started = row.deploy_started_at or row.created_at
        if now - started > fleet.policy.launch_timeout:
            self._delete_owned(row, vm.id, by_id)
            self._fail(
                row,
                f"not Active within {fleet.policy.launch_timeout}; "
                f"deleted (status {vm.status}); the next plan tries elsewhere",
                "launch",
            )

    def _times(
        self, row: JournalAction, fleet: FleetConfig, by_id: dict[str, Vm]
    ) -> tuple[datetime | None, datetime | None]:
        """(start, cutover) of the action. A billing-aligned migration follows the old VM's
        current `nextBillingAt`: if that moved (a tick came too late and the old VM was
        charged again), the cutover moves with it — the old VM's epoch is paid anyway, so
        keeping it until just before its next charge costs nothing."""
        if row.kind != "migrate" or not fleet.policy.align_to_billing or row.cutover_at is None:
            return row.not_before, row.cutover_at
        old = by_id.get(row.old_vm_id or "")
        if old is None or not old.running:
            return None, None  # the old VM is gone: nothing to wait for
        if old.next_billing_at is None:
            return row.not_before, row.cutover_at
        cut = old.next_billing_at - CUTOVER_MARGIN
        lead = row.cutover_at - row.not_before if row.not_before is not None else timedelta(0)
        return cut - lead, cut

    def _cutover(self, row: JournalAction, fleet: FleetConfig, by_id: dict[str, Vm]) -> None:
        now = self.clock.now()
        if not self._new_vm_serving(row, fleet, by_id):
            return
        if row.cutover_at is not None and now + self.tick < row.cutover_at:
            return  # billing-aligned, and the next tick is still before the cutover time
        wait = fleet.policy.cutover_health_wait
        if row.active_at is not None and now < row.active_at + wait:
            return  # the new VM has not been seen Active for the health wait yet
        old = row.old_vm_id
        if old:
            self._delete_owned(row, old, by_id)
        new_ids = [x for x in row.new_vm_ids.split(",") if x]
        with store_errors(self.engine), jr.session(self.engine) as s:
            if old and new_ids and row.old_price_micros is not None:
                s.add(
                    SavingsEntry(
                        fleet=row.fleet,
                        action_id=row.id or 0,
                        old_vm_id=old,
                        new_vm_id=new_ids[0],
                        old_price_micros=row.old_price_micros,
                        new_price_micros=row.new_price_micros or row.expected_price_micros or 0,
                        completed_at=now,
                    )
                )
            for vm_id in new_ids:
                owned = s.get(FleetVm, vm_id)
                if owned is not None:
                    owned.last_migrated_at = now
                    s.add(owned)
            s.commit()
        self._finish(row, "done")

    def _new_vm_serving(self, row: JournalAction, fleet: FleetConfig, by_id: dict[str, Vm]) -> bool:
        """Whether a migration's new VM is healthy in this tick's list, so the old VM may
        go; its first healthy sighting is journaled (`active_at`). A new VM that ended or
        left the list fails the action as a launch would, and the old VM keeps serving;
        one in another state holds the cutover, for at most `launch_timeout` past the time
        the cutover was due (both VMs are paid meanwhile): then it is deleted and the old
        VM kept."""
        ids = [x for x in row.new_vm_ids.split(",") if x]
        vm = by_id.get(ids[0]) if ids else None
        if vm is None:
            self._fail(
                row, "the new VM disappeared from the VM list before the cutover", "vanished"
            )
            return False
        if is_ended(vm.status):
            if vm.id in jr.owned_ids(self.engine, row.fleet):
                self._delete_owned(row, vm.id, by_id)
            self._fail(
                row,
                f"the new VM ended as {vm.status} before the cutover; the old VM is kept",
                "launch",
            )
            return False
        if not is_healthy(vm.status):
            timeout = fleet.policy.launch_timeout
            if self.clock.now() > self._cutover_due(row, fleet) + timeout:
                self._delete_owned(row, vm.id, by_id)
                self._fail(
                    row,
                    f"the new VM is {vm.status}, not Active, {timeout} after its cutover was "
                    "due; deleted, the old VM is kept",
                    "launch",
                )
            else:
                log.warning("cutover held: the new VM is not Active", vm_id=vm.id, status=vm.status)
            return False
        if row.active_at is None:  # in cutover before migration 0012 recorded it
            self._save(row, active_at=self.clock.now())
        return True

    @staticmethod
    def _cutover_due(row: JournalAction, fleet: FleetConfig) -> datetime:
        """When the migration's cutover was due: its billing-aligned time, and not before
        the health wait after the new VM's first Active sighting."""
        seen = row.active_at or row.deploy_started_at or row.created_at
        return max(seen + fleet.policy.cutover_health_wait, row.cutover_at or seen)

    def _delete_step(self, row: JournalAction, by_id: dict[str, Vm]) -> None:
        if row.old_vm_id:
            self._delete_owned(row, row.old_vm_id, by_id)
        self._finish(row, "done")

    # -- helpers --------------------------------------------------------------------------
    def _delete_owned(self, row: JournalAction, vm_id: str, by_id: dict[str, Vm]) -> None:
        """DELETE `vm_id` if (and only if) it is owned by the action's fleet and still listed
        as not Stopped; release ownership either way."""
        owned = jr.owned_ids(self.engine, row.fleet)
        if vm_id not in owned:
            raise ExecutionError(
                f"refusing to delete VM {vm_id}: not owned by fleet {row.fleet}",
                fleet=row.fleet,
                action=row.id,
            )
        vm = by_id.get(vm_id)
        if vm is not None and not jr.same_vm(owned[vm_id], vm):
            raise ExecutionError(
                f"refusing to delete VM {vm_id}: its createdAt differs from the owned VM's "
                "(the id names another VM now)",
                fleet=row.fleet,
                action=row.id,
            )
        now = self.clock.now()
        if vm is not None:
            # an owned VM's disk and IP are ours to delete once it is gone (adopted ones too)
            held = [(k, rid, vm_id) for k, rid in jr.vm_resources(vm)]
            self._journal_resources(row, held, vm.vm_name)
        if vm is not None and vm.status != VmStatus.STOPPED:
            self.client.delete_vms([vm_id])
            log.info("deleted", fleet=row.fleet, vm_id=vm_id, status=vm.status)
        with store_errors(self.engine), jr.session(self.engine) as s:
            jr.release(s, vm_id, now)
            jr.vm_gone(s, vm_id, now)
            s.commit()

    def _over_budget(
        self, row: JournalAction, fleet: FleetConfig, price: Decimal, vms: Sequence[Vm]
    ) -> str | None:
        old = from_micros(row.old_price_micros or 0) if row.kind != "deploy" else Decimal(0)
        b = self.client.billing  # amounts in the unit the API bills in
        owned = jr.owned_ids(self.engine, fleet.name)
        for cap in epoch_caps(self.config, fleet, vms, owned, self._whole):
            if not cap.exceeded_by(price, old):
                continue
            if cap.scope == "account":
                after = b.price(cap.spend_after(price, old))
                return (
                    f"estimate {b.rate(price)} would take spend to {after}, "
                    f"above the budget cap {b.price(cap.cap)}"
                )
            return f"estimate {b.rate(price)} would exceed the fleet budget {b.price(cap.cap)}"
        return None

    def _image(self, fleet: FleetConfig) -> str:
        if fleet.os_image:
            return fleet.os_image
        slug = fleet.image or ""
        if slug not in self._images:
            for img in self.client.default_images():
                if slug in (img.slug, img.name):
                    self._images[slug] = img.download_url
                    break
            else:
                raise ExecutionError(f"no default image {slug!r}", fleet=fleet.name)
        return self._images[slug]

    def _fix_ports(self, fleet: FleetConfig, vms: Sequence[Vm]) -> int:
        """PATCH owned Active VMs whose open ports differ from the fleet's."""
        want = desired_ports(fleet)
        want_set = {(p.port, p.protocol) for p in want}
        owned = jr.owned_ids(self.engine, fleet.name)
        updates = [
            VmUpdate(id=v.id, open_ports=want)
            for v in sorted(vms, key=lambda v: v.id)
            if v.id in owned
            and jr.same_vm(owned[v.id], v)
            and v.status == VmStatus.ACTIVE
            and v.ports is not None  # None: the API keeps no port list on its VMs
            and {(p.port, p.protocol) for p in v.ports} != want_set
        ]
        if updates:
            self.client.patch_vms(updates)
            log.info("ports corrected", fleet=fleet.name, vms=[u.id for u in updates])
        return len(updates)

    def _retry_or_fail(self, row: JournalAction, err: OptimizerError) -> None:
        """A transient API failure: keep the action, count it, give up after a few."""
        attempts = row.attempts + 1
        if attempts > 2 * self.max_attempts:
            self._fail(row, f"gave up after {attempts} failed steps: {err}", "api")
        else:
            self._save(row, error=str(err), attempts=attempts)
        log.warning("action step failed", fleet=row.fleet, action=row.id, error=str(err))

    def _save(self, row: JournalAction, **changes: object) -> None:
        for k, v in changes.items():
            setattr(row, k, v)
        row.updated_at = self.clock.now()
        if self.fencing_token is not None:
            row.fencing_token = self.fencing_token
        with store_errors(self.engine), jr.session(self.engine) as s:
            s.add(row)
            s.commit()

    def _fail(self, row: JournalAction, error: str, cause: str) -> None:
        """End the action as failed. `cause` says whose failure it was: "launch" is the
        datacenter's and makes the planner avoid it (see journal.in_flight); the others —
        "deploy", "vanished", "api", "rejected" (a permanent 4xx, e.g. an SSH key the
        account does not know), "error": our own restarts, API trouble, a VM missing from
        a list, a request the API refuses — say nothing about the datacenter."""
        self._finish(row, "failed", error, cause=cause)

    def _finish(
        self, row: JournalAction, state: str, error: str | None = None, *, cause: str | None = None
    ) -> None:
        self._save(row, state=state, error=error, failure_cause=cause, finished_at=self.clock.now())
        log.info(
            "action finished",
            fleet=row.fleet,
            action=row.id,
            kind=row.kind,
            state=state,
            error=error,
        )
