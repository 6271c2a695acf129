"""Writing marketplace snapshots and VM observations, change-only.

`ingest_snapshot` stores one `POST /marketplace/offers` answer in ONE transaction:

1. a `snapshot` row;
2. an `offer` row for every offer key never seen before (attributes as columns);
3. for each listed offer, its open `offer_price` interval stays open when price and
   capacity are unchanged (no write at all), or is closed and a new one opened when they
   changed; intervals of offers no longer listed are closed ("vanished").

Given the raw answer (bytes), it is parsed by the fast scan of
`optimizer.fluence.offer_listings`, and an answer identical to the latest ok snapshot's
(same digest) costs one `snapshot` row and nothing else.

A malformed or truncated answer (bad JSON, wrong shape, nothing but malformed offers)
writes nothing but a `snapshot` row with outcome `failed` and the reason. One malformed
offer in an otherwise good answer (fails validation, a negative price, a field longer
than its column) is skipped with a warning and counted in `IngestSummary.skipped`; the
rest is stored. The answer comes from the API, so its strings are hostile: the warning
names the offer key, the field and its length, never the value.

Duplicate offer keys inside one answer (two listings that differ only in fields outside
the key: price, capacity, tier, certifications, servers) are disambiguated
deterministically: the listings are ordered by (price, capacity, canonical JSON) and
all but the first get the suffix `~2`, `~3`, ... So the cheapest listing keeps the plain
key, and the same answer always maps to the same keys.
"""

from __future__ import annotations

import functools
import gc
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, ParamSpec, Protocol, TypeVar

import sqlalchemy as sa
import structlog
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.engine import Connection, Engine

from optimizer.clock import Clock, utc
from optimizer.errors import ApiError, StoreError
from optimizer.fluence.models import Offer, Vm, offer_sizes
from optimizer.fluence.offer_listings import (
    Listing,
    NotAnOfferList,
    answer_digest,
    listing_of,
    scan_offers,
)
from optimizer.money import to_micros
from optimizer.store import fencing
from optimizer.store.engine import store_errors, writing
from optimizer.store.tables.market import OUTCOME_FAILED, OUTCOME_OK
from optimizer.store.tables.market import offer_price_table as price_t
from optimizer.store.tables.market import offer_table as offer_t
from optimizer.store.tables.market import snapshot_table as snapshot_t
from optimizer.store.tables.market import vm_observation_table as vmobs_t
from optimizer.store.tables.market import vm_table as vm_t

log = structlog.get_logger("optimizer.store.ingest")


@functools.cache
def _offers_adapter() -> TypeAdapter[list[Offer]]:
    """The validator of a decoded offers list, built on first use (~50 ms): a raw answer
    goes through the fast scan and never needs it."""
    return TypeAdapter(list[Offer])


_LIMITS = {"key": 40, "configuration": 80, "storage_type": 16, "cpu_manufacturer": 40,
           "cpu_architecture": 40, "country": 8, "city": 16, "datacenter": 40}  # fmt: skip


@dataclass(frozen=True)
class IngestSummary:
    """What one snapshot changed. `new` counts offer keys never seen before; `reappeared`
    keys seen before but not in the previous ok snapshot; `changed` offers whose price or
    capacity moved; `vanished` offers listed in the previous ok snapshot but not now."""

    snapshot_id: int
    outcome: str
    seen: int = 0
    new: int = 0
    reappeared: int = 0
    changed: int = 0
    vanished: int = 0
    duplicates: int = 0
    skipped: int = 0  # malformed offers left out of an ok snapshot
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == OUTCOME_OK


@dataclass(frozen=True)
class VmIngestSummary:
    seen: int
    new: int
    changed: int


class MalformedSnapshot(ValueError):
    """The API answer can't be stored (bad JSON, wrong shape, invalid offer)."""


