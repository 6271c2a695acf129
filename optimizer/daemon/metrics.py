"""Optional Prometheus endpoint (`[metrics] listen = "127.0.0.1:9464"`).

All metrics live in a dedicated `CollectorRegistry` owned by a `Metrics` object (never the
global default registry), so tests and the demo can build as many as they like. The
cycle updates them through small methods; without `metrics.listen` nothing is served
but the object still works (and costs nothing worth mentioning).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from optimizer.errors import ConfigError

PREFIX = "fluence_optimizer"


class Metrics:
    """The daemon's metrics. `serve(listen)` starts the HTTP endpoint; `close()` stops it."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.fleet_cost = Gauge(
            f"{PREFIX}_fleet_cost_usd_per_epoch",
            "What the fleet's VMs cost per epoch (24 h), at their current prices.",
            ["fleet"],
            registry=r,
        )
        self.realized_savings = Gauge(
            f"{PREFIX}_realized_savings_usd",
            "Savings realized so far by completed migrations: (old - new price) x epochs since.",
            ["fleet"],
            registry=r,
        )
        self.vms = Gauge(f"{PREFIX}_vms", "Owned VMs by status.", ["fleet", "status"], registry=r)
        self.snapshot_age = Gauge(
            f"{PREFIX}_snapshot_age_seconds",
            "Seconds since the last successful offer snapshot (at the end of a tick).",
            registry=r,
        )
        self.snapshot_duration = Gauge(
            f"{PREFIX}_snapshot_duration_seconds",
            "Wall time of the last snapshot stage.",
            registry=r,
        )
        self.last_snapshot_ts = Gauge(
            f"{PREFIX}_last_snapshot_timestamp_seconds",
            "Unix time of the last successful snapshot.",
            registry=r,
        )
        self.offers_skipped = Counter(
            f"{PREFIX}_offers_skipped",
            "Malformed offers left out of stored snapshots (a field too long, a bad price).",
            registry=r,
        )
        self.api_errors = Counter(
            f"{PREFIX}_api_errors",
            "Fluence API failures seen by the daemon, by kind (error class).",
            ["kind"],
            registry=r,
        )
        self.actions = Counter(
            f"{PREFIX}_actions",
            "Executor actions, by kind and outcome.",
            ["kind", "outcome"],
            registry=r,
        )
        self.budget_used = Gauge(
            f"{PREFIX}_budget_used_ratio",
            "Spend divided by budget, by scope (epoch / month) and fleet ('' = global).",
            ["scope", "fleet"],
            registry=r,
        )
        self.ticks = Counter(
            f"{PREFIX}_ticks", "Cycles run, by outcome (ok / degraded).", ["outcome"], registry=r
        )
        self.tick_duration = Gauge(
            f"{PREFIX}_tick_duration_seconds", "Wall time of the last cycle.", registry=r
        )
        self.leader = Gauge(
            f"{PREFIX}_leader", "1 while this replica is the leader, else 0.", registry=r
        )
        self.leader_term = Gauge(
            f"{PREFIX}_leader_term",
            "The leader term (fencing token) this replica last won; 0 before any.",
            registry=r,
        )
        self.malformed_items = _MalformedItems()
        r.register(self.malformed_items)
        self._server: Any = None
        self._thread: Any = None

    # -- updates used by the cycle -------------------------------------------------
    def set_fleet(
        self, fleet: str, *, cost_per_epoch: Decimal, vms_by_status: dict[str, int]
    ) -> None:
        self.fleet_cost.labels(fleet).set(float(cost_per_epoch))
        for status, n in vms_by_status.items():
            self.vms.labels(fleet, status).set(n)

    def api_error(self, err: BaseException) -> None:
        self.api_errors.labels(type(err).__name__).inc()

    def action(self, kind: str, outcome: str) -> None:
        self.actions.labels(kind, outcome).inc()

    def set_leader(self, leading: bool, term: int | None) -> None:
        """Leadership changed (called by the leader elector)."""
        self.leader.set(1 if leading else 0)
        if term is not None:
            self.leader_term.set(term)

    # -- endpoint --------------------------------------------------------------------
    def serve(self, listen: str) -> tuple[str, int]:
        """Serve /metrics on `host:port`; returns the bound address (port 0 picks one)."""
        from prometheus_client import start_http_server

        host, port = parse_listen(listen)
        try:
            started = start_http_server(port, addr=host, registry=self.registry)
        except OSError as e:
            raise ConfigError(f"metrics.listen: cannot listen on {listen}: {e.strerror}") from None
        if isinstance(started, tuple):  # prometheus-client >= 0.20 returns (server, thread)
            self._server, self._thread = started
            return self._server.server_address[:2]  # type: ignore[no-any-return]
        return host, port

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def render(self) -> str:
        """The text exposition (what /metrics answers)."""
        return generate_latest(self.registry).decode()


class _MalformedItems:
    """`fluence_optimizer_api_malformed_items_total{kind}`: list items the API client
    emptied or skipped because they did not parse (`optimizer.fluence.tolerant`), read
    from the process-wide count at scrape time."""

    _name = f"{PREFIX}_api_malformed_items"
    _labelnames = ("kind",)

    def describe(self) -> list[Any]:
        return [self._family()]

    def collect(self) -> list[Any]:
        from optimizer.fluence.tolerant import MALFORMED

        family = self._family()
        for kind, n in sorted(MALFORMED.items()):
            family.add_metric([kind], n)
        return [family]

    @staticmethod
    def _family() -> Any:
        from prometheus_client.core import CounterMetricFamily

        return CounterMetricFamily(
            _MalformedItems._name,
            "API list items (VMs, SSH keys, offers, ...) emptied or skipped because they did "
            "not parse, by kind.",
            labels=["kind"],
        )


def parse_listen(listen: str) -> tuple[str, int]:
    """`"127.0.0.1:9464"`, `":9464"` or `"[::1]:9464"` → (host, port); ConfigError otherwise."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"metrics.listen: {listen!r} is not host:port (e.g. 127.0.0.1:9464)")
    host = host.strip("[]") or "0.0.0.0"  # ":9464": all interfaces
    return host, int(port)
