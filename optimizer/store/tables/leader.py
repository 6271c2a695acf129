"""Leader lease / term row (migration 0004).

One row (`id = 1`). Every time a replica becomes leader it increments `term` in the same
transaction that records it as `holder`; the term is the fencing token every journal
write is checked against (see `optimizer.daemon.leader`). `renewed_at` is refreshed by
the leader each tick, so `fluence-optimizer leader` can tell a live leader from a stale
row. On PostgreSQL, who may bump the term is decided by a session advisory lock; on
SQLite by the single-instance file lock.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Integer, String
from sqlmodel import Field, SQLModel

from optimizer.store.types import UtcDateTime


class Leader(SQLModel, table=True):
    """The current (or last) leader and its term."""

    __tablename__ = "leader"

    id: int = Field(default=1, sa_column=Column(Integer, primary_key=True, autoincrement=False))
    term: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    holder: str = Field(default="", sa_column=Column(String(255), nullable=False))
    since: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    renewed_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
