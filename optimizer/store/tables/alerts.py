"""Alert state, pending deliveries and the last plan's cash needs (migration 0003).

- `alert_state`: one row per alert key. `resolved_at` NULL = active. Stored so that a
  restart neither re-fires active alerts nor forgets to resolve them.
- `alert_delivery`: one row per (notification, sink). Pending rows are retried with
  backoff across ticks until delivered or given up (`state`: pending|sent|abandoned).
- `plan_cash`: per fleet, the deposit and saving of the latest plan (so `budget` can show
  what the next planned actions need without planning again).

Money is integer micro-USD; timestamps are aware UTC.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Column, Float, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from optimizer.store.types import BigId, UtcDateTime


class AlertState(SQLModel, table=True):
    __tablename__ = "alert_state"

    key: str = Field(sa_column=Column(String(200), primary_key=True))
    family: str = Field(sa_column=Column(String(64), nullable=False))
    fleet: str | None = Field(default=None, sa_column=Column(String(64)))
    severity: str = Field(sa_column=Column(String(16), nullable=False))
    title: str = Field(sa_column=Column(Text, nullable=False))
    level: float = Field(default=0, sa_column=Column(Float, nullable=False))
    event: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    payload: str = Field(sa_column=Column(Text, nullable=False))  # Alert JSON
    first_fired_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    last_seen_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    last_notified_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    resolved_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    notify_count: int = Field(default=0, sa_column=Column(Integer, nullable=False))


class AlertDelivery(SQLModel, table=True):
    __tablename__ = "alert_delivery"
    __table_args__ = (Index("ix_alert_delivery_state", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    alert_key: str = Field(sa_column=Column(String(200), nullable=False))
    sink: str = Field(sa_column=Column(String(64), nullable=False))  # "1:webhook"
    status: str = Field(sa_column=Column(String(16), nullable=False))  # firing|resolved|test
    payload: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False))  # pending|sent|abandoned
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    next_attempt_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    last_error: str | None = Field(default=None, sa_column=Column(Text))


class PlanCash(SQLModel, table=True):
    __tablename__ = "plan_cash"

    fleet: str = Field(sa_column=Column(String(64), primary_key=True))
    deposit_micros: int = Field(sa_column=Column(BigInteger, nullable=False))
    savings_micros: int = Field(sa_column=Column(BigInteger, nullable=False))
    planned_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
