"""CLI: `fluence-optimizer backtest` — what would a policy have cost over recorded history?"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from optimizer.config import FleetConfig, FleetPolicy

from optimizer.errors import ConfigError
from optimizer.private_files import write_private_text


def _fleets_from_file(path: Path) -> list[FleetConfig]:
    """Read fleets from a TOML file: a whole optimizer config (`[[fleets]]`), or one fleet
    at the top level (`name = ...`)."""
    from pydantic import ValidationError

    from optimizer.config import Config, FleetConfig, format_validation_error, read_toml

    data = read_toml(path, "fleet configuration")

    try:
        if "fleets" in data or "name" not in data:
            cfg = Config.model_validate(data)
            if not cfg.fleets:
                raise ConfigError(f"{path}: no [[fleets]] declared")
            return list(cfg.fleets)
        return [FleetConfig.model_validate(data)]
    except ValidationError as err:
        raise ConfigError(format_validation_error(str(path), err)) from None


def _policy_set(spec: str) -> tuple[str, FleetPolicy]:
    from pydantic import ValidationError

    from optimizer.config import FleetPolicy, format_validation_error, read_toml

    name, sep, file = spec.partition("=")
    if not sep or not name or not file:
        raise ConfigError(f"--policy-set {spec!r}: write it as NAME=FILE")
    if name in ("static", "greedy", "optimum"):
        raise ConfigError(f"--policy-set {spec!r}: {name!r} is the name of a baseline")
    p = Path(file)
    data = read_toml(p, "policy file")
    data = data.get("policy", data)
    try:
        return name, FleetPolicy.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(str(p), err)) from None


def register(app: typer.Typer) -> None:  # noqa: C901 — holds the command below
    """Add this group's commands to the main app."""

    @app.command("backtest")
    def backtest(  # noqa: C901 — a typer command: each option is checked and turned into
        # the backtest's inputs in turn, and its errors must name the option
        ctx: typer.Context,
        fleet_config: Path | None = typer.Option(
            None,
            "--fleet-config",
            help="TOML with the fleet(s) to test: an optimizer config with \\[\\[fleets]], "
            "or one fleet at the top level. Default: the --config file.",
        ),
        from_db: bool = typer.Option(
            False, "--from-db", help="Read price history from the store (database.url)."
        ),
        prices: Path | None = typer.Option(
            None,
            "--prices",
            help="Read price history from a CSV: timestamp,offer_key,configuration,country,"
            "price_per_epoch_usd (or price_per_hour_usd)[,capacity,vcpu,ram_gb,tier,datacenter].",
        ),
        since: str = typer.Option(
            "90d", "--since", help="How much history to replay, back from its end (e.g. 90d)."
        ),
        fleet: str | None = typer.Option(None, "--fleet", help="Only this fleet."),
        policy_set: list[str] = typer.Option(
            [],
            "--policy-set",
            metavar="NAME=FILE",
            help="NAME=FILE: also run the planner with the \\[policy] table in FILE (repeatable).",
        ),
        price_model: str = typer.Option(
            "deal",
            "--price-model",
            help="deal: a VM keeps its deploy price; market: it pays its offer's price each "
            "epoch; per-second: it pays its offer's price of the moment for every second it "
            "exists (the cloud API generation).",
        ),
        lead_time: str = typer.Option(
            "10m", "--lead-time", help="Launch time of a new VM (deploy → Active)."
        ),
        step: str = typer.Option(
            "snapshot", "--step", help="Decide at every snapshot, or once per epoch."
        ),
        out: Path | None = typer.Option(
            None, "--out", help="Write an HTML report here (self-contained)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    ) -> None:
        """Replay recorded price history through the planner and compare it with the
        static, greedy and hindsight-optimal baselines."""
        from optimizer.backtest import prices as pr
        from optimizer.backtest.billing import PRICE_MODELS, BillingModel
        from optimizer.backtest.planner_policy import planner_policies
        from optimizer.backtest.replay import match_fleet
        from optimizer.backtest.report import render_html, render_json, render_text
        from optimizer.backtest.run import run_backtest
        from optimizer.clock import EPOCH_SECONDS
        from optimizer.config import parse_duration
        from optimizer.money import to_micros

        if from_db == (prices is not None):
            raise ConfigError("give exactly one of --from-db or --prices CSV")
        if price_model not in PRICE_MODELS:
            raise ConfigError(f"--price-model {price_model!r}: use {', '.join(PRICE_MODELS)}")
        if step not in ("snapshot", "epoch"):
            raise ConfigError(f"--step {step!r}: use snapshot or epoch")
        try:
            window = parse_duration(since)
            lead = parse_duration(lead_time)
        except ValueError as e:
            raise ConfigError(f"--since/--lead-time: {e}") from None
        if fleet_config is None:
            fleet_config = ctx.obj.resolved_config_path()
            if fleet_config is None:
                raise ConfigError(
                    "no fleets to test: give --fleet-config FILE or --config FILE "
                    "(no configuration file was found either)"
                )
        fleets = _fleets_from_file(fleet_config)
        if fleet is not None:
            fleets = [f for f in fleets if f.name == fleet]
            if not fleets:
                raise ConfigError(f"{fleet_config}: no fleet named {fleet!r}")
        skipped = [f for f in fleets if f.instances is None]
        for f in skipped:
            typer.echo(
                f"note: fleet {f.name} is sized by capacity; backtests need `instances` "
                "(not supported yet): skipped",
                err=True,
            )
        fleets = [f for f in fleets if f.instances is not None]
        if not fleets:
            raise ConfigError(
                f"{fleet_config}: no fleet sized by `instances` to backtest "
                "(fleets sized by capacity are not supported yet)"
            )
        sets = dict(_policy_set(s) for s in policy_set)

        if prices is not None:
            history = pr.load_csv(prices)
            history = history.window(history.end - window)
        else:
            history = pr.from_store(ctx.obj.engine(), datetime.now(UTC) - window)
        market = pr.Market.build(history)
        if price_model != "per-second":
            market = market.per_epoch()  # hourly points charged per epoch: × 24
        if step == "epoch":
            market = market.subsample(pr.epoch_steps(market.times, EPOCH_SECONDS))
        if market.n_steps < 2:
            raise ConfigError(
                f"{history.source}: need at least two snapshots to replay, found {market.n_steps}"
            )

        results = []
        for f in fleets:
            model = BillingModel(
                price_model=price_model,  # type: ignore[arg-type]
                lead_time_s=int(lead.total_seconds()),
                disruption_cost_micros=to_micros(f.policy.disruption_cost_usd),
            )
            fleet_market, whole = market.whole_vm(f.disk_gb, f.public_ip)
            match = match_fleet(fleet_market, f)
            pols, notes = planner_policies(f, fleet_market, sets)
            res = run_backtest(fleet_market, match, model, pols, fleet_name=f.name)
            res.notes.extend(notes)
            if whole is not None:
                res.notes.append(whole)
            results.append(res)

        if as_json:
            import json

            docs = [json.loads(render_json(r)) for r in results]
            typer.echo(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2))
        else:
            for r in results:
                typer.echo(render_text(r))
                typer.echo("")
        if out is not None:
            page = render_html(results)
            try:
                write_private_text(out, page)
            except OSError as e:
                raise ConfigError(f"{out}: cannot write the report: {e.strerror}") from None
            if not as_json:
                typer.echo(f"report written to {out}")
