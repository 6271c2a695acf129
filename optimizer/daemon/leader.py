"""Leader election for replicated daemons, built on PostgreSQL's own primitives.

Replicas pointed at one database elect one leader; only the leader snapshots, plans,
executes and evaluates alerts. Followers write nothing: after a failover the price history
has one longer interval — at most a snapshot interval (with jitter) plus the takeover time,
since a new leader snapshots on its first tick (the README's "Replicas" gives the figures).

- **Who may lead** (PostgreSQL): a session-level advisory lock (`pg_try_advisory_lock`)
  held on a dedicated connection. PostgreSQL releases it when that session ends — the
  process died (SIGKILL), the host vanished (TCP keepalives on the lock connection), or
  the backend was terminated — and the next follower's `pg_try_advisory_lock` succeeds.
  The lock key is derived from the schema (`current_schema()`), so several deployments
  can share one database in different schemas.
  SQLite: the existing single-instance file lock (`daemon/lock.py`) stays; one daemon per
  file always leads, through the same code path.
- **Term = fencing token**: the row `leader(id=1)` holds `term`, incremented in the
  transaction that makes a replica leader (with `holder` = host:pid, `since`,
  `renewed_at`). Every write of the shared state (journal, snapshots, VM observations,
  retention, alert state; `optimizer.store.fencing`) runs `fence(conn)` in its transaction:
  `SELECT term FROM leader WHERE id = 1 FOR UPDATE` and compare with the term this
  replica won. A mismatch raises `LeadershipLost` and the write (and so the action's next
  API call, which is always recorded first) is abandoned. A paused-then-resumed old leader
  therefore cannot act twice: its first write after a takeover is refused.
- **Each tick** `tick()` returns whether this replica leads: a follower tries to acquire;
  the leader renews `renewed_at` on its lock connection, which also proves the
  connection (and so the lock) is alive. Any failure → step down at once.

Usage (the daemon does this):

    elector = LeaderElector(engine)
    set_fence(engine, elector.fence)      # every shared-state write is fenced from now on
    if elector.tick(): ...plan and execute...
    elector.close()
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import structlog

from optimizer.billing import BillingModel
from optimizer.clock import Clock, SystemClock
from optimizer.config import Config
from optimizer.errors import LeadershipLost
from optimizer.executor.api import CycleClient
from optimizer.fluence.account import AccountFacts
from optimizer.fluence.models import (
    Constraints,
    DefaultImage,
    DeployedVm,
    DeployRequest,
    Disk,
    Estimate,
    Offer,
    PublicIp,
    Vm,
    VmUpdate,
)
from optimizer.store.engine import store_errors
from optimizer.store.tables import table_of

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

log = structlog.get_logger("optimizer.leader")

#: base of the advisory-lock key; the schema name is mixed in (see `lock_key`)
LEADER_KEY_SEED = b"fluence-optimizer leader"

#: TCP keepalives on the lock connection: a leader whose host drops off the network loses
#: its PostgreSQL session (and so the lock) after about idle + interval x count seconds.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


#: a follower tries to acquire at least this often (and at least once per snapshot tick)
FOLLOWER_POLL = timedelta(seconds=5)


def follower_poll(config: Config) -> timedelta:
    """How long a follower waits between acquisition attempts: the shortest tick interval,
    at most FOLLOWER_POLL — so a takeover happens within one leader tick interval of the
    old leader's session ending."""
    d = config.daemon
    return min(d.snapshot_interval, d.plan_interval, FOLLOWER_POLL)


def default_holder() -> str:
    """`hostname:pid` — how a replica names itself in the leader row."""
    return f"{socket.gethostname()}:{os.getpid()}"


def lock_key(schema: str) -> int:
    """The signed 64-bit advisory-lock key for the replicas using `schema`."""
    digest = hashlib.sha256(LEADER_KEY_SEED + b"\0" + schema.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass(frozen=True)
class LeaderInfo:
    """The leader row, plus (PostgreSQL) whether the advisory lock is currently held."""

    term: int
    holder: str
    since: datetime | None
    renewed_at: datetime | None
    lock_held: bool | None  # None on SQLite (no advisory lock)

    def as_dict(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "holder": self.holder or None,
            "since": self.since.isoformat() if self.since else None,
            "renewed_at": self.renewed_at.isoformat() if self.renewed_at else None,
            "lock_held": self.lock_held,
        }


def read_leader(engine: Engine) -> LeaderInfo:
    """Who leads (or last led), and whether the leader's lock is held right now."""
    with store_errors(engine), engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT term, holder, since, renewed_at FROM leader WHERE id = 1")
        ).first()
        held: bool | None = None
        if conn.dialect.name == "postgresql":
            schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
            key = lock_key(schema)
            held = bool(
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND granted AND database = (SELECT oid FROM pg_database "
                        "WHERE datname = current_database()) "
                        "AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = :k"
                    ),
                    {"k": key},
                ).scalar_one()
            )
    from optimizer.store.types import UtcDateTime

    conv = UtcDateTime()

    def ts(v: Any) -> datetime | None:
        if v is None:
            return None
        if isinstance(v, str):
            v = datetime.fromisoformat(v)
        return conv.process_result_value(v, engine.dialect)

    if row is None:
        return LeaderInfo(0, "", None, None, held)
    return LeaderInfo(int(row[0]), row[1] or "", ts(row[2]), ts(row[3]), held)


