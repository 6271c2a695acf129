"""Handlers of the VM routes (`/v2/vms…`)."""

from __future__ import annotations

from typing import Any

from optimizer.sim.app import SimResponse
from optimizer.sim.cloud import wire
from optimizer.sim.cloud.catalog import SPEC_0_10
from optimizer.sim.cloud.errors import CloudError
from optimizer.sim.cloud.params import Query, answer, body_object, sort_items
from optimizer.sim.cloud.resources import VM_STATUSES
from optimizer.sim.cloud.world import CloudWorld


def _expand(w: CloudWorld, q: Query) -> frozenset[str]:
    if w.spec != SPEC_0_10:
        return frozenset()  # 0.8.210 has no expand: the parameter is ignored
    values = frozenset(q.many("expand"))
    unknown = values - {"bootDisk", "dataDisks", "publicIp", "subnets", "sshKeys",
                        "networkInterfaces"}  # fmt: skip
    if unknown:
        raise CloudError(400, "bad_request", f"query expand: unknown value {sorted(unknown)[0]!r}")
    return values


def list_vms(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    page, per_page = q.page(w)
    everything = w.visible(w.vms.values())
    vms = list(everything)
    ids = set(q.many("ids"))
    name = q.one("name")
    status = q.statuses("status", VM_STATUSES)
    exclude = q.statuses("excludeStatus", VM_STATUSES) if w.spec == SPEC_0_10 else []
    cluster_id, ip_id = q.one("clusterId"), q.one("publicIpId")
    vms = [
        v
        for v in vms
        if (not ids or v.id in ids)
        and (name is None or name in v.name)
        and (not status or v.status in status)
        and v.status not in exclude
        and (cluster_id is None or v.cluster_id == cluster_id)
        and (ip_id is None or v.public_ip == ip_id)
    ]
    expand = _expand(w, q)
    items: list[Any] = [wire.vm(w, v, expand) for v in sort_items(vms, q)]
    items += w.raw("cloud.list_vms")
    return answer(200, wire.paginated(items, page, per_page, len(everything)))


def create_vm(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, wire.vm(w, w.create_vm(body_object(body))))


def get_vm(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, wire.vm(w, w.vm(ident or ""), _expand(w, q)))


def patch_vm(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, wire.vm(w, w.rename_vm(ident or "", body_object(body))))


def terminate_vm(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, wire.vm(w, w.terminate_vm(ident or "")))


def restart_vm(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, wire.vm(w, w.restart_vm(ident or "", soft=False)))


def softreboot_vm(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, wire.vm(w, w.restart_vm(ident or "", soft=True)))


def vm_add_ip(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, wire.vm(w, w.vm_add_public_ip(ident or "", body_object(body))))


def vm_remove_ip(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, wire.vm(w, w.vm_remove_public_ip(ident or "")))


def vm_add_storages(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, wire.vm(w, w.vm_add_storages(ident or "", body_object(body))))


def vm_remove_storages(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, wire.vm(w, w.vm_remove_storages(ident or "", body_object(body))))
