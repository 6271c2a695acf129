"""Executor journal, fleet ownership, the savings ledger and the disks and IPs the optimizer
is responsible for (migrations 0002, 0005, 0006, 0009, 0012).

- `journal_action`: one row per planned Action, written BEFORE its first API call and
  advanced step by step (`state`). The name token (`<fleet>-<token>` is the VM name) is
  recorded before deploy, so a lost deploy response is recognized by name afterwards.
- `fleet_vm`: ownership. Only VMs listed here (created by the daemon or adopted with
  `fleets adopt`) are ever patched or deleted; `released_at` ends ownership. The VM's
  `createdAt` is recorded with it: a listed VM whose `createdAt` differs is another VM
  that got the same id, and is never acted on.
- `savings_ledger`: one row per completed migration with the old and new price.
- `fleet_resource`: every disk and public IP the optimizer created (cloud generation),
  with its VM, until deleted.

Money is integer micro-USD; timestamps are aware UTC.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from optimizer.store.types import BigId, UtcDateTime


class JournalAction(SQLModel, table=True):
    """One executor action and where it got to."""

    __tablename__ = "journal_action"
    __table_args__ = (Index("ix_journal_action_fleet_state", "fleet", "state"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    fleet: str = Field(sa_column=Column(String(64), nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    token: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    constraints_json: str | None = Field(default=None, sa_column=Column(Text))
    cap_micros: int | None = Field(default=None, sa_column=Column(BigInteger))
    expected_price_micros: int | None = Field(default=None, sa_column=Column(BigInteger))
    old_price_micros: int | None = Field(default=None, sa_column=Column(BigInteger))
    new_price_micros: int | None = Field(default=None, sa_column=Column(BigInteger))
    target_datacenter: str | None = Field(default=None, sa_column=Column(String(40)))
    old_vm_id: str | None = Field(default=None, sa_column=Column(String(128)))
    new_vm_ids: str = Field(default="", sa_column=Column(Text, nullable=False))  # comma-joined
    not_before: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    cutover_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    deploy_started_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    #: when the executor first saw a migration's new VM healthy (migration 0012): the
    #: policy's `cutover_health_wait` runs from here, across restarts
    active_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    error: str | None = Field(default=None, sa_column=Column(Text))
    #: why a `failed` action failed (migration 0005): "launch" (the datacenter did not
    #: bring the VM up: it ended or timed out before Active; the planner avoids the
    #: datacenter for an epoch), "vanished", "deploy" (no VM after every attempt), "claim"
    #: (a VM carries the deploy's name but may not be ours: left alone), "api" (too many
    #: failed steps) or "error"
    failure_cause: str | None = Field(default=None, sa_column=Column(String(16)))
    fencing_token: int | None = Field(default=None, sa_column=Column(BigInteger))


class FleetVm(SQLModel, table=True):
    """A VM a fleet owns: `source` is "created" (deployed by the daemon) or "adopted"."""

    __tablename__ = "fleet_vm"

    vm_id: str = Field(sa_column=Column(String(128), primary_key=True))
    fleet: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    source: str = Field(sa_column=Column(String(16), nullable=False))
    vm_name: str = Field(default="", sa_column=Column(String(128), nullable=False))
    action_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    owned_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    last_migrated_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    released_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    #: the VM's `createdAt` when first seen owned (migration 0006); None until then
    vm_created_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    #: consecutive VM lists checked by the executor that did not show the VM
    absent_ticks: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )


class SavingsEntry(SQLModel, table=True):
    """A completed migration: from `old_price` to `new_price` per epoch since `completed_at`
    (until `ended_at`, when the new VM itself was removed or moved on)."""

    __tablename__ = "savings_ledger"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True))
    fleet: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    action_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    old_vm_id: str = Field(sa_column=Column(String(128), nullable=False))
    new_vm_id: str = Field(sa_column=Column(String(128), nullable=False))
    old_price_micros: int = Field(sa_column=Column(BigInteger, nullable=False))
    new_price_micros: int = Field(sa_column=Column(BigInteger, nullable=False))
    completed_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))


class FleetResource(SQLModel, table=True):
    """A disk or public IP the optimizer created (or that belonged to a VM it deleted),
    migration 0009: billed until deleted, whatever happened to its VM, so it stays here
    until the reaper (optimizer.executor.reaper) has deleted it (`deleted_at`). Nothing
    outside this table is ever deleted."""

    __tablename__ = "fleet_resource"

    resource_id: str = Field(sa_column=Column(String(128), primary_key=True))
    #: "disk" or "ip"
    kind: str = Field(sa_column=Column(String(8), nullable=False))
    fleet: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    name: str = Field(default="", sa_column=Column(String(128), nullable=False))
    #: the VM it was created with (None: found by name without its VM)
    vm_id: str | None = Field(default=None, sa_column=Column(String(128)))
    action_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    #: when its VM was deleted by the executor or first seen gone: the reaper's grace
    #: runs from here
    vm_gone_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    deleted_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
