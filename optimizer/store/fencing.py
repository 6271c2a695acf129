"""Fencing of the leader's writes: a registry engine → fence, applied to journal
sessions (`apply`) and to the other writes only the leader makes — snapshots, VM
observations, retention, alert state and the alert delivery queue (`check`).

A fence is `Callable[[Connection], int]`: called inside a write transaction before it
commits, it checks that this process may still write (e.g. the leader term did not move
on, see `optimizer.daemon.leader`) and returns the fencing token, or raises (for
example `LeadershipLost`), which aborts the commit — nothing of the transaction is
written. The token is stamped on every `JournalAction` row the transaction writes.

Without a registered fence (the CLI, tests, a single SQLite daemon before election)
sessions behave exactly as plain sessions.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import event

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.orm import Session

Fence = Callable[["Connection"], int]
S = TypeVar("S", bound="Session")

_fences: weakref.WeakKeyDictionary[Engine, Fence] = weakref.WeakKeyDictionary()


def set_fence(engine: Engine, fence: Fence | None) -> None:
    """Fence every journal write made through `engine` (None: stop fencing)."""
    if fence is None:
        _fences.pop(engine, None)
    else:
        _fences[engine] = fence


def get_fence(engine: Engine) -> Fence | None:
    return _fences.get(engine)


def check(engine: Engine, conn: Connection) -> int | None:
    """Run `engine`'s fence inside the transaction open on `conn`, before its writes (on
    PostgreSQL the leader row then stays locked until that transaction ends, so the term
    cannot move on while it writes). Returns the token, None when nothing is registered;
    raises what the fence raises (LeadershipLost), which abandons the transaction.
    `engine` is the one the fence was registered for (not `writing(engine)`)."""
    fence = _fences.get(engine)
    return None if fence is None else fence(conn)


def apply(session: S, engine: Engine) -> S:
    """Make `session`'s commits run `engine`'s fence first (when one is registered)."""
    fence = _fences.get(engine)
    if fence is None:
        return session

    def _before_commit(s: Session) -> None:
        from optimizer.store.tables.journal import JournalAction

        token = fence(s.connection())
        for obj in list(s.new) + list(s.dirty):
            if isinstance(obj, JournalAction):
                obj.fencing_token = token

    event.listen(session, "before_commit", _before_commit)
    return session


__all__ = ["Fence", "apply", "check", "get_fence", "set_fence"]
