"""CLI commands: `alerts list [--active] [--json]`, `alerts test`."""

from __future__ import annotations

import typer

from optimizer.cli.render import print_json, print_line, print_table, safe
from optimizer.clock import SystemClock

alerts = typer.Typer(name="alerts", help="Stored alerts and the alert sinks.", no_args_is_help=True)


@alerts.command("list")
def list_cmd(
    ctx: typer.Context,
    active: bool = typer.Option(False, "--active", help="Only alerts that are still active."),
    as_json: bool = typer.Option(False, "--json", help="Print the alerts as JSON."),
) -> None:
    """List stored alerts: active first, then resolved, newest first."""
    from optimizer.alerts.state import list_alerts
    from optimizer.store.engine import store_errors

    engine = ctx.obj.engine()
    with store_errors(engine):
        rows = list_alerts(engine, active_only=active)
    if as_json:
        print_json(
            [
                {
                    "key": r.key,
                    "active": r.active,
                    "severity": r.severity,
                    "fleet": r.fleet,
                    "title": r.title,
                    "text": r.alert.text,
                    "data": r.alert.to_dict()["data"],
                    "first_fired_at": r.first_fired_at,
                    "last_seen_at": r.last_seen_at,
                    "last_notified_at": r.last_notified_at,
                    "resolved_at": r.resolved_at,
                    "notify_count": r.notify_count,
                }
                for r in rows
            ]
        )
        return
    print_table(
        ["State", "Severity", "Key", "Title", "Fired", "Resolved"],
        (
            [
                "active" if r.active else "resolved",
                r.severity,
                r.key,
                r.title,
                r.first_fired_at,
                r.resolved_at,
            ]
            for r in rows
        ),
        empty="no active alerts" if active else "no alerts",
        optional=("Resolved", "Key"),
    )


@alerts.command("test")
def test_cmd(ctx: typer.Context) -> None:
    """Send a test alert through every sink (the log and each [[alerts.sinks]] entry) and
    report each result. Exits 1 when any sink failed."""
    from optimizer.alerts.delivery import send_now
    from optimizer.alerts.model import Alert
    from optimizer.alerts.sinks import build_sinks

    config = ctx.obj.config()
    now = SystemClock().now()
    alert = Alert(
        key="test:alerts-test",
        severity="info",
        title="Test alert from fluence-optimizer",
        text="if you can read this, the sink works",
        status="test",
        fired_at=now,
    )
    failed = 0
    for sink in build_sinks(config):
        err = send_now(sink, alert)
        if err is None:
            print_line(f"{sink.name}: ok")
        else:
            failed += 1
            print_line(f"{sink.name}: FAILED: {safe(err)}")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the main app."""
    app.add_typer(alerts)
