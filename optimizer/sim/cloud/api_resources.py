"""Handlers of the disk, public-IP and SSH-key routes."""

from __future__ import annotations

from optimizer.sim.app import SimResponse
from optimizer.sim.cloud import wire
from optimizer.sim.cloud.catalog import SPEC_0_10
from optimizer.sim.cloud.errors import CloudError
from optimizer.sim.cloud.params import Query, answer, body_ids, body_object, sort_items
from optimizer.sim.cloud.world import CloudWorld


def list_storages(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    page, per_page = q.page(w)
    everything = w.visible(w.storages.values())
    statuses = ("new", "created", "ready", "updating", "failed", "removing", "removed")
    ids, name = set(q.many("ids")), q.one("name")
    status = q.statuses("status", statuses)
    exclude = q.statuses("excludeStatus", statuses) if w.spec == SPEC_0_10 else []
    detached = q.flag("excludeAttached") if w.spec == SPEC_0_10 else False
    stype = q.one("storageType")
    if stype is not None and stype not in ("HDD", "SSD", "NVMe"):
        raise CloudError(400, "bad_request", f"query storageType: unknown type {stype!r}")
    chosen = [
        s
        for s in everything
        if (not ids or s.id in ids)
        and (name is None or name in s.name)
        and (not status or s.status in status)
        and s.status not in exclude
        and (not detached or not s.attached_to)
        and (stype is None or stype == "NVMe")
    ]
    items = [wire.storage(w, s) for s in sort_items(chosen, q)] + w.raw("cloud.list_storages")
    return answer(200, wire.paginated(items, page, per_page, len(everything)))


def create_storage(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, wire.storage(w, w.create_storage(body_object(body))))


def get_storage(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, wire.storage(w, w.storage(ident or "")))


def patch_storage(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, wire.storage(w, w.rename_storage(ident or "", body_object(body))))


def delete_storage(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, wire.storage(w, w.delete_storages([ident or ""])[0]))


def delete_storages(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, [wire.storage(w, s) for s in w.delete_storages(body_ids(body))])


def list_public_ips(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    page, per_page = q.page(w)
    everything = w.visible(w.public_ips.values())
    statuses = ("new", "created", "ready", "failed", "removing", "removed")
    ids, name, cluster_id = set(q.many("ids")), q.one("name"), q.one("clusterId")
    status = q.statuses("status", statuses)
    exclude = q.statuses("excludeStatus", statuses) if w.spec == SPEC_0_10 else []
    detached = q.flag("excludeAttached") if w.spec == SPEC_0_10 else False
    addr_type = q.one("addressType")
    if addr_type is not None and addr_type not in ("V4", "V6"):
        raise CloudError(400, "bad_request", f"query addressType: unknown type {addr_type!r}")
    chosen = [
        i
        for i in everything
        if (not ids or i.id in ids)
        and (name is None or name in i.name)
        and (cluster_id is None or i.cluster_id == cluster_id)
        and (not status or i.status in status)
        and i.status not in exclude
        and (not detached or not i.attached_to)
        and addr_type in (None, "V4")
    ]
    items = [wire.public_ip(w, i) for i in sort_items(chosen, q)] + w.raw("cloud.list_public_ips")
    return answer(200, wire.paginated(items, page, per_page, len(everything)))


def create_public_ip(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, wire.public_ip(w, w.create_public_ip(body_object(body))))


def patch_public_ip(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, wire.public_ip(w, w.rename_public_ip(ident or "", body_object(body))))


def delete_public_ip(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, wire.public_ip(w, w.delete_public_ips([ident or ""])[0]))


def delete_public_ips(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, [wire.public_ip(w, i) for i in w.delete_public_ips(body_ids(body))])


def list_ssh_keys(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    page, per_page = q.page(w)
    everything = list(w.ssh_keys.values())
    ids = set(q.many("ids"))
    items = [wire.ssh_key(w, k) for k in everything if not ids or k.id in ids]
    items += w.raw("cloud.list_ssh_keys")
    return answer(200, wire.paginated(items, page, per_page, len(everything)))


def add_ssh_key(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, wire.ssh_key(w, w.add_ssh_key(body_object(body))))


def delete_ssh_keys(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, [wire.ssh_key(w, k) for k in w.delete_ssh_keys(body_ids(body))])


def delete_ssh_key(w: CloudWorld, q: Query, body: bytes, ident: str | None) -> SimResponse:
    return answer(200, wire.ssh_key(w, w.delete_ssh_keys([ident or ""])[0]))
