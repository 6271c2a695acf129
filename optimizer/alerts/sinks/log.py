"""The log sink: every notification as one structured log event. Always on."""

from __future__ import annotations

import structlog

from optimizer.alerts.model import Alert

log = structlog.get_logger("optimizer.alerts")


class LogSink:
    def __init__(self, name: str = "log", timeout: float = 1.0) -> None:
        self.name = name
        self.timeout = timeout

    def send(self, alert: Alert) -> None:
        """Log the alert: warning when firing (error when critical), info otherwise."""
        level = "info"
        if alert.status == "firing":
            level = "error" if alert.severity == "critical" else "warning"
        getattr(log, level)(
            "alert",
            key=alert.key,
            status=alert.status,
            severity=alert.severity,
            title=alert.title,
            text=alert.text,
            fleet=alert.fleet,
        )
