"""The webhook sink: the alert as JSON in a POST. The body has a Slack-compatible `text`
field (Slack, Mattermost and Rocket.Chat incoming webhooks show it), plus every field
of the alert (key, status, severity, title, message, fleet, data, fired_at, source)."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from optimizer.alerts.model import Alert
from optimizer.alerts.sinks import SinkError


def _where(url: str) -> str:
    """Scheme://host[:port] only: webhook paths often embed a secret token."""
    p = urlsplit(url)
    return f"{p.scheme}://{p.hostname}" + (f":{p.port}" if p.port else "")


class WebhookSink:
    def __init__(self, name: str, url: str, timeout: float) -> None:
        self.name = name
        self.url = url
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"WebhookSink({self.name!r}, {_where(self.url)!r})"

    def send(self, alert: Alert) -> None:
        """POST the alert JSON; raise SinkError on a transport error or a non-2xx answer."""
        try:
            with httpx.Client(timeout=httpx.Timeout(self.timeout)) as client:
                resp = client.post(
                    self.url,
                    content=alert.to_json().encode(),
                    headers={
                        "Content-Type": "application/json",
                        "User-Agent": "fluence-optimizer",
                    },
                )
        except httpx.TimeoutException:
            raise SinkError(
                f"webhook {_where(self.url)}: timed out after {self.timeout:g}s"
            ) from None
        except httpx.HTTPError as e:
            raise SinkError(f"webhook {_where(self.url)}: {type(e).__name__}") from None
        if not 200 <= resp.status_code < 300:
            raise SinkError(f"webhook {_where(self.url)}: HTTP {resp.status_code}")
