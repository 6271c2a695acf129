"""Budget alerts: rules (pure), stored state (fire once / re-notify / resolve), sinks
(log, webhook, command, email) and queued delivery. The cycle calls
`optimizer.alerts.run_alerts(engine, config, now, plans=..., errors=...)` once per tick."""

from __future__ import annotations

from optimizer.alerts.model import Alert
from optimizer.alerts.tick import AlertsResult, load_budget, run_alerts, summarize_plan

__all__ = ["Alert", "AlertsResult", "load_budget", "run_alerts", "summarize_plan"]
