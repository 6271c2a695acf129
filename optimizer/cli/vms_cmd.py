"""CLI commands: `vms list|status` (read-only; the executor is the only code that changes VMs)."""

from __future__ import annotations

import typer

from optimizer.cli.render import JSON_OPTION_HELP, print_json, print_table
from optimizer.errors import ConfigError

vms = typer.Typer(
    name="vms", help="Look at the VMs of the Fluence account (read-only).", no_args_is_help=True
)


@vms.command("list")
def list_cmd(
    ctx: typer.Context,
    status: list[str] | None = typer.Option(
        None,
        "--status",
        metavar="STATUS",
        help="Only VMs in this status (repeatable), e.g. Active.",
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """List every VM of the account, with status, price (per epoch, or per hour on the
    cloud generation), datacenter and IP."""
    client = ctx.obj.client()
    items = client.list_vms()
    if status:
        wanted = {s.lower() for s in status}
        items = [v for v in items if v.status.lower() in wanted]
    items.sort(key=lambda v: (v.vm_name, v.id))
    if as_json:
        print_json(items)
        return
    print_table(
        [
            "Name",
            "Status",
            (f"USD/{client.billing.unit}", "right"),
            "Datacenter",
            "Public IP",
            "Created",
            "Next billing",
            "Id",
        ],
        (
            [
                v.vm_name,
                v.status,
                v.price_per_epoch if v.price_per_hour is None else v.price_per_hour,
                v.datacenter.label if v.datacenter else "",
                v.public_ip,
                v.created_at,
                v.next_billing_at,
                v.id,
            ]
            for v in items
        ),
        empty="no VMs",
    )


@vms.command("status")
def status_cmd(
    ctx: typer.Context,
    ids: list[str] = typer.Argument(..., help="VM ids (0x...)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP),
) -> None:
    """Show status and public IP of the given VMs."""
    if not all(i.strip() for i in ids):
        raise ConfigError("vms status: a VM id must not be empty")
    statuses = ctx.obj.client().vm_status(ids)
    if as_json:
        print_json(statuses)
        return
    print_table(
        ["Id", "Status", "Public IP"],
        ([s.id, s.status, s.public_ip] for s in statuses),
        empty="no such VMs",
    )


def register(app: typer.Typer) -> None:
    """Add this group's commands to the main app."""
    app.add_typer(vms)