def parse_offers(raw: bytes | str | Sequence[Any], skipped: list[str] | None = None) -> list[Offer]:
    """Given a raw answer (JSON text/bytes, a decoded list, or Offer models), return Offers.

    With a `skipped` list, an offer that fails validation is left out and the reason
    appended to it; without one, the first such offer raises. Raise MalformedSnapshot,
    naming the problem, for an answer that is not a list.
    """
    data: Any = raw
    if isinstance(raw, bytes | bytearray | str):
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as err:
            raise MalformedSnapshot(f"offers answer is not valid JSON: {err}") from None
    if not isinstance(data, list | tuple):
        raise MalformedSnapshot(f"offers answer is a {type(data).__name__}, expected a list")
    if all(isinstance(o, Offer) for o in data):
        return list(data)
    try:
        return _offers_adapter().validate_python(list(data))
    except ValidationError as err:
        if skipped is None:
            raise MalformedSnapshot(_first_error(err)) from None
    out = []
    for i, item in enumerate(data):
        try:
            out.append(item if isinstance(item, Offer) else Offer.model_validate(item))
        except ValidationError as err:
            skipped.append(_first_error(err, prefix=str(i)))
    return out


def _first_error(err: ValidationError, prefix: str = "") -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in (prefix, *first["loc"]) if p != "")
    return f"offers[{where}]: {first['msg']}"


def offer_problem(o: Listing) -> str | None:
    """Why `o` cannot be stored (a negative price, a field longer than its column), or
    None. Names the field and its length, not the (API-supplied) value."""
    if o.price < 0:
        return f"offer {o.key}: negative price"
    if any(p is not None and p < 0 for p in (o.disk_price_per_gb, o.public_ip_price)):
        return f"offer {o.key}: negative disk or public IP price"
    cpu = o.resource("VCPU") or {}
    storage = o.resource("STORAGE") or {}
    fields = {
        "configuration": o.configuration,
        "storage_type": storage.get("type"),
        "cpu_manufacturer": cpu.get("manufacturer"),
        "cpu_architecture": cpu.get("architecture"),
        "country": o.country_code,
        "city": o.city_code,
        "datacenter": o.label,
    }
    for col, value in fields.items():
        text = _str(value)
        if text is not None and len(text) > _LIMITS[col]:
            return f"offer {o.key}: {col} is {len(text)} characters, the limit is {_LIMITS[col]}"
    return None


#: The last answer's verdicts by item JSON (`Listing.source`): an item repeated byte for
#: byte (see `offer_listings.scan_offers`) has the same verdict and is not checked again.
_verdicts: dict[bytes, str | None] = {}


def valid_offers(offers: Sequence[Listing], skipped: list[str]) -> list[Listing]:
    """`offers` without the ones that cannot be stored (reasons appended to `skipped`)."""
    global _verdicts
    previous, verdicts = _verdicts, {}
    out = []
    for o in offers:
        if isinstance(o.source, bytes):
            problem = previous[o.source] if o.source in previous else offer_problem(o)
            verdicts[o.source] = problem
        else:
            problem = offer_problem(o)
        if problem is None:
            out.append(o)
        else:
            skipped.append(problem)
    _verdicts = verdicts
    return out


def offer_rows(offers: Sequence[Listing]) -> tuple[list[dict[str, Any]], int]:
    """Listings with unique keys: dicts with `key`, `offer` (the Listing), `price_micros`,
    `capacity`, `tier`, `certifications`; return (rows, number of duplicate listings that
    got a suffix). `offer_attributes(row)` gives the full column set for a new offer."""
    by_key: dict[str, list[tuple[Listing, int, int]]] = {}
    for o in offers:
        price = to_micros(o.price)
        if price < 0:
            raise MalformedSnapshot(f"offer {o.configuration} in {o.label}: negative price")
        by_key.setdefault(o.key, []).append((o, price, o.capacity))
    rows: list[dict[str, Any]] = []
    duplicates = 0
    for key, group in by_key.items():
        if len(group) > 1:
            duplicates += len(group) - 1
            group.sort(key=lambda g: (g[1], g[2], g[0].canonical_json()))
        for n, (o, price, cap) in enumerate(group, start=1):
            rows.append({
                "key": key if n == 1 else f"{key}~{n}",
                "offer": o,
                "price_micros": price,
                "capacity": cap,
                "tier": o.tier,
                "certifications": "; ".join(sorted(o.certifications)),
                "disk_price_per_gb": o.disk_price_per_gb,
                "public_ip_price": o.public_ip_price,
            })  # fmt: skip
    return rows, duplicates


