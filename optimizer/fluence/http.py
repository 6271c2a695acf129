"""HTTP plumbing shared by both API generations' clients: base-URL safety, one request
with retries, the error body → typed `ApiError` mapping, and tolerant response parsers.

Each generation's client subclasses `HttpApi` and supplies `error_for` (how its statuses
and error codes map onto `optimizer.errors`); everything else is common:
- every call has a timeout (the injected `httpx.Client` carries an explicit `httpx.Timeout`);
- only idempotent calls are retried (GETs and reads sent as POST), with exponential
  backoff and full jitter, honouring `Retry-After`; anything that creates, changes or
  deletes is sent exactly once;
- errors carry the API's message (control characters stripped, truncated, the key
  redacted) and the endpoint, never the key or the request headers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import structlog
from pydantic import BaseModel, TypeAdapter, ValidationError

from optimizer.errors import (
    ApiError,
    AuthError,
    BadResponse,
    ClientRequestError,
    ConfigError,
    RateLimited,
    ServerError,
    TransportError,
)
from optimizer.fluence.credentials import Secret, redact
from optimizer.fluence.retry import RETRYABLE_STATUSES, RetryPolicy, parse_retry_after
from optimizer.untrusted import one_line
from optimizer.urls import is_loopback_host

log = structlog.get_logger("optimizer.fluence.client")

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

MAX_MESSAGE_CHARS = 200


def clean_message(
    text: object, secret: Secret | None = None, limit: int = MAX_MESSAGE_CHARS
) -> str:
    """Make untrusted text safe for one log/terminal line: control characters (including
    ANSI escapes' ESC and bidi overrides) become spaces, the key is redacted, long text
    is truncated with an ellipsis."""
    return one_line(redact(str(text), secret), limit)


def validate_base_url(url: str) -> httpx.URL:
    """Return the parsed base URL; raise ConfigError unless it is https://, or http:// to
    a loopback host."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise ConfigError(f"api.base_url: {clean_message(url, limit=80)!r} is not a URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(
            f"api.base_url: {clean_message(url, limit=80)!r} is not an http(s) URL "
            "(write it like https://api.fluence.dev)"
        )
    if parsed.userinfo:
        raise ConfigError("api.base_url: must not contain a user name or password")
    if parsed.scheme == "http" and not is_loopback_host(parsed.host):
        raise ConfigError("api.base_url: plain http:// is only allowed for loopback hosts")
    return parsed


class HttpApi:
    """One generation's client over an injected `httpx.Client` (base URL, auth header and
    timeout live on it). `sleep` is how the client waits between retries, so tests
    control time. Subclasses implement `error_for`."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        retries: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        secret: Secret | None = None,
    ) -> None:
        self.http = http
        self.retries = retries if retries is not None else RetryPolicy()
        self.sleep = sleep
        self._secret = secret

    @property
    def secret(self) -> Secret | None:
        """The API key this client sends (a Secret: shows `***`), for log redaction."""
        return self._secret

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={str(self.http.base_url)!r})"

    def close(self) -> None:
        self.http.close()

    def error_for(
        self, status: int, detail: str, code: str | None, retry_after: float | None, endpoint: str
    ) -> ApiError:
        """The typed error for a non-2xx answer (`detail` is the cleaned API message)."""
        raise NotImplementedError

    def _call(
        self,
        method: str,
        path: str,
        parse: Callable[[bytes], T],
        *,
        json: Any = None,
        params: Any = None,
        idempotent: bool = False,
        endpoint: str | None = None,
    ) -> T:
        """Send one request (with retries when `idempotent` or a GET) and parse the body.
        `endpoint` names the call in errors and logs (default `METHOD path`; give the
        templated path when `path` holds an id)."""
        endpoint = endpoint or f"{method} {path}"
        retryable = idempotent or method == "GET"
        max_retries = self.retries.max_retries if retryable else 0
        attempt = 0
        while True:
            try:
                response = self._send(method, path, endpoint, json=json, params=params)
                self._check_status(response, endpoint)
                try:
                    return parse(response.content)
                except BadResponse as err:
                    raise BadResponse(
                        err.message, endpoint=endpoint, status=response.status_code
                    ) from None
            except (RateLimited, ServerError, TransportError, BadResponse) as err:
                if isinstance(err, ServerError) and err.status not in RETRYABLE_STATUSES:
                    raise
                if attempt >= max_retries:
                    raise
                retry_after = getattr(err, "retry_after", None)
                delay = self.retries.delay(attempt, retry_after)
                log.warning(
                    "fluence.retry",
                    endpoint=endpoint,
                    attempt=attempt + 1,
                    max_retries=max_retries,
                    delay_s=round(delay, 3),
                    reason=err.message,
                )
                self.sleep(delay)
                attempt += 1

    def _send(
        self, method: str, path: str, endpoint: str, *, json: Any, params: Any
    ) -> httpx.Response:
        try:
            return self.http.request(method, path, json=json, params=params)
        except httpx.TimeoutException as e:
            raise TransportError(
                f"Fluence API timed out ({type(e).__name__})", endpoint=endpoint
            ) from None
        except httpx.TransportError as e:
            detail = clean_message(e, self._secret, limit=120) or type(e).__name__
            raise TransportError(
                f"cannot reach the Fluence API: {detail}", endpoint=endpoint
            ) from None

    def _check_status(self, response: httpx.Response, endpoint: str) -> None:
        """Raise the typed error for a non-2xx response (Retry-After parsed onto 429/503)."""
        status = response.status_code
        if status < 400:
            if status >= 300:
                raise ClientRequestError(
                    f"unexpected redirect ({status}); check api.base_url",
                    status=status,
                    endpoint=endpoint,
                )
            return
        detail, code = self._api_message(response)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise self.error_for(status, detail, code, retry_after, endpoint)

    def _api_message(self, response: httpx.Response) -> tuple[str, str | None]:
        """The API's `error` message (or a short body excerpt) and its `code`, if any."""
        raw = response.content[:4096]
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return clean_message(raw.decode("utf-8", "replace"), self._secret, limit=120), None
        if isinstance(data, dict):
            code = data.get("code")
            code = clean_message(code, self._secret, limit=40) if isinstance(code, str) else None
            msg = data.get("error") or data.get("message") or data.get("detail")
            if msg is not None:
                return clean_message(msg, self._secret), code or None
            return "", code or None
        return "", None


def common_error(
    status: int, suffix: str, retry_after: float | None, kw: dict[str, Any]
) -> ApiError:
    """The mapping both generations share: 401/403 auth, 429 rate limit, 5xx server,
    other 4xx a rejected request."""
    if status in (401, 403):
        return AuthError(f"Fluence API rejected the API key ({status}){suffix}", **kw)
    if status == 429:
        return RateLimited(f"rate limited ({status}){suffix}", retry_after=retry_after, **kw)
    if status >= 500:
        err = ServerError(f"Fluence API server error ({status}){suffix}", **kw)
        # Retry-After is honoured on 503 only (429 carries it in RateLimited)
        err.retry_after = retry_after if status == 503 else None  # type: ignore[attr-defined]
        return err
    return ClientRequestError(f"request rejected ({status}){suffix}", **kw)


# --- response parsers ----------------------------------------------------------------------


def unwrap(data: Any, *keys: str) -> Any:
    """A bare list, or the list under the first of `keys` present in a wrapping object."""
    if isinstance(data, dict):
        for k in keys:
            if k in data:
                return data[k]
    return data


def first_error(err: ValidationError) -> str:
    """`loc: msg` of a validation error's first problem."""
    first = err.errors()[0] if err.errors() else {"loc": (), "msg": "invalid"}
    loc = ".".join(str(p) for p in first.get("loc", ()))
    return f"{loc}: {first.get('msg', 'invalid')}" if loc else str(first.get("msg", "invalid"))


def decode(body: bytes) -> Any:
    """JSON body → Python; BadResponse when it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadResponse("malformed response: body is not JSON") from None


def list_of(item: type[T], *wrappers: str) -> Callable[[bytes], list[T]]:
    """Parser of a list of `item`: a bare array or the array under one of `wrappers`."""
    adapter: TypeAdapter[list[T]] = TypeAdapter(list[item])  # type: ignore[valid-type]

    def parse(body: bytes) -> list[T]:
        data = unwrap(decode(body), *wrappers)
        try:
            return adapter.validate_python(data)
        except ValidationError as e:
            raise BadResponse(f"unexpected response shape: {first_error(e)}") from None

    return parse


def model(model: type[M]) -> Callable[[bytes], M]:
    """Parser of one object of `model`."""

    def parse(body: bytes) -> M:
        try:
            return model.model_validate(decode(body))
        except ValidationError as e:
            raise BadResponse(f"unexpected response shape: {first_error(e)}") from None

    return parse


def optional_model(model: type[M]) -> Callable[[bytes], M | None]:
    """Parser of an optional echo: the object, or None for an empty or unexpected body."""

    def parse(body: bytes) -> M | None:
        if not body.strip():
            return None
        try:
            data = json.loads(body)
            return model.model_validate(data)
        except (ValueError, UnicodeDecodeError, ValidationError):
            return None  # the call succeeded; an unexpected echo is not an error

    return parse


def ignore(body: bytes) -> None:
    """For 204/empty or informational answers: nothing to return."""
    return None
