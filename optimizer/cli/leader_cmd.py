"""CLI command: `leader` — which replica leads, its term (fencing token), since when,
and when it last renewed its lease."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

from optimizer.cli.render import print_json, print_table

if TYPE_CHECKING:
    from optimizer.cli.context import AppContext


def register(app: typer.Typer) -> None:
    """Add this group's commands to the main app."""

    @app.command("leader")
    def leader(
        ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")
    ) -> None:
        """Show which daemon replica leads (host:pid), its term, since when, last renewal.

        On PostgreSQL it also says whether the leader's advisory lock is held right now:
        "no" means the last leader is gone and a follower takes over at its next poll.
        """
        from optimizer.daemon.leader import read_leader
        from optimizer.store.engine import safe_url

        app_ctx: AppContext = ctx.obj
        engine = app_ctx.engine()
        try:
            info = read_leader(engine)
            url = safe_url(engine.url)
        finally:
            engine.dispose()
        now = datetime.now(UTC)
        data = info.as_dict()
        data["database"] = url
        data["renewed_seconds_ago"] = (
            round((now - info.renewed_at).total_seconds(), 1) if info.renewed_at else None
        )
        if as_json:
            print_json(data)
            return
        if info.term == 0:
            print_table(["", ""], [["leader", "none yet (no daemon has led)"]], title=url)
            return
        held = {True: "yes", False: "no (leader gone; a follower takes over)", None: "n/a"}
        rows: list[list[object]] = [
            ["leader", info.holder or "-"],
            ["term", info.term],
            ["since", info.since.isoformat() if info.since else "-"],
            [
                "last renewal",
                f"{info.renewed_at.isoformat()} ({data['renewed_seconds_ago']} s ago)"
                if info.renewed_at
                else "-",
            ],
            ["lock held", held[info.lock_held]],
        ]
        print_table(["", ""], rows, title=url)