def offer_attributes(row: dict[str, Any]) -> dict[str, Any]:
    """The `offer` table columns (but id, first/last seen) of a listing from `offer_rows`.

    Raise MalformedSnapshot when a value does not fit its column."""
    return _attributes(row["offer"], row["key"], row["price_micros"], row["capacity"])


def _attributes(o: Listing, key: str, price: int, capacity: int) -> dict[str, Any]:
    sizes = offer_sizes(o.configuration, o.resource)
    cpu = o.resource("VCPU")
    storage = o.resource("STORAGE")
    row = {
        "key": key,
        "configuration": o.configuration,
        "vcpu": sizes[0],
        "ram_gb": sizes[1],
        "storage_gb": sizes[2],
        "storage_type": _str(storage.get("type")) if storage else None,
        "cpu_manufacturer": _str(cpu.get("manufacturer")) if cpu else None,
        "cpu_architecture": _str(cpu.get("architecture")) if cpu else None,
        "country": o.country_code or "??",
        "city": o.city_code or "???",
        "city_index": o.city_index or 0,
        "datacenter": o.label,
        "tier": o.tier,
        "certifications": "; ".join(sorted(o.certifications)),
        "price_unit": o.price_unit,
        "disk_price_per_gb": o.disk_price_per_gb,
        "public_ip_price": o.public_ip_price,
        "price_micros": price,
        "capacity": capacity,
    }
    for col, limit in _LIMITS.items():
        text = row[col]
        if isinstance(text, str) and len(text) > limit:
            raise MalformedSnapshot(f"offer {key}: {col} longer than {limit} characters")
    return row


