"""Seeded, deterministic fault injection for the simulator.

Each request draws once from a generator seeded by the simulator's seed, so the same
sequence of requests meets the same faults. Tests can also script faults exactly with
`FaultInjector.force_next(endpoint, kind)`.

Kinds:
    server_error   503 {"error": ...}; starts a burst of `burst_length` consecutive 5xx
    rate_limit     429 {"error": ...} with `Retry-After: <retry_after>`
    timeout        no answer in time (in-process: httpx.ReadTimeout; HTTP: the server
                   sleeps `timeout_sleep` seconds, then closes the connection)
    reset          the connection is dropped (httpx.ReadError / closed socket)
    malformed      200 with a body that is not JSON
    wrong_shape    200 with JSON of the wrong shape
    lost_response  mutating endpoints only (deploy, delete_vms, patch_vms, ssh keys): the
                   action takes effect, then the answer is lost like a timeout

On mutating endpoints, malformed and wrong_shape answers also come after the action took
effect (the server did the work; only its answer is garbage). timeout and reset happen
before it: nothing changed.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

KINDS = (
    "server_error",
    "rate_limit",
    "timeout",
    "reset",
    "malformed",
    "wrong_shape",
    "lost_response",
)
V3_MUTATING = frozenset({"deploy", "delete_vms", "patch_vms", "add_ssh_key", "remove_ssh_key"})

#: endpoint names of the v3 face (used for per-endpoint rates and forced faults)
V3_ENDPOINTS = (
    "offers",
    "basic_configurations",
    "countries",
    "hardware",
    "datacenters",
    "estimate",
    "deploy",
    "list_vms",
    "vm_status",
    "patch_vms",
    "delete_vms",
    "default_images",
    "ssh_keys",
    "add_ssh_key",
    "remove_ssh_key",
)


def _cloud_endpoints() -> tuple[tuple[str, ...], frozenset[str]]:
    from optimizer.sim.cloud import routes

    return routes.ENDPOINTS, routes.MUTATING


#: every endpoint name, both faces ("cloud.*" for the cloud generation)
ENDPOINTS = V3_ENDPOINTS + _cloud_endpoints()[0]
MUTATING = V3_MUTATING | _cloud_endpoints()[1]


@dataclass
class FaultConfig:
    """How often requests fail, and how.

    `rate` is the probability that a request meets a fault (0 = never); `per_endpoint`
    overrides it by endpoint name (see ENDPOINTS). `weights` chooses the kind of fault.
    """

    rate: float = 0.0
    per_endpoint: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(
        default_factory=lambda: {
            "server_error": 4.0,
            "rate_limit": 2.0,
            "timeout": 1.0,
            "reset": 1.0,
            "malformed": 1.0,
            "wrong_shape": 1.0,
            "lost_response": 1.0,
        }
    )
    retry_after: float = 1.0
    burst_length: int = 2
    timeout_sleep: float = 5.0

    def __post_init__(self) -> None:
        for name, r in [("rate", self.rate), *self.per_endpoint.items()]:
            if not 0.0 <= r <= 1.0:
                raise ValueError(f"fault rate {name} must be within [0, 1], got {r}")
        unknown = set(self.weights) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")

    def rate_for(self, endpoint: str) -> float:
        return self.per_endpoint.get(endpoint, self.rate)


class FaultInjector:
    """Decides, per request, whether and how it fails. Deterministic for a seed."""

    def __init__(self, config: FaultConfig | None = None, seed: int = 7) -> None:
        self.config = config or FaultConfig()
        self._rng = random.Random(f"{seed}:faults")
        self._forced: deque[tuple[str, str]] = deque()
        self._burst = 0
        #: every fault served, in order: (endpoint, kind) — for tests and the demo
        self.log: list[tuple[str, str]] = []

    def force_next(self, endpoint: str, kind: str, times: int = 1) -> None:
        """Make the next `times` requests to `endpoint` ("*" = any) fail with `kind`."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {KINDS}")
        if endpoint != "*" and endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {ENDPOINTS}")
        for _ in range(times):
            self._forced.append((endpoint, kind))

    def clear(self) -> None:
        """Forget forced faults and any burst in progress."""
        self._forced.clear()
        self._burst = 0

    def draw(self, endpoint: str) -> str | None:
        """The fault for this request to `endpoint`, or None."""
        for i, (ep, kind) in enumerate(self._forced):
            if ep in ("*", endpoint):
                del self._forced[i]
                return self._record(endpoint, kind)
        rate = self.config.rate_for(endpoint)
        if rate <= 0:
            return None
        if self._burst > 0:
            self._burst -= 1
            return self._record(endpoint, "server_error")
        if self._rng.random() >= rate:
            return None
        kinds = [
            (k, w)
            for k, w in self.config.weights.items()
            if w > 0 and (k != "lost_response" or endpoint in MUTATING)
        ]
        if not kinds:
            return None
        kind = self._rng.choices([k for k, _ in kinds], weights=[w for _, w in kinds])[0]
        if kind == "server_error":
            self._burst = max(self.config.burst_length - 1, 0)
        return self._record(endpoint, kind)

    def _record(self, endpoint: str, kind: str) -> str:
        self.log.append((endpoint, kind))
        return kind
