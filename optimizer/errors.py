"""The exception tree, and how each branch maps to a one-line message and an exit code.

    OptimizerError                    exit 1
    ├── ConfigError                   exit 2   bad config file, bad CLI value, insecure key file
    ├── ApiError                      exit 4   (base of every Fluence API failure)
    │   ├── AuthError                 exit 3   401/403: missing or wrong API key
    │   ├── NoMatchingOffers          exit 1   422 (marketplace-v3): no suitable / not enough offers
    │   ├── InsufficientBalance       exit 1   422 `insufficient_balance` (cloud): balance too low
    │   ├── NotAllowedNow             exit 4   406 (cloud): not allowed in the resource's status yet
    │   ├── ClientRequestError        exit 1   any other 4xx (permanent unless 408/409/425)
    │   │   └── RequestInvalid        exit 1   422 (cloud): the request failed validation
    │   ├── RateLimited               exit 4   429 (carries retry_after)
    │   ├── ServerError               exit 4   5xx
    │   ├── TransportError            exit 4   connect error, reset, timeout
    │   └── BadResponse               exit 4   malformed JSON or a body of the wrong shape
    ├── StoreError                    exit 5   database unreachable, read-only, full, newer schema
    ├── ExecutionError                exit 1   an action failed; carries fleet / action id
    ├── DegradedRun                   exit 6   `once`/`apply` ran to the end, but actions failed
    ├── AnalysisError                 exit 1   analysis of stored history crashed (a bug)
    └── LeadershipLost                exit 1   a stale leader tried to write

The library raises; only the CLI (`optimizer.cli.main`) turns an error into a line and an
exit code, and only the daemon decides to log, alert and carry on. Messages never contain
the API key: the client never puts request headers into an exception.
"""

from __future__ import annotations


class OptimizerError(Exception):
    """Base of every expected failure. `str(err)` is a complete one-line message."""

    exit_code = 1

    def __init__(self, message: str, **context: object) -> None:
        super().__init__(message)
        self.message = message
        self.context = {k: v for k, v in context.items() if v is not None}

    def __str__(self) -> str:
        if not self.context:
            return self.message
        where = ", ".join(f"{k}={v}" for k, v in self.context.items())
        return f"{self.message} ({where})"


class ConfigError(OptimizerError):
    """Invalid configuration or command-line value; the message names file and key path."""

    exit_code = 2


class ApiError(OptimizerError):
    """The Fluence API could not be used. `status` is the HTTP status when there was one;
    `code` the API's machine-readable error code (cloud generation) when it sent one."""

    exit_code = 4

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        endpoint: str | None = None,
        code: str | None = None,
        **context: object,
    ) -> None:
        super().__init__(message, endpoint=endpoint, code=code, **context)
        self.status = status
        self.endpoint = endpoint
        self.code = code

    @property
    def permanent(self) -> bool:
        """True when repeating the request cannot help: a 4xx other than the statuses that
        mean "try again" (408 timeout, 409 conflict, 425 too early, 429 rate limited).
        The API's message says what to fix (e.g. an SSH key it does not know)."""
        return (
            self.status is not None
            and 400 <= self.status < 500
            and (self.status not in TRANSIENT_CLIENT_STATUSES)
        )


#: 4xx statuses that say "not now" rather than "never"
TRANSIENT_CLIENT_STATUSES = frozenset({408, 409, 425, 429})


class AuthError(ApiError):
    exit_code = 3


class NoMatchingOffers(ApiError):
    exit_code = 1


class ClientRequestError(ApiError):
    exit_code = 1


class RequestInvalid(ClientRequestError):
    """422 on the cloud generation: the API refused the request's content."""


class InsufficientBalance(ApiError):
    """The balance does not cover the request (cloud: all resources for 6 hours)."""

    exit_code = 1


class NotAllowedNow(ApiError):
    """406 on the cloud generation: the action is not allowed in the resource's current
    status; transient — try again once the status has moved on."""

    @property
    def permanent(self) -> bool:
        return False


class RateLimited(ApiError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(ApiError):
    pass


class TransportError(ApiError):
    pass


class BadResponse(ApiError):
    pass


class StoreError(OptimizerError):
    exit_code = 5


class ExecutionError(OptimizerError):
    pass


class DegradedRun(OptimizerError):
    """A daemon tick (`once`) or an `apply` ran to the end but did only part of its job:
    actions failed (e.g. the API refused a deploy) or part of a snapshot could not be
    stored; the tick's outcome is "degraded". Exit code 6 lets a timer or a script tell
    this from a crash (1) or an outage (4)."""

    exit_code = 6


class AnalysisError(OptimizerError):
    """Analysing or rolling up the stored price history raised something unexpected (a
    bug; its traceback is logged). The daemon carries on without the result: those
    stages only read or summarize history, and planning works without trends."""


class LeadershipLost(OptimizerError):
    pass
