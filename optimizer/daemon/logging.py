"""structlog, configured once for the whole process.

- JSON lines when the stream is not a TTY (journald, files), a readable console renderer
  on a TTY.
- `structlog.contextvars`: the daemon binds `tick`, and per stage `fleet` / `action`, so
  every line says which cycle (and fleet, action) it belongs to.
- A redaction processor runs last before rendering: it replaces every registered secret
  (the API key) and anything that looks like a bearer token or an `X-API-KEY` header value
  with `***`, in every string of the event, nested or not.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
import threading
from collections.abc import Iterable, MutableMapping
from typing import Any, Protocol, TextIO, cast

import structlog

REDACTED = "***"
_BEARER_RE = re.compile(r"(?i)\b(bearer)(\s+|%20)[A-Za-z0-9._~+/=\-]{8,}")
_HEADER_RE = re.compile(
    r"(?i)(x-api-key|api[_-]?key|authorization)(['\"]?\s*[:=]\s*['\"]?)(?!(?i:bearer)\b)(?!\*\*\*)([^\s'\",}]{6,})"
)

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Make `value` (e.g. the API key) redacted from every log line from now on.
    Values shorter than 6 characters are ignored (they would mangle ordinary text)."""
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


def redact_text(text: str) -> str:
    """`text` with every registered secret and bearer-looking token replaced by `***`."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _BEARER_RE.sub(lambda m: f"{m[1]} {REDACTED}", text)
    text = _HEADER_RE.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}", text)
    return text


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {_redact(k): _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return type(value)(_redact(v) for v in value)
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    if isinstance(value, int | float | bool) or value is None:
        return value
    # anything else is rendered with str()/repr() by the renderer: redact that text
    return redact_text(str(value))


def redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: redact every value (and key) of the event dict."""
    return {_redact(k): _redact(v) for k, v in event_dict.items()}


_configured = False


class LogStream(Protocol):
    """Where log lines go: a text stream (`sys.stderr`, a file, a test's buffer)."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...

    def isatty(self) -> bool: ...


def configure_logging(
    *,
    level: str = "info",
    stream: LogStream | None = None,
    json: bool | None = None,
    secrets: Iterable[str | None] = (),
) -> None:
    """Configure structlog (and the stdlib root logger) once for this process; calling it
    again reconfigures (the demo and tests redirect the stream).

    `json=None` picks JSON lines unless `stream` is a TTY.
    """
    global _configured
    for s in secrets:
        register_secret(s)
    out: LogStream = stream if stream is not None else sys.stderr
    if json is None:
        json = not out.isatty()
    lvl = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    renderer: Any = (
        structlog.processors.JSONRenderer(default=str)
        if json
        # plain tracebacks (what format_exc_info already made of the exception) whether or
        # not rich is installed, and whether or not the CLI hid it from structlog
        else structlog.dev.ConsoleRenderer(
            colors=_colors(out), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        # WriteLogger only calls write() and flush(): any LogStream will do
        logger_factory=structlog.WriteLoggerFactory(file=cast(TextIO, out)),
        cache_logger_on_first_use=False,
    )
    # third-party libraries logging through stdlib: warnings and up, same stream, redacted
    root = logging.getLogger()
    for h in list(root.handlers):
        if isinstance(h, _OurHandler):
            root.removeHandler(h)
    handler = _OurHandler(out)
    handler.addFilter(_StdlibRedactor())
    root.addHandler(handler)
    root.setLevel(max(lvl, logging.WARNING))
    _configured = True


class _OurHandler(logging.StreamHandler[LogStream]):
    """The root handler configure_logging installs (and replaces when called again)."""

    _fluence_optimizer = True  # how tests recognise it without importing this class


class _StdlibRedactor(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(record.getMessage())
        record.args = None
        return True


def _colors(out: LogStream) -> bool:
    """Colors only on a terminal (and on Windows only with colorama)."""
    if not out.isatty():
        return False
    return sys.platform != "win32" or importlib.util.find_spec("colorama") is not None


def is_configured() -> bool:
    return _configured


def get_logger(name: str | None = None) -> Any:
    """A structlog logger; `name` is bound as `logger`."""
    log = structlog.get_logger()
    return log.bind(logger=name) if name else log