class LeaderElector:
    """One replica's view of the election. Not thread-safe: the daemon loop owns it."""

    def __init__(
        self,
        engine: Engine,
        *,
        holder: str | None = None,
        clock: Clock | None = None,
        keepalives: dict[str, int] | None = None,
    ) -> None:
        self.engine = engine
        self.holder = holder or default_holder()
        self.clock = clock or SystemClock()
        self.term: int | None = None  # the term won; None while following
        self.backend_pid: int | None = None  # PostgreSQL pid of the lock connection
        self._pg = engine.dialect.name == "postgresql"
        self._keepalives = KEEPALIVES if keepalives is None else keepalives
        self._lock_engine: Engine | None = None
        self._conn: Connection | None = None
        self._key: int | None = None
        self.on_change: Callable[[bool, int | None], None] | None = None

    # -- state -----------------------------------------------------------------------
    @property
    def is_leader(self) -> bool:
        return self.term is not None

    def tick(self) -> bool:
        """Once per daemon tick: renew when leading (step down on any failure), else try
        to acquire. Returns whether this replica leads now."""
        if self.is_leader:
            if self._renew():
                return True
            self.step_down("lock connection or lease lost")
        return self.try_acquire()

    # -- acquire / renew / release ---------------------------------------------------
    def try_acquire(self) -> bool:
        """Become leader if nobody else is: take the lock, then bump the term."""
        if self.is_leader:
            return True
        try:
            if self._pg and not self._take_advisory_lock():
                return False
            conn = self._conn if self._pg else self.engine.connect()
            assert conn is not None  # on PostgreSQL, taking the advisory lock opened it
            try:
                now = self.clock.now()
                term = self._bump_term(conn, now)
            finally:
                if not self._pg:
                    conn.close()
        except sa.exc.SQLAlchemyError as err:
            log.warning("leader election: database error while acquiring", error=_line(err))
            self._drop_conn()
            return False
        self.term = term
        log.info("became leader", term=term, holder=self.holder)
        self._changed()
        return True

    def _take_advisory_lock(self) -> bool:
        if self._conn is None:
            if self._lock_engine is None:
                self._lock_engine = sa.create_engine(
                    self.engine.url,
                    poolclass=sa.pool.NullPool,
                    connect_args=dict(self._keepalives),
                )
            self._conn = self._lock_engine.connect()
            self.backend_pid = self._conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            schema = self._conn.execute(sa.text("SELECT current_schema()")).scalar_one()
            self._key = lock_key(schema)
            self._conn.commit()
        got = self._conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key})
        ok = bool(got.scalar())
        self._conn.commit()
        return ok

    def _bump_term(self, conn: Connection, now: datetime) -> int:
        from optimizer.store.tables.leader import Leader

        t = table_of(Leader)
        term = conn.execute(
            sa.update(t)
            .where(t.c.id == 1)
            .values(term=t.c.term + 1, holder=self.holder, since=now, renewed_at=now)
            .returning(t.c.term)
        ).scalar()
        if term is None:  # the row was deleted by hand: recreate it
            conn.execute(
                sa.insert(t).values(id=1, term=1, holder=self.holder, since=now, renewed_at=now)
            )
            term = 1
        conn.commit()
        return int(term)

    def _renew(self) -> bool:
        """Refresh `renewed_at` if the term is still ours; on PostgreSQL this runs on the
        lock connection, so success also proves the lock is still held."""
        from optimizer.store.tables.leader import Leader

        t = table_of(Leader)
        try:
            conn = self._conn if self._pg else self.engine.connect()
            assert conn is not None
            try:
                n = conn.execute(
                    sa.update(t)
                    .where(t.c.id == 1, t.c.term == self.term, t.c.holder == self.holder)
                    .values(renewed_at=self.clock.now())
                ).rowcount
                conn.commit()
            finally:
                if not self._pg:
                    conn.close()
        except sa.exc.SQLAlchemyError as err:
            log.warning("leader lost its database connection", error=_line(err))
            self._drop_conn()
            return False
        return n == 1

    def step_down(self, why: str) -> None:
        """Stop leading now: forget the term and release the lock (by closing the
        session when it is broken)."""
        if self.term is not None:
            log.warning("stepping down as leader", term=self.term, why=why)
        self.term = None
        self._release()
        self._changed()

    def close(self) -> None:
        """Release leadership (on shutdown): a follower can take over at once. Silent:
        the daemon's own "daemon stopped" line is the last one it logs."""
        self.term = None
        self._release()
        if self._lock_engine is not None:
            self._lock_engine.dispose()
            self._lock_engine = None

    def _release(self) -> None:
        if self._conn is None:
            return
        with contextlib.suppress(sa.exc.SQLAlchemyError):
            self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            self._conn.commit()
        self._drop_conn()

    def _drop_conn(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.invalidate()
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None
        self.backend_pid = None

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.is_leader, self.term)

    # -- fencing ---------------------------------------------------------------------
    def check(self) -> int:
        """Fence check in a transaction of its own (before an API call that changes the
        account). Returns the term; raises LeadershipLost."""
        with store_errors(self.engine), self.engine.connect() as conn:
            try:
                return self.fence(conn)
            finally:
                conn.rollback()

    def fence(self, conn: Connection) -> int:
        """Called inside every fenced write transaction (journal, snapshots, VM
        observations, retention, alert state; see `optimizer.store.fencing`): lock the
        leader row and check the term is still ours. Returns the term (stamped on the
        journal rows). Raises LeadershipLost (and steps down) otherwise."""
        mine = self.term
        if mine is None:
            raise LeadershipLost("not the leader: writes to the shared state are refused")
        sql = "SELECT term FROM leader WHERE id = 1"
        if conn.dialect.name == "postgresql":
            sql += " FOR UPDATE"
        current = conn.execute(sa.text(sql)).scalar()
        if current != mine:
            self.term = None  # stepped down; the lock goes at the next tick
            log.error("stale leader: write refused", term=mine, current_term=current)
            self._changed()
            raise LeadershipLost(
                f"leadership lost: this replica led term {mine}, the database is at term "
                f"{current}; the write was refused",
                holder=self.holder,
            )
        return mine


