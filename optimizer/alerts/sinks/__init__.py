"""Alert sinks: same-shaped plug-ins, one module each, each with one `send(alert)`.

A sink's `send` delivers one Alert (status firing, resolved or test) or raises
`SinkError` with a one-line reason (no secrets). Each sink bounds its own I/O by its
`timeout`; the delivery layer also runs sends in worker threads with a bounded join, so
a hung sink never holds the tick longer than its timeout.

The log sink is always present, first; configured sinks follow in config order, named
`<index>:<kind>` (index in `[[alerts.sinks]]`).
"""

from __future__ import annotations

from typing import Protocol

from optimizer.alerts.model import Alert
from optimizer.config import AlertSink, Config


class SinkError(Exception):
    """A sink could not deliver; `str()` is a one-line reason without secrets."""


class Sink(Protocol):
    name: str
    timeout: float

    def send(self, alert: Alert) -> None: ...


def build_sink(index: int, spec: AlertSink) -> Sink:
    """The sink for one `[[alerts.sinks]]` entry."""
    name = f"{index}:{spec.kind}"
    timeout = spec.timeout.total_seconds()
    if spec.kind == "webhook":
        from optimizer.alerts.sinks.webhook import WebhookSink

        assert spec.url
        return WebhookSink(name, spec.url, timeout)
    if spec.kind == "command":
        from optimizer.alerts.sinks.command import CommandSink

        assert spec.command
        return CommandSink(name, spec.command, timeout, pass_env=spec.pass_env)
    if spec.kind == "email":
        from optimizer.alerts.sinks.email import EmailSink

        return EmailSink.from_spec(name, spec)
    from optimizer.alerts.sinks.log import LogSink

    return LogSink(name, timeout)


def build_sinks(config: Config) -> list[Sink]:
    """The log sink, then every configured sink except extra `log` entries."""
    from optimizer.alerts.sinks.log import LogSink

    sinks: list[Sink] = [LogSink("log", 1.0)]
    for i, spec in enumerate(config.alerts.sinks):
        if spec.kind != "log":
            sinks.append(build_sink(i, spec))
    return sinks
