"""What a VM's status means to the optimizer: the one place that groups statuses.

The API reports each VM's status as a string. The optimizer keeps it as that string (an
unknown value from a newer API must not break parsing), and asks these predicates what
it means:

- `is_launching`: deployed, not yet serving (New, Launching); no public IP yet.
- `is_healthy`: serving (Active), even when the balance runs low (SmallBalance,
  InsufficientFunds: the VM still runs; alerts ask for a top-up).
- `is_running`: launching or healthy; such a VM is charged at its next billing time.
- `is_ended`: Terminated (by the provider; the reserve is held until the user deletes
  it) or Stopped (deleted by the user). An ended VM costs nothing more.
- `is_unknown`: a status this vocabulary does not know (or none); every other predicate
  is False for it: such a VM is neither counted as running nor finalized as ended.
"""

from __future__ import annotations

from enum import StrEnum


class VmStatus(StrEnum):
    """The VM statuses the optimizer knows, spelled as the API spells them."""

    NEW = "New"
    LAUNCHING = "Launching"
    ACTIVE = "Active"
    SMALL_BALANCE = "SmallBalance"
    INSUFFICIENT_FUNDS = "InsufficientFunds"
    TERMINATED = "Terminated"
    STOPPED = "Stopped"


_LAUNCHING = frozenset({VmStatus.NEW, VmStatus.LAUNCHING})
_HEALTHY = frozenset({VmStatus.ACTIVE, VmStatus.SMALL_BALANCE, VmStatus.INSUFFICIENT_FUNDS})
_RUNNING = _LAUNCHING | _HEALTHY
_ENDED = frozenset({VmStatus.TERMINATED, VmStatus.STOPPED})


def is_launching(status: str | None) -> bool:
    """Deployed but not yet serving."""
    return status in _LAUNCHING


def is_healthy(status: str | None) -> bool:
    """Serving, whatever the balance says."""
    return status in _HEALTHY


def is_running(status: str | None) -> bool:
    """Launching or healthy: charged at the next billing time."""
    return status in _RUNNING


def is_ended(status: str | None) -> bool:
    """Terminated by the provider or stopped by the user: charged no more."""
    return status in _ENDED


def is_unknown(status: str | None) -> bool:
    """Neither running nor ended: a status (or no status) this vocabulary does not know."""
    return status not in _RUNNING and status not in _ENDED