class FencedClient:
    """The API client as the leader uses it: every call that changes the account
    (deploy, delete_vms, patch_vms, delete_disks, delete_public_ips) first checks, in its
    own short transaction, that the leader term is still this replica's
    (`LeaderElector.fence`) and raises LeadershipLost otherwise. Journal writes are fenced
    already; this also covers the executor's deletes and port patches and the reaper's
    disk and IP deletes, which happen before their journal write. Reads pass straight on."""

    def __init__(self, client: CycleClient, elector: LeaderElector) -> None:
        self._client = client
        self._elector = elector

    # -- changes to the account: fenced ------------------------------------------------
    def deploy(self, request: DeployRequest) -> list[DeployedVm]:
        self._elector.check()
        return self._client.deploy(request)

    def patch_vms(self, updates: Sequence[VmUpdate]) -> None:
        self._elector.check()
        self._client.patch_vms(updates)

    def delete_vms(self, ids: Iterable[str]) -> None:
        self._elector.check()
        self._client.delete_vms(ids)

    def delete_disks(self, ids: Iterable[str]) -> None:
        self._elector.check()
        self._client.delete_disks(ids)

    def delete_public_ips(self, ids: Iterable[str]) -> None:
        self._elector.check()
        self._client.delete_public_ips(ids)

    # -- reads ----------------------------------------------------------------------------
    @property
    def billing(self) -> BillingModel:
        return self._client.billing

    def list_offers(self, constraints: Constraints | None = None) -> list[Offer]:
        return self._client.list_offers(constraints)

    def offers_answer(self) -> bytes:
        return self._client.offers_answer()

    def list_vms(self) -> list[Vm]:
        return self._client.list_vms()

    def estimate(self, constraints: Constraints | None, instances: int) -> Estimate:
        return self._client.estimate(constraints, instances)

    def default_images(self) -> list[DefaultImage]:
        return self._client.default_images()

    def list_disks(self) -> list[Disk]:
        return self._client.list_disks()

    def list_public_ips(self) -> list[PublicIp]:
        return self._client.list_public_ips()

    def account(self, since: date, today: date) -> AccountFacts:
        return self._client.account(since, today)


def _line(err: BaseException) -> str:
    orig = getattr(err, "orig", None) or err
    text = str(orig).strip()
    return text.splitlines()[0] if text else type(orig).__name__


__all__ = [
    "FOLLOWER_POLL",
    "FencedClient",
    "LeaderElector",
    "LeaderInfo",
    "default_holder",
    "follower_poll",
    "lock_key",
    "read_leader",
]
