"""CLI: `plan` (dry run), `apply` (one round of execution), `check-config`, and
`fleets status|adopt|release`. Thin: fetch once, call the planner/executor, render."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import typer

from optimizer.cli.render import print_json, print_line, print_table
from optimizer.clock import EPOCH, EPOCH_HOURS, SystemClock
from optimizer.errors import (
    ApiError,
    AuthError,
    ConfigError,
    DegradedRun,
    ExecutionError,
    OptimizerError,
)

if TYPE_CHECKING:
    from optimizer.billing import BillingModel
    from optimizer.cli.context import AppContext
    from optimizer.config import Config, FleetConfig
    from optimizer.executor import FleetRunner
    from optimizer.fluence.api import FluenceApi
    from optimizer.fluence.models import Vm
    from optimizer.planner import Plan

fleets = typer.Typer(
    name="fleets", help="Fleet ownership and status (adopt or release VMs).", no_args_is_help=True
)


def _select(app: AppContext, fleet: str | None) -> list[FleetConfig]:
    cfg = app.config()
    if fleet is not None:
        return [cfg.fleet(fleet)]
    if not cfg.fleets:
        path = app.resolved_config_path()
        if path is None:
            from optimizer.config import config_search_note

            raise ConfigError(config_search_note() + "; pass --config FILE")
        raise ExecutionError(f"{path}: no [[fleets]] in the configuration: nothing to plan")
    return list(cfg.fleets)


def _plans(ctx: typer.Context, fleet: str | None) -> tuple[list[Plan], list[Vm], FleetRunner]:
    from optimizer.executor import FleetRunner

    app = ctx.obj
    cfg = app.config()
    specs = _select(app, fleet)
    client, engine, clock = app.client(), app.engine(), SystemClock()
    ctx.call_on_close(client.close)
    ctx.call_on_close(engine.dispose)
    offers = client.list_offers(None)  # one offers call
    vms = client.list_vms()  # one VM list
    now = clock.now()
    balance, burn = _funds(client, now)
    runner = FleetRunner(client, engine, clock, cfg)
    plans = [
        runner.plan(spec, offers=offers, vms=vms, now=now, balance_usd=balance, burn_per_epoch=burn)
        for spec in specs
    ]
    return plans, vms, runner


def _funds(client: FluenceApi, now: datetime) -> tuple[Decimal | None, Decimal | None]:
    """The account's balance and burn for the planner's funds rule, as the daemon's tick
    reads them (nothing is asked on an API without account facts); unreadable: unknown,
    and the plan says so."""
    try:
        facts = client.account(now.date().replace(day=1), now.date())
    except ApiError as err:
        typer.echo(f"note: balance not read ({err}); plans do not check it", err=True)
        return None, None
    return facts.balance, facts.burn_per_epoch


def _usd(d: Decimal | None) -> str:
    from optimizer.money import fmt_usd  # money imports pydantic: not at module load

    return "" if d is None else fmt_usd(d, 4)


def _price(billing: BillingModel, per_epoch: Decimal | None) -> str:
    return "" if per_epoch is None else billing.price_shown(per_epoch, 4)


def _render(plan: Plan) -> None:
    b = plan.billing
    cash = (
        f"; cash needed {_usd(plan.cash_needed)} in deposits "
        f"(reserves held {_usd(plan.reserves_held)})"
        if b.reserves
        else ""
    )

    def per(d: Decimal | None) -> str:  # a per-epoch amount in the generation's unit
        return "" if d is None else _usd(d) if b.unit == "epoch" else b.price(d, 4)

    print_line(
        f"fleet {plan.fleet} ({plan.mode}): {plan.healthy_instances} healthy of "
        f"{plan.target_instances}, {per(plan.cost_per_epoch_now)}/{b.unit} now → "
        f"{per(plan.cost_per_epoch_planned)}/{b.unit} planned{cash}"
    )
    print_table(
        [
            "#",
            "Action",
            "VM",
            "Target",
            (f"USD/{b.unit}", "right"),
            (f"Saves/{b.unit}", "right"),
            ("Saves (horizon)", "right"),
            "When",
        ],
        (
            [
                i,
                a.kind,
                a.vm_id or "",
                a.offer.datacenter if a.offer else "",
                per(a.expected_price),
                per(a.saving_per_epoch) if a.saving_per_epoch else "",
                _usd(a.saving_over_horizon) if a.saving_over_horizon else "",
                f"{a.not_before:%m-%d %H:%M}" if a.not_before else "now",
            ]
            for i, a in enumerate(plan.actions, 1)
        ),
        empty=(
            "no actions: the fleet is where it should be"
            if plan.healthy_instances >= plan.target_instances and not plan.notes
            else "no actions possible: the fleet is not where it should be (see the notes)"
        ),
    )
    for i, a in enumerate(plan.actions, 1):
        print_line(f"  #{i} {a.kind}: {a.reason}")
    for v in plan.verdicts:
        print_line(f"  VM {v.name or v.vm_id} ({v.vm_id}): {v.decision} — {v.reason}")
    for note in plan.notes:
        print_line(f"note: {note}")


def plan_cmd(
    ctx: typer.Context,
    fleet: str | None = typer.Option(None, "--fleet", "-f", help="Only this fleet."),
    as_json: bool = typer.Option(False, "--json", help="Print the plans as JSON."),
) -> None:
    """Dry run: what each fleet would do now, and why each VM stays or moves. Changes nothing."""
    from optimizer.planner.report import plan_dict

    plans, _vms, _runner = _plans(ctx, fleet)
    if as_json:
        print_json([plan_dict(p) for p in plans])
        return
    for p in plans:
        _render(p)
    print_line("(dry run: nothing was changed)")


def apply_cmd(
    ctx: typer.Context,
    fleet: str | None = typer.Option(None, "--fleet", "-f", help="Only this fleet."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """One round of execution: journal the plan's actions and advance every open action one
    step (act mode only). Launches and billing-aligned cutovers finish in later rounds."""
    cfg = ctx.obj.config()
    if cfg.mode != "act":
        raise ExecutionError(
            f'mode is "{cfg.mode}": apply changes nothing; set mode = "act" in the '
            "configuration to let the optimizer deploy and delete VMs (see `plan` for a dry run)"
        )
    from optimizer.daemon.lock import InstanceLock
    from optimizer.executor import journal as jr

    # one writer per database: refuse while the daemon (or another apply) is running
    lock = InstanceLock(ctx.obj.engine()).acquire()
    ctx.call_on_close(lock.release)
    plans, vms, runner = _plans(ctx, fleet)
    for p in plans:
        _render(p)
    pending = sum(len(p.actions) for p in plans) + len(jr.open_actions(ctx.obj.engine(), fleet))
    if pending == 0:
        print_line("nothing to do")
        return
    if not yes:
        if not sys.stdin.isatty():
            raise ExecutionError("not a terminal: pass --yes to apply without confirmation")
        if not typer.confirm("Apply these actions?", default=False):
            print_line("aborted: nothing was changed")
            raise typer.Exit(1)
    failed = 0
    started = SystemClock().now()
    for p in plans:
        try:
            counts = runner.execute(p, vms)
        except OptimizerError as err:  # one fleet's failure does not stop the others
            failed += 1
            print_line(f"fleet {p.fleet}: failed: {err}")
            continue
        summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "nothing advanced"
        print_line(f"fleet {p.fleet}: {summary}")
    if failed:
        raise ExecutionError(f"{failed} fleet(s) failed; see above")
    rejected = jr.failed_actions(ctx.obj.engine(), fleet, started)
    for r in rejected:
        print_line(f"failed action #{r.id} ({r.fleet}, {r.kind}): {r.error}")
    if rejected:
        raise DegradedRun(f"{len(rejected)} action(s) failed; see above")


def check_config_cmd(ctx: typer.Context) -> None:
    """Validate the configuration and the fleets' SSH keys; print a short summary.

    Exit 2 with every error: bad keys in the file, no configuration file at all, or an
    SSH key entry that is neither a public key nor a key name stored in the account
    (names are checked when an API key is available)."""
    app = ctx.obj
    path = app.resolved_config_path()
    if path is None:
        from optimizer.config import config_search_note

        raise ConfigError(config_search_note() + "; pass --config FILE")
    cfg = app.config()
    problems = _check_ssh_keys(app, cfg, str(path))
    for name, lines in _cap_unit_notes(cfg).items():
        problems.setdefault(name, []).extend(lines)
    for name, lines in _port_notes(cfg).items():
        problems.setdefault(name, []).extend(lines)
    for name, lines in _check_fleet_names(app, cfg, str(path)).items():
        problems.setdefault(name, []).extend(lines)
    verdict = "ok" if "" not in problems else "invalid"
    print_line(f"{verdict}: {path}: mode {cfg.mode}, {len(cfg.fleets)} fleet(s)")
    for f in cfg.fleets:
        size = (
            f"{f.instances} instances"
            if f.instances is not None
            else (f"capacity {f.capacity.vcpu or '-'} vCPU / {f.capacity.ram_gb or '-'} GB")
        )
        print_line(
            f"  {f.name}: {size}, {len(f.constraints.configurations) or 'any'} "
            f"configuration(s), countries {','.join(f.constraints.countries) or 'any'}"
        )
        for line in problems.pop(f.name, []):
            print_line(f"    {line}")
    bad = [p for lines in problems.values() for p in lines]
    if bad:
        raise ConfigError("\n".join(bad))


def _cap_unit_notes(cfg: Config) -> dict[str, list[str]]:
    """Per fleet, a note for a price cap given in the other API generation's unit (only
    when `[api] generation` names one: with "auto" the unit is not known yet). Both caps
    are honoured either way (the tighter holds); the note says what the cap amounts to."""
    from optimizer.fluence.generation import billing_of

    billing = billing_of(cfg.api.generation)
    if billing is None:
        return {}
    out: dict[str, list[str]] = {}
    for i, f in enumerate(cfg.fleets):
        c, where = f.constraints, f"fleets[{i}].constraints"
        if billing.unit != "epoch" and c.max_price_per_epoch_usd is not None:
            cap = c.max_price_per_epoch_usd
            note = (
                f"{where}.max_price_per_epoch_usd {cap} is per 24 h; {cfg.api.generation} "
                f"prices per hour, so it caps a VM (disk and IP included) at "
                f"{billing.rate(cap)}; max_price_per_hour_usd says that in the API's unit"
            )
        elif billing.unit == "epoch" and c.max_price_per_hour_usd is not None:
            cap = c.max_price_per_hour_usd * EPOCH_HOURS
            note = (
                f"{where}.max_price_per_hour_usd {c.max_price_per_hour_usd} is per hour; "
                f"{cfg.api.generation} prices per epoch (24 h), so it caps a VM at "
                f"{billing.rate(cap)}; max_price_per_epoch_usd says that in the API's unit"
            )
        else:
            continue
        out.setdefault(f.name, []).append(f"note: {note}")
    return out


def _port_notes(cfg: Config) -> dict[str, list[str]]:
    """Per fleet, a note when `open_ports` is set but the named API generation has no
    per-VM port setting (cloud): the ports are then neither opened nor corrected, and
    saying so beats a silent no-op."""
    from optimizer.fluence.generation import sets_ports

    if sets_ports(cfg.api.generation) is not False:
        return {}
    return {
        f.name: [
            f"note: fleets[{i}].open_ports is not applied: {cfg.api.generation} has no "
            "per-VM port setting, so open the ports in the VM itself (its firewall or "
            "cloud-init)"
        ]
        for i, f in enumerate(cfg.fleets)
        if f.open_ports
    }


def _check_fleet_names(app: AppContext, cfg: Config, source: str) -> dict[str, list[str]]:
    """With `api.generation = "auto"`, fleet names too long for a generation that limits
    names (cloud: 14) are checked against the generation the server speaks, when an API
    key is available (a configured generation is checked when the file is loaded).
    Returns error lines under "" and per-fleet notes, like `_check_ssh_keys`."""
    from optimizer.fluence.models import NAME_LIMITS, max_fleet_name

    if cfg.api.generation != "auto":
        return {}
    shortest = min((n for g in NAME_LIMITS if (n := max_fleet_name(g)) is not None), default=None)
    long = [(i, f) for i, f in enumerate(cfg.fleets) if shortest and len(f.name) > shortest]
    if not long:
        return {}
    try:
        generation = app.client().generation
    except ApiError as err:
        why = "no API key" if isinstance(err, AuthError) else str(err)
        return {
            f.name: [f"name longer than {shortest} characters: cannot deploy on the cloud API "
                     f"generation (not checked against the server: {why})"]
            for _, f in long
        }  # fmt: skip
    limit = max_fleet_name(generation)
    out: dict[str, list[str]] = {}
    for i, f in long:
        if limit is not None and len(f.name) > limit:
            out.setdefault("", []).append(
                f"{source}: fleets[{i}].name: {f.name!r} is too long for the {generation} API "
                f"generation the server speaks: a fleet name has at most {limit} characters"
            )
    return out


def _check_ssh_keys(app: AppContext, cfg: Config, source: str) -> dict[str, list[str]]:
    """Say what each `ssh_keys` entry is: a public key, or the name of a key stored in
    the account (looked up when an API key is available). Returns per fleet the lines to
    print; a name the account does not have goes under the key "" as an error line."""
    from optimizer.cli.ssh_keys_cmd import is_public_key

    stored: set[str] | None = None
    why_unchecked = ""
    if any(not is_public_key(k) for f in cfg.fleets for k in f.ssh_keys):
        try:
            stored = {k.name for k in app.client().ssh_keys()}
        except AuthError:
            why_unchecked = "no API key, so not looked up in the account"
        except ApiError as err:
            why_unchecked = f"not looked up in the account: {err}"
    out: dict[str, list[str]] = {}
    for i, f in enumerate(cfg.fleets):
        for j, key in enumerate(f.ssh_keys):
            where = f"fleets[{i}].ssh_keys[{j}]"
            if is_public_key(key):
                what = f"a public key ({key.split()[0]})"
            elif stored is None:
                what = f"a key name ({why_unchecked})"
            elif key in stored:
                what = "a key name stored in the account"
            else:
                have = ", ".join(sorted(stored)) or "none"
                out.setdefault("", []).append(
                    f"{source}: {where}: {key!r} is neither a public key nor a key name "
                    f"stored in the account (stored: {have}); add it with "
                    f"`fluence-optimizer ssh-keys add {key} --file KEY.pub` or put the public "
                    "key itself here"
                )
                what = "NOT a public key and NOT stored in the account"
            out.setdefault(f.name, []).append(f"ssh key {where} {key[:24]!r}: {what}")
    return out


@fleets.command("status")
def status_cmd(
    ctx: typer.Context,
    fleet: str | None = typer.Option(None, "--fleet", "-f", help="Only this fleet."),
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Owned VMs, unfinished actions, actions failed in the last epoch and realized
    savings per fleet; then the detached disks and IPs the optimizer did not create that
    bill (cloud generation; never touched), with their cost per month."""
    from optimizer.executor import journal as jr

    app = ctx.obj
    specs = _select(app, fleet)
    engine, client = app.engine(), app.client()
    ctx.call_on_close(client.close)
    ctx.call_on_close(engine.dispose)
    vms = {v.id: v for v in client.list_vms()}
    now = SystemClock().now()
    saved = jr.savings(engine, now)
    if as_json:
        print_json([_status_dict(spec.name, engine, vms, saved, now) for spec in specs])
        return
    for spec in specs:
        owned = jr.owned_ids(engine, spec.name)
        s = saved.get(spec.name)
        print_line(
            f"fleet {spec.name}: {len(owned)} owned VM(s); "
            + (
                f"{s.migrations} migration(s), "
                f"saving {client.billing.rate_shown(s.saving_per_epoch, 4)}, "
                f"realized {_usd(s.realized)}"
                if s
                else "no completed migrations"
            )
        )
        price_col = f"USD/{client.billing.unit}"  # a VM's price in the unit the API bills
        print_table(
            ["VM", "Name", "Status", (price_col, "right"), "Datacenter", "Owned as"],
            (
                [
                    vm_id,
                    row.vm_name,
                    vms[vm_id].status if vm_id in vms else "(gone)",
                    _price(client.billing, vms[vm_id].cost_per_epoch if vm_id in vms else None),
                    vms[vm_id].datacenter.label if vm_id in vms and vms[vm_id].datacenter else "",
                    row.source,
                ]
                for vm_id, row in sorted(owned.items())
            ),
            empty="no owned VMs",
            optional=("Name", "Datacenter", price_col),
        )
        open_rows = jr.open_actions(engine, spec.name)
        if open_rows:
            print_table(
                ["Action", "Kind", "State", "VM", "New VM", "Error"],
                (
                    [r.id, r.kind, r.state, r.old_vm_id or "", r.new_vm_ids, r.error or ""]
                    for r in open_rows
                ),
                optional=("VM", "New VM"),
            )
        # a failure must be visible where people look, with the API's own words
        for r in jr.failed_actions(engine, spec.name, now - EPOCH):
            print_line(
                f"  failed action #{r.id} ({r.kind}, {r.finished_at:%Y-%m-%d %H:%M}): {r.error}"
            )
    _print_orphans(client, engine, list(vms.values()))


