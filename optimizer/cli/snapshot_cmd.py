"""CLI commands: `snapshot` (poll the marketplace now and store it) and
`history offers` (price history of offers from the store).

Thin: parse options, call `optimizer.store`, render a table or JSON.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import typer

from optimizer.cli.db_cmd import store
from optimizer.cli.render import print_json, print_line, print_table
from optimizer.clock import SystemClock
from optimizer.countries import country_problem
from optimizer.errors import ConfigError
from optimizer.frames import records

if TYPE_CHECKING:
    import pandas as pd

    from optimizer.cli.context import AppContext

history = typer.Typer(
    name="history",
    help="Look back at recorded marketplace history (from the snapshot store).",
    no_args_is_help=True,
)


def snapshot_cmd(
    ctx: typer.Context,
    vms: bool = typer.Option(True, "--vms/--no-vms", help="Also record the account's VMs."),
) -> None:
    """Take one marketplace snapshot now and store it; print offers seen, new, changed,
    vanished."""
    from optimizer.store.ingest import take_snapshot

    app: AppContext = ctx.obj
    with store(app) as engine:
        summary, vm_summary = take_snapshot(engine, app.client(), SystemClock(), vms=vms)
    if not summary.ok:
        print_line(f"snapshot {summary.snapshot_id} failed: {summary.error}")
        raise typer.Exit(1)
    extra = f", {summary.reappeared} back" if summary.reappeared else ""
    dup = f", {summary.duplicates} duplicate key(s) suffixed" if summary.duplicates else ""
    print_line(
        f"snapshot {summary.snapshot_id}: {summary.seen} offers seen, {summary.new} new, "
        f"{summary.changed} changed, {summary.vanished} vanished{extra}{dup}"
    )
    if vm_summary is not None:
        print_line(
            f"vms: {vm_summary.seen} seen, {vm_summary.new} new, {vm_summary.changed} changed"
        )


def unit_title(units: set[str]) -> str:
    """`USD per epoch` (marketplace-v3), `USD per hour` (cloud), or both, spelled out."""
    if units <= {"epoch"}:
        return "USD per epoch"
    if units == {"hour"}:
        return "USD per hour"
    return "USD per hour (/h) or per 24 h epoch (/24h)"


def _since(value: str) -> timedelta:
    from optimizer.config import parse_duration

    try:
        span = parse_duration(value)
    except ValueError as err:
        raise ConfigError(f"--since: {err}") from None
    if span <= timedelta(0):
        raise ConfigError("--since: must be a positive duration like 7d")
    return span


def summarize_offers(obs: pd.DataFrame) -> pd.DataFrame:
    """Per-offer summary of observations: first/last seen, samples, min/last/max price,
    last capacity, number of price changes; cheapest (last price) first."""
    g = obs.groupby("offer_key", sort=False)
    out = g.agg(
        configuration=("configuration", "last"),
        price_unit=("price_unit", "last"),
        datacenter=("datacenter", "last"),
        first_seen=("ts", "min"),
        last_seen=("ts", "max"),
        samples=("ts", "size"),
        price_min=("price_usd", "min"),
        price_last=("price_usd", "last"),
        price_max=("price_usd", "max"),
        capacity_last=("capacity", "last"),
    )
    out["price_changes"] = g["price_usd"].agg(lambda s: int((s.diff().fillna(0) != 0).sum()))
    return out.reset_index().sort_values(["price_last", "offer_key"], kind="stable")


@history.command("offers")
def history_offers_cmd(
    ctx: typer.Context,
    since: str = typer.Option("7d", "--since", help="How far back: 30m, 12h, 7d ..."),
    configuration: str | None = typer.Option(
        None, "--configuration", help="Only this configuration slug."
    ),
    country: str | None = typer.Option(
        None, "--country", metavar="CC", help="Only this ISO country code."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON: per offer, its summary and every price change."
    ),
) -> None:
    """Price history per offer over the last --since, cheapest (latest price) first."""
    from optimizer.store.queries import price_observations

    span = _since(since)
    if country is not None and (problem := country_problem(country)):
        raise ConfigError(f"--country: {problem}")
    app: AppContext = ctx.obj
    now = SystemClock().now()
    with store(app) as engine:
        obs = price_observations(
            engine,
            since=now - span,
            configuration=configuration,
            country=country.strip().upper() if country else None,
        )
    if obs.empty:
        if as_json:
            print_json([])
        else:
            print_line(f"no offers recorded in the last {since}")
        return
    table = summarize_offers(obs)
    if as_json:
        changes = {
            key: [
                {
                    "ts": r["ts"].isoformat(),
                    "priceUsd": f"{r['price_usd']:.6f}",
                    "capacity": r["capacity"],
                }
                for r in records(grp)
            ]
            for key, grp in obs[
                (obs.groupby("offer_key")["price_usd"].diff() != 0)
                | (obs.groupby("offer_key")["capacity"].diff() != 0)
            ].groupby("offer_key")
        }
        print_json(
            [
                {
                    "offerKey": r["offer_key"],
                    "configuration": r["configuration"],
                    "datacenter": r["datacenter"],
                    "firstSeen": r["first_seen"].isoformat(),
                    "lastSeen": r["last_seen"].isoformat(),
                    "samples": int(r["samples"]),
                    "priceMinUsd": f"{r['price_min']:.6f}",
                    "priceLastUsd": f"{r['price_last']:.6f}",
                    "priceMaxUsd": f"{r['price_max']:.6f}",
                    "priceUnit": r["price_unit"],
                    "capacityLast": int(r["capacity_last"]),
                    "changes": changes.get(r["offer_key"], []),
                }
                for r in records(table)
            ]
        )
        return
    units = set(table["price_unit"])

    def tag(unit: str) -> str:
        """Mixed units: each price says what it is per."""
        return "" if len(units) == 1 else (" /h" if unit == "hour" else " /24h")

    print_table(
        [
            "Offer key",
            "Configuration",
            "Datacenter",
            ("Min", "right"),
            ("Last", "right"),
            ("Max", "right"),
            ("Changes", "right"),
            ("Avail", "right"),
            "First seen",
            "Last seen",
        ],
        (
            [
                r["offer_key"],
                r["configuration"],
                r["datacenter"],
                f"{r['price_min']:.5f}{tag(str(r['price_unit']))}",
                f"{r['price_last']:.5f}{tag(str(r['price_unit']))}",
                f"{r['price_max']:.5f}{tag(str(r['price_unit']))}",
                int(r["price_changes"]),
                int(r["capacity_last"]),
                r["first_seen"].to_pydatetime(),
                r["last_seen"].to_pydatetime(),
            ]
            for r in records(table)
        ),
        title=f"Offers in the last {since} ({unit_title(units)})",
    )


def register(app: typer.Typer) -> None:
    """Add this group's commands to the main app."""
    app.command("snapshot")(snapshot_cmd)
    app.add_typer(history)