def _str(v: object) -> str | None:
    return None if v is None else str(v)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _without_gc_pauses(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run `fn` with the cyclic garbage collector paused. A snapshot allocates tens of
    thousands of short-lived, acyclic tuples and dicts, which set off collections that
    walk every object of the process (about a quarter of a changed snapshot's CPU in the
    daemon); whatever cycles it leaves are collected once it returns."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()

    return wrapper


@_without_gc_pauses
def ingest_snapshot(
    engine: Engine,
    offers: bytes | str | Sequence[Any],
    taken_at: datetime,
    duration: timedelta | float = 0.0,
) -> IngestSummary:
    """Store one marketplace answer taken at `taken_at` (the poll took `duration`).

    `offers` is the raw answer (JSON text/bytes or decoded list) or parsed Offers. Return
    an IngestSummary; a malformed answer gives outcome `failed` and stores no offer data.
    Raise StoreError when the database fails (nothing is written then), or when
    `taken_at` is older than the latest stored snapshot.

    A raw answer identical to the latest ok snapshot's (same digest) is stored as one
    snapshot row: nothing is parsed and no offer is looked at.
    """
    taken_at = utc(taken_at)
    ms = int((duration.total_seconds() if isinstance(duration, timedelta) else duration) * 1000)
    digest = None
    if isinstance(offers, str):
        offers = offers.encode()
    if isinstance(offers, bytes | bytearray):
        offers = bytes(offers)
        digest = answer_digest(offers)
        repeated = _repeat_latest(engine, digest, taken_at, ms)
        if repeated is not None:
            return repeated
    skipped: list[str] = []
    try:
        parsed = valid_offers(_listings(offers, skipped), skipped)
        if skipped and not parsed:  # not an empty market: nothing in the answer was usable
            raise MalformedSnapshot(f"all {len(skipped)} offers malformed; first: {skipped[0]}")
        rows, duplicates = offer_rows(parsed)
    except MalformedSnapshot as err:
        return record_failed_snapshot(engine, taken_at, ms, str(err))
    for why in skipped:
        log.warning("malformed offer skipped", why=why)
    if skipped or duplicates:  # a repeat must give the same summary: store it whole only
        digest = None
    try:
        with store_errors(engine), writing(engine).begin() as conn:
            fencing.check(engine, conn)
            summary = _ingest(conn, rows, duplicates, taken_at, ms, digest)
    except MalformedSnapshot as err:  # raised before anything was committed
        return record_failed_snapshot(engine, taken_at, ms, str(err))
    return replace(summary, skipped=len(skipped))


def _listings(offers: bytes | Sequence[Any], skipped: list[str]) -> list[Listing]:
    """The answer's listings (the raw answer through the fast scan, anything else through
    the models); malformed offers are left out and their reasons appended to `skipped`."""
    if isinstance(offers, bytes):
        try:
            scan = scan_offers(offers)
        except NotAnOfferList as err:
            raise MalformedSnapshot(str(err)) from None
        skipped.extend(scan.skipped)
        return scan.listings
    return [listing_of(o) for o in parse_offers(offers, skipped)]


def _latest_ok(conn: Connection) -> Any:
    """id, taken_at, offer_count, answer_digest of the latest ok snapshot (a Row), or None."""
    return conn.execute(
        sa.select(
            snapshot_t.c.id,
            snapshot_t.c.taken_at,
            snapshot_t.c.offer_count,
            snapshot_t.c.answer_digest,
        )
        .where(snapshot_t.c.outcome == OUTCOME_OK)
        .order_by(snapshot_t.c.id.desc())
        .limit(1)
    ).first()


def _check_order(prev: Any, taken_at: datetime) -> None:
    if prev is not None and prev.taken_at > taken_at:
        raise StoreError(
            f"snapshot taken at {taken_at.isoformat()} is older than the latest stored one "
            f"({prev.taken_at.isoformat()}); snapshots must be ingested in time order"
        )


def _repeat_latest(
    engine: Engine, digest: str, taken_at: datetime, ms: int
) -> IngestSummary | None:
    """When the latest ok snapshot stored an answer with this digest, store this one as
    a snapshot row listing the same offers and return its summary; else None."""
    with store_errors(engine), writing(engine).begin() as conn:
        prev = _latest_ok(conn)
        if prev is None or prev.answer_digest != digest:
            return None
        fencing.check(engine, conn)
        _check_order(prev, taken_at)
        sid = conn.execute(
            sa.insert(snapshot_t).returning(snapshot_t.c.id),
            {"taken_at": taken_at, "duration_ms": ms, "offer_count": prev.offer_count,
             "outcome": OUTCOME_OK, "error": None, "answer_digest": digest},
        ).scalar_one()  # fmt: skip
    return IngestSummary(snapshot_id=sid, outcome=OUTCOME_OK, seen=prev.offer_count)


def record_failed_snapshot(
    engine: Engine, taken_at: datetime, duration_ms: int, error: str
) -> IngestSummary:
    """Record a poll that produced no usable answer (API down, malformed body)."""
    with store_errors(engine), writing(engine).begin() as conn:
        fencing.check(engine, conn)
        sid = conn.execute(
            sa.insert(snapshot_t).returning(snapshot_t.c.id),
            {"taken_at": utc(taken_at), "duration_ms": duration_ms, "offer_count": 0,
             "outcome": OUTCOME_FAILED, "error": error[:2000]},
        ).scalar_one()  # fmt: skip
    return IngestSummary(snapshot_id=sid, outcome=OUTCOME_FAILED, error=error)


#: offer attributes that may change while its key stays (a datacenter's tier and
#: certifications; a cluster's disk and IP prices): updated when they do
_KEPT_CURRENT = (
    offer_t.c.tier,
    offer_t.c.certifications,
    offer_t.c.disk_price_per_gb,
    offer_t.c.public_ip_price,
)


def _ingest(  # noqa: C901 — one transaction, in order: guard, snapshot row, offer upserts,
    # price/epoch rows, outcome; the steps share the open connection and the offer-id map
    conn: Connection,
    rows: list[dict[str, Any]],
    duplicates: int,
    taken_at: datetime,
    ms: int,
    digest: str | None,
) -> IngestSummary:
    prev = _latest_ok(conn)
    _check_order(prev, taken_at)
    sid = conn.execute(
        sa.insert(snapshot_t).returning(snapshot_t.c.id),
        {"taken_at": taken_at, "duration_ms": ms, "offer_count": len(rows),
         "outcome": OUTCOME_OK, "error": None, "answer_digest": digest},
    ).scalar_one()  # fmt: skip

    # every offer and open interval is read (`.all()`: one fetch, not one per row); an
    # unchanged offer then costs a dictionary lookup
    known: dict[str, tuple[Any, ...]] = {
        r.key: (r.id, *r[2:])
        for r in conn.execute(sa.select(offer_t.c.id, offer_t.c.key, *_KEPT_CURRENT)).all()
    }
    fresh = [r for r in rows if r["key"] not in known]
    ids: dict[str, int] = {k: v[0] for k, v in known.items()}
    if fresh:
        attr_cols = [c.name for c in offer_t.columns if c.name != "id"]
        payload = []
        for r in fresh:
            attrs = offer_attributes(r)
            attrs.update(first_seen=taken_at, last_seen=taken_at)
            payload.append({c: attrs.get(c) for c in attr_cols})
        for oid, key in conn.execute(
            sa.insert(offer_t).returning(offer_t.c.id, offer_t.c.key), payload
        ):
            ids[key] = oid
    kept = [c.name for c in _KEPT_CURRENT]
    moved = [
        {"b_id": known[r["key"]][0], **{c: r[c] for c in kept}}
        for r in rows
        if r["key"] in known and known[r["key"]][1:] != tuple(r[c] for c in kept)
    ]
    if moved:
        conn.execute(
            offer_t.update()
            .where(offer_t.c.id == sa.bindparam("b_id"))
            .values({c: sa.bindparam(c) for c in kept}),
            moved,
        )

    open_rows = {
        offer_id: (iid, price, capacity)
        for iid, offer_id, price, capacity in conn.execute(
            sa.select(
                price_t.c.id, price_t.c.offer_id, price_t.c.price_micros, price_t.c.capacity
            ).where(price_t.c.to_snapshot_id.is_(None))
        ).all()
    }
    close: list[int] = []
    opened: list[tuple[int, int, int, int]] = []
    changed = reappeared = 0
    listed: set[int] = set()
    for r in rows:
        oid = ids[r["key"]]
        listed.add(oid)
        cur = open_rows.get(oid)
        if cur is not None and cur[1] == r["price_micros"] and cur[2] == r["capacity"]:
            continue
        if cur is not None:
            changed += 1
            close.append(cur[0])
        elif r["key"] in known:
            reappeared += 1
        opened.append((oid, r["price_micros"], r["capacity"], sid))
    vanished = {oid: iv[0] for oid, iv in open_rows.items() if oid not in listed}
    close.extend(vanished.values())
    if close:
        if prev is None:  # open intervals without a previous ok snapshot: impossible
            raise StoreError("store is inconsistent: open price intervals but no ok snapshot")
        for i in range(0, len(close), 5000):
            conn.execute(
                price_t.update()
                .where(price_t.c.id.in_(close[i : i + 5000]))
                .values(to_snapshot_id=prev.id)
            )
    if opened:
        # straight to the driver's executemany: no per-row parameter processing
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(
            "INSERT INTO offer_price (offer_id, price_micros, capacity, from_snapshot_id) "
            f"VALUES ({mark}, {mark}, {mark}, {mark})",
            opened,
        )
    if vanished:
        # last seen in the previous ok snapshot; listed offers need no write (see the
        # `offer.last_seen` column)
        assert prev is not None  # checked with `close` above
        ids_gone = list(vanished)
        for i in range(0, len(ids_gone), 5000):
            conn.execute(
                offer_t.update()
                .where(offer_t.c.id.in_(ids_gone[i : i + 5000]))
                .values(last_seen=prev.taken_at)
            )
    return IngestSummary(
        snapshot_id=sid,
        outcome=OUTCOME_OK,
        seen=len(rows),
        new=len(fresh),
        reappeared=reappeared,
        changed=changed,
        vanished=len(vanished),
        duplicates=duplicates,
    )


# --- VMs ---------------------------------------------------------------------------------


def _vm_state(vm: Vm) -> dict[str, Any]:
    return {
        "status": vm.status,
        "price_micros": None if vm.cost_per_epoch is None else to_micros(vm.cost_per_epoch),
        "reserved_micros": None if vm.reserved_balance is None else to_micros(vm.reserved_balance),
        "spent_micros": None if vm.total_spent is None else to_micros(vm.total_spent),
        "next_billing_at": None if vm.next_billing_at is None else utc(vm.next_billing_at),
        "datacenter": vm.datacenter.label if vm.datacenter else None,
    }


def ingest_vms(engine: Engine, vms: Sequence[Vm], observed_at: datetime) -> VmIngestSummary:
    """Store one `GET /vms/v3` answer observed at `observed_at`, change-only.

    A VM that looks as it did at its previous observation extends that observation's
    interval; otherwise a new interval starts. VMs absent from the answer get no row.
    Raise StoreError when the database fails (nothing is written then).
    """
    observed_at = utc(observed_at)
    with store_errors(engine), writing(engine).begin() as conn:
        fencing.check(engine, conn)
        known = {
            r.vm_id: r
            for r in conn.execute(
                sa.select(vm_t.c.id, vm_t.c.vm_id, vm_t.c.name, vm_t.c.datacenter)
            )
        }
        new = 0
        refs: dict[str, int] = {}
        for vm in vms:
            dc = vm.datacenter.label if vm.datacenter else None
            row = known.get(vm.id)
            if row is None:
                refs[vm.id] = conn.execute(
                    sa.insert(vm_t).returning(vm_t.c.id),
                    {"vm_id": vm.id, "name": vm.vm_name, "created_at": vm.created_at and
                     utc(vm.created_at), "datacenter": dc, "first_seen": observed_at,
                     "last_seen": observed_at},
                ).scalar_one()  # fmt: skip
                new += 1
            else:
                refs[vm.id] = row.id
                values: dict[str, Any] = {"last_seen": observed_at}
                if vm.vm_name and vm.vm_name != row.name:
                    values["name"] = vm.vm_name
                if dc and dc != row.datacenter:
                    values["datacenter"] = dc
                conn.execute(vm_t.update().where(vm_t.c.id == row.id).values(**values))
        latest_ids = (
            sa.select(sa.func.max(vmobs_t.c.id))
            .where(vmobs_t.c.vm_ref.in_(list(refs.values())))
            .group_by(vmobs_t.c.vm_ref)
        )
        state_cols = [vmobs_t.c[c] for c in
                      ("status", "price_micros", "reserved_micros", "spent_micros",
                       "next_billing_at", "datacenter")]  # fmt: skip
        latest = {
            r.vm_ref: r
            for r in conn.execute(
                sa.select(vmobs_t.c.id, vmobs_t.c.vm_ref, *state_cols).where(
                    vmobs_t.c.id.in_(latest_ids)
                )
            )
        }
        changed = 0
        for vm in vms:
            ref = refs[vm.id]
            state = _vm_state(vm)
            last = latest.get(ref)
            if last is not None and all(getattr(last, k) == v for k, v in state.items()):
                conn.execute(
                    vmobs_t.update().where(vmobs_t.c.id == last.id).values(to_at=observed_at)
                )
                continue
            if last is not None:
                changed += 1
            conn.execute(
                sa.insert(vmobs_t),
                {**state, "vm_ref": ref, "from_at": observed_at, "to_at": observed_at},
            )
    return VmIngestSummary(seen=len(vms), new=new, changed=changed)


# --- one poll ----------------------------------------------------------------------------


class _MarketClient(Protocol):
    def offers_answer(self) -> bytes: ...

    def list_vms(self) -> list[Vm]: ...


def take_snapshot(
    engine: Engine, client: _MarketClient, clock: Clock, *, vms: bool = True
) -> tuple[IngestSummary, VmIngestSummary | None]:
    """Poll `POST /marketplace/offers` (and `GET /vms/v3` when `vms`) and store the answers.

    When the offers call fails with an ApiError, a failed snapshot row records why and
    the error is raised again (nothing else is written). Return the summaries.
    """
    started = clock.now()
    t0 = time.monotonic()
    try:
        offers = client.offers_answer()
    except ApiError as err:
        ms = int((time.monotonic() - t0) * 1000)
        record_failed_snapshot(engine, started, ms, str(err))
        raise
    summary = ingest_snapshot(engine, offers, started, time.monotonic() - t0)
    vm_summary = ingest_vms(engine, client.list_vms(), clock.now()) if vms else None
    return summary, vm_summary
