"""The one edge the rest of the optimizer sees: `FluenceApi`, whatever generation of the
Fluence API is behind it.

Both adapters implement it — `optimizer.fluence.client.FluenceClient` (marketplace-v3,
the seeds' API) and `optimizer.fluence.cloud.adapter.CloudApi` (the published cloud
API) — and both answer in the provider-neutral model of `optimizer.fluence.models`:
price points (`Offer`, with `price_unit` saying per epoch or per hour), VMs (`Vm`, with
the resources they hold), disks and public IPs that bill apart from their VM (cloud; none
on v3), SSH keys, images, datacenters, and how VMs are charged (`billing`: epoch deals on
v3, per second on cloud). `optimizer.fluence.generation.
connect` builds the right one; no module outside `optimizer.fluence` asks which.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Protocol

from optimizer.billing import BillingModel
from optimizer.fluence.account import AccountFacts
from optimizer.fluence.credentials import Secret
from optimizer.fluence.models import (
    Constraints,
    Datacenter,
    DefaultImage,
    DeployedVm,
    DeployRequest,
    Disk,
    Estimate,
    Hardware,
    Offer,
    PublicIp,
    SshKey,
    Vm,
    VmStatusEntry,
    VmUpdate,
)


class FluenceApi(Protocol):
    """What the store, analysis, planner, executor and CLI may ask of the API."""

    #: "marketplace-v3" or "cloud": for logs and `--verbose` only, never for branching
    generation: str
    #: "configured" or "detected"
    generation_source: str
    #: how this generation charges (`optimizer.billing`): what the planner, budget and
    #: executor ask instead of the generation
    billing: BillingModel
    #: whether the API opens a VM's ports (`open_ports` is applied and corrected)
    sets_ports: bool

    @property
    def secret(self) -> Secret | None: ...

    def close(self) -> None: ...

    def list_offers(self, constraints: Constraints | None = None) -> list[Offer]: ...

    def offers_answer(self) -> bytes:
        """Every offer, as a JSON list of the neutral model's wire shape (what the snapshot
        stores; v3 passes the API's own answer through)."""
        ...

    def basic_configurations(self) -> list[str]: ...

    def countries(self) -> list[str]: ...

    def hardware(self) -> Hardware: ...

    def datacenters(self) -> list[Datacenter]: ...

    def estimate(self, constraints: Constraints | None, instances: int) -> Estimate: ...

    def deploy(self, request: DeployRequest) -> list[DeployedVm]: ...

    def list_vms(self) -> list[Vm]: ...

    def vm_status(self, ids: Iterable[str]) -> list[VmStatusEntry]: ...

    def patch_vms(self, updates: Sequence[VmUpdate]) -> None: ...

    def delete_vms(self, ids: Iterable[str]) -> None: ...

    def list_disks(self) -> list[Disk]:
        """Every disk of the account (cloud: billed until deleted; v3: none, no call)."""
        ...

    def list_public_ips(self) -> list[PublicIp]:
        """Every public IP of the account (cloud: billed until deleted; v3: none, no call)."""
        ...

    def delete_disks(self, ids: Iterable[str]) -> None: ...

    def delete_public_ips(self, ids: Iterable[str]) -> None: ...

    def default_images(self) -> list[DefaultImage]: ...

    def ssh_keys(self) -> list[SshKey]: ...

    def add_ssh_key(self, name: str, public_key: str) -> SshKey | None: ...

    def remove_ssh_key(self, fingerprint: str) -> None: ...

    def account(self, since: date, today: date) -> AccountFacts:
        """The account's balance, what bills now and what was charged from the UTC day
        `since` to `today` (`optimizer.fluence.account`); parts the API does not report
        are None."""
        ...