def _print_orphans(client: Any, engine: Any, vms: list[Any]) -> None:
    """The foreign orphans, as a table (nothing on an API without such resources); a
    price the listing lacks (spec 0.8.210) comes from the stored account facts."""
    from optimizer.executor.orphans import list_foreign_orphans
    from optimizer.money import fmt_usd
    from optimizer.store.account import load_account

    stored = load_account(engine)
    prices = {r.id: r.per_hour for r in (stored[0].resources or ())} if stored else {}
    orphans = list_foreign_orphans(client, engine, vms, prices)
    if not orphans:
        return
    total = sum((o.monthly_usd for o in orphans if o.monthly_usd is not None), Decimal(0))
    print_line(
        f"{len(orphans)} detached disk(s)/IP(s) not created by the optimizer bill "
        f"{fmt_usd(total)}/month (never touched; delete them if nobody needs them):"
    )
    rows = [
        [
            o.kind,
            o.id,
            o.name,
            "?" if o.monthly_usd is None else fmt_usd(o.monthly_usd),
            f"{o.created_at:%Y-%m-%d %H:%M}" if o.created_at else "",
        ]
        for o in orphans
    ]
    print_table(
        ["Kind", "Id", "Name", ("USD/month", "right"), "Created"],
        rows,
        optional=("Name", "Created"),
    )


