"""What the executor and the cycle call on the API, as Protocols: `FluenceClient` is one
implementation, the leader's `FencedClient` wraps one, tests may pass their own."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Protocol

from optimizer.billing import BillingModel
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


class ExecutorClient(Protocol):
    """The calls the executor's steps and the reaper make: list, estimate, deploy, patch,
    delete; list and delete the disks and IPs that bill apart from their VM (none on
    marketplace-v3); and how the API charges (`billing`), which the planner's economics
    follow."""

    @property
    def billing(self) -> BillingModel: ...

    def list_vms(self) -> list[Vm]: ...

    def estimate(self, constraints: Constraints | None, instances: int) -> Estimate: ...

    def deploy(self, request: DeployRequest) -> list[DeployedVm]: ...

    def patch_vms(self, updates: Sequence[VmUpdate]) -> None: ...

    def delete_vms(self, ids: Iterable[str]) -> None: ...

    def default_images(self) -> list[DefaultImage]: ...

    def list_disks(self) -> list[Disk]: ...

    def list_public_ips(self) -> list[PublicIp]: ...

    def delete_disks(self, ids: Iterable[str]) -> None: ...

    def delete_public_ips(self, ids: Iterable[str]) -> None: ...


class CycleClient(ExecutorClient, Protocol):
    """The executor's calls plus the snapshot stage's offer list (parsed, or the raw
    answer that the snapshot scans without a model per offer) and the account facts
    (balance, burn rate, charges) the budget, the alerts and the planner use."""

    def list_offers(self, constraints: Constraints | None = None) -> list[Offer]: ...

    def offers_answer(self) -> bytes: ...

    def account(self, since: date, today: date) -> AccountFacts: ...
