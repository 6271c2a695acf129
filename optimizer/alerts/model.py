"""The Alert value every rule returns and every sink receives."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

Severity = Literal["info", "warning", "critical"]
Status = Literal["firing", "resolved", "test"]
SOURCE = "fluence-optimizer"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


@dataclass(frozen=True)
class Alert:
    """One alert condition.

    `key` is stable for as long as the condition lasts (`<family>:<subject>`, e.g.
    `budget.forecast:web`); the family before the first ':' names the rule. `level`
    orders escalations of the same key (a higher level notifies again at once, e.g. the
    forecast crossing 80 % after 50 %). `event` alerts are one-shot facts (a failed
    migration): notified once, closed quietly without a "resolved" message.
    `status` is what the notification says: firing, resolved, or test.
    """

    key: str
    severity: Severity
    title: str
    text: str
    fleet: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    level: float = 0
    event: bool = False
    status: Status = "firing"
    fired_at: datetime | None = None

    @property
    def family(self) -> str:
        return self.key.split(":", 1)[0]

    def with_status(self, status: Status, fired_at: datetime | None = None) -> Alert:
        return replace(self, status=status, fired_at=fired_at or self.fired_at)

    def summary(self) -> str:
        """One human line, also the Slack-compatible `text`."""
        tag = {"firing": "FIRING", "resolved": "RESOLVED", "test": "TEST"}[self.status]
        return f"[{tag}] {self.title}: {self.text}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["text"] = self.summary()  # Slack/Mattermost incoming webhooks show `text`
        d["message"] = self.text
        d["source"] = SOURCE
        out: dict[str, Any] = json.loads(json.dumps(d, default=_jsonable))
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> Alert:
        d = json.loads(raw)
        fired = d.get("fired_at")
        return cls(
            key=d["key"],
            severity=d["severity"],
            title=d["title"],
            text=d.get("message", d.get("text", "")),
            fleet=d.get("fleet"),
            data=d.get("data") or {},
            level=d.get("level", 0),
            event=d.get("event", False),
            status=d.get("status", "firing"),
            fired_at=datetime.fromisoformat(fired) if fired else None,
        )
