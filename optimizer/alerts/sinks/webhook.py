"""The webhook sink: the alert as JSON in a POST. The body has a Slack-compatible `text`
field (Slack, Mattermost and Rocket.Chat incoming webhooks show it), plus every field
of the alert (key, status, severity, title, message, fleet, data, fired_at, source).

Alert text carries API strings (VM names, errors), which are hostile: in `text` and
`title`, the fields chat services render, control characters are dropped, Slack's
control syntax (`<`, `>`, `&`) is escaped and mentions (`@channel`) and Markdown links
are defused, so a VM named `<!channel> <https://evil.example|Log in>` shows as typed.
The raw values stay only in the structured fields (`message`, `data`, `key`, `fleet`).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from optimizer.alerts.model import Alert
from optimizer.alerts.sinks import SinkError
from optimizer.untrusted import printable

_WORD_JOINER = "\u2060"  # invisible; splits `@here` or `](` without changing what is read


def chat_text(value: str) -> str:
    """`value` made inert for Slack/Mattermost rendering: unsafe characters dropped,
    `& < >` escaped as entities (the only escapes Slack defines), `@` and `](` split by
    an invisible word joiner so no mention or Markdown link forms."""
    s = printable(value, "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s.replace("@", "@" + _WORD_JOINER).replace("](", "]" + _WORD_JOINER + "(")


def body(alert: Alert) -> dict[str, Any]:
    """The JSON the webhook receives (rendered fields made inert, the rest raw)."""
    d = alert.to_dict()
    d["text"] = chat_text(d["text"])
    d["title"] = chat_text(d["title"])
    return d


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
                    content=json.dumps(body(alert), sort_keys=True).encode(),
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
