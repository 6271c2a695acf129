"""Logging: JSON lines off a TTY, tick/fleet context on every line, the API key never shown."""

from __future__ import annotations

import io
import json

import structlog
from structlog.testing import CapturingLoggerFactory

from optimizer.daemon.logging import configure_logging, get_logger, redact_processor, redact_text

KEY = "fk_live_9c1d2e3f4a5b6c7d8e9f"


def test_redaction_processor_replaces_key_everywhere_in_the_event() -> None:
    """Nested values, exception objects, dict keys and bearer-looking tokens are all redacted."""
    configure_logging(stream=io.StringIO(), secrets=[KEY])
    event = {
        "event": f"request failed with key {KEY}",
        "headers": {"Authorization": f"Bearer {KEY}", "X-API-KEY": KEY},
        "args": [KEY, ("nested", KEY)],
        "exc": ValueError(f"boom {KEY}"),
        KEY: "as a key",
        "other_token": "Authorization: Bearer abcdefgh12345678",
        "count": 3,
    }
    out = redact_processor(None, "info", event)
    text = json.dumps(out, default=str)
    assert KEY not in text
    assert "abcdefgh12345678" not in text
    assert out["count"] == 3
    assert out["event"] == "request failed with key ***"


def test_bearer_and_header_patterns_are_redacted_without_registration() -> None:
    assert "s3cr3tt0ken" not in redact_text("curl -H 'Authorization: Bearer s3cr3tt0ken'")
    assert "s3cr3tt0ken" not in redact_text('{"x-api-key": "s3cr3tt0ken"}')
    assert redact_text("nothing secret here, bearer") == "nothing secret here, bearer"


def test_real_json_output_carries_context_and_never_the_key() -> None:
    """What journald would receive: one JSON object per line, tick and fleet bound."""
    stream = io.StringIO()
    configure_logging(stream=stream, secrets=[KEY])
    log = get_logger("test")
    structlog.contextvars.bind_contextvars(tick=42, fleet="web")
    try:
        log.info("deploy", detail=f"key={KEY}")
        log.error("failed", error=RuntimeError(f"Authorization: Bearer {KEY}"))
    finally:
        structlog.contextvars.clear_contextvars()
    raw = stream.getvalue()
    assert KEY not in raw
    lines = [json.loads(line) for line in raw.splitlines()]
    assert [entry["event"] for entry in lines] == ["deploy", "failed"]
    assert all(entry["tick"] == 42 and entry["fleet"] == "web" for entry in lines)
    assert lines[0]["level"] == "info" and lines[0]["timestamp"].endswith("Z")


def test_exception_tracebacks_are_redacted_too() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream, secrets=[KEY])
    try:
        raise RuntimeError(f"bad header Bearer {KEY}")
    except RuntimeError:
        get_logger().exception("unexpected")
    assert KEY not in stream.getvalue()
    assert "RuntimeError" in stream.getvalue()


def test_console_renderer_on_tty_is_redacted() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    configure_logging(stream=stream, secrets=[KEY])
    get_logger().warning("hello", key=KEY)
    out = stream.getvalue()
    assert "hello" in out and KEY not in out
    assert not out.lstrip().startswith("{")  # console format, not JSON


def test_capturing_logger_sees_redacted_events() -> None:
    """structlog.testing: with our processor chain, what reaches the logger is redacted."""
    configure_logging(stream=io.StringIO(), secrets=[KEY])
    factory = CapturingLoggerFactory()
    structlog.configure(logger_factory=factory)
    try:
        structlog.get_logger().info("x", k=KEY)
    finally:
        configure_logging(stream=io.StringIO())
    assert factory.logger.calls
    rendered = factory.logger.calls[0].args[0]
    assert KEY not in rendered and "***" in rendered