def _status_dict(
    fleet: str, engine: Any, vms: dict[str, Any], saved: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """What `fleets status` prints for one fleet, as data (`--json`)."""
    from optimizer.executor import journal as jr

    def action(r: Any) -> dict[str, Any]:
        return {
            "id": r.id,
            "kind": r.kind,
            "state": r.state,
            "vm_id": r.old_vm_id,
            "new_vm_ids": [x for x in r.new_vm_ids.split(",") if x],
            "error": r.error,
            "finished_at": r.finished_at,
        }

    s = saved.get(fleet)
    return {
        "fleet": fleet,
        "vms": [
            {
                "id": vm_id,
                "name": row.vm_name,
                "status": vms[vm_id].status if vm_id in vms else None,
                "price_per_epoch_usd": vms[vm_id].cost_per_epoch if vm_id in vms else None,
                "datacenter": (
                    vms[vm_id].datacenter.label if vm_id in vms and vms[vm_id].datacenter else None
                ),
                "owned_as": row.source,
            }
            for vm_id, row in sorted(jr.owned_ids(engine, fleet).items())
        ],
        "open_actions": [action(r) for r in jr.open_actions(engine, fleet)],
        "failed_actions": [action(r) for r in jr.failed_actions(engine, fleet, now - EPOCH)],
        "savings": None
        if s is None
        else {
            "migrations": s.migrations,
            "saving_per_epoch_usd": s.saving_per_epoch,
            "realized_usd": s.realized,
        },
    }


def _ids(ids: Sequence[str]) -> list[str]:
    out = [i.strip() for i in ids]
    if not all(out):
        raise ExecutionError("a VM id must not be empty")
    return out


@fleets.command("adopt")
def adopt_cmd(
    ctx: typer.Context,
    fleet: str = typer.Argument(..., help="Fleet name from the configuration."),
    vm_ids: list[str] = typer.Argument(..., help="VM ids (0x...) to put under the fleet."),
) -> None:
    """Let the optimizer manage existing VMs (migrate, resize, delete) as part of FLEET."""
    from optimizer.executor import journal as jr

    app = ctx.obj
    app.config().fleet(fleet)
    engine, client = app.engine(), app.client()
    ctx.call_on_close(client.close)
    ctx.call_on_close(engine.dispose)
    done = jr.adopt(engine, fleet, client.list_vms(), _ids(vm_ids), SystemClock().now())
    print_line(f"fleet {fleet} adopted {len(done)} VM(s): {', '.join(done)}")


@fleets.command("release")
def release_cmd(
    ctx: typer.Context,
    fleet: str = typer.Argument(..., help="Fleet name."),
    vm_ids: list[str] = typer.Argument(..., help="VM ids (0x...) to stop managing."),
) -> None:
    """Stop managing VMs: they keep running and the optimizer never touches them again."""
    from optimizer.executor import journal as jr

    engine = ctx.obj.engine()
    ctx.call_on_close(engine.dispose)
    done = jr.release_vms(engine, fleet, _ids(vm_ids), SystemClock().now())
    print_line(f"fleet {fleet} released {len(done)} VM(s): {', '.join(done)}")


def register(app: typer.Typer) -> None:
    """Add `plan`, `apply`, `check-config` and the `fleets` group to the main app."""
    app.command("plan")(plan_cmd)
    app.command("apply")(apply_cmd)
    app.command("check-config")(check_config_cmd)
    app.add_typer(fleets)
