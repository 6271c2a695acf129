"""The marketplace-v3 offers answer (`POST /marketplace/offers`) → `Listing` records, fast.

A snapshot of a large market reads every offer of the answer but keeps only a few fields
of each (identity, price, capacity, tier, certifications, and the attributes of offers
never seen before). Building a pydantic `Offer` per offer costs most of a snapshot, so
`scan_offers` decodes the answer with msgspec into small structs of just those fields;
money stays `Decimal` (msgspec reads the JSON number or string exactly).

Tolerance is the pydantic path's: an item msgspec rejects is tried again with the
`Offer` model (which also coerces, e.g. `"3"` to 3), and only an item both reject is
skipped, with the model's error. Fields the store does not keep (resource prices,
servers' additional resources, `maxAdditionalSupply`) are not validated here.

`Listing` is also what `listing_of(offer)` makes of an `Offer` model, so the store has
one input type whichever way the offers arrived.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec

from optimizer.fluence.models import cloud_key, identity_key, offer_key, resource_identity

if TYPE_CHECKING:
    from optimizer.fluence.models import Offer


@dataclass(slots=True)
class Listing:
    """One offer of an answer, as the store reads it. `source` is the item's JSON (or the
    model it came from), kept to order exact duplicates the way the model path does."""

    key: str
    price: Decimal
    capacity: int
    configuration: str
    country_code: str | None
    city_code: str | None
    city_index: int | None
    tier: int | None
    certifications: tuple[str, ...]
    resources: tuple[tuple[str, dict[str, Any]], ...]
    source: bytes | Offer
    #: what `price` is per: "epoch" (marketplace-v3) or "hour" (cloud price points)
    price_unit: str = "epoch"
    #: cloud: the cluster's price per GB of boot disk and per public IP, per `price_unit`
    disk_price_per_gb: Decimal | None = None
    public_ip_price: Decimal | None = None

    @property
    def label(self) -> str:
        """`FR-PAR-1`, as `Datacenter.label` spells it."""
        return f"{self.country_code or '??'}-{self.city_code or '???'}-{self.city_index or 0}"

    def resource(self, kind: str) -> dict[str, Any] | None:
        """The metadata of the first resource of type `kind`, or None."""
        return next((meta for t, meta in self.resources if t == kind), None)

    def canonical_json(self) -> str:
        """The offer's documented JSON (as `Offer.wire()`), keys sorted: the last
        tie-breaker between duplicate listings."""
        from optimizer.fluence.models import Offer

        model = self.source
        if not isinstance(model, Offer):
            model = Offer.model_validate_json(model)
        return json.dumps(model.wire(), sort_keys=True)


@dataclass(frozen=True)
class OfferScan:
    """A scanned answer: the listings, and one line per skipped item saying why."""

    listings: list[Listing]
    skipped: list[str]


class NotAnOfferList(ValueError):
    """The answer is not JSON, or not a list of offers (bare or under `offers`)."""


def answer_digest(body: bytes) -> str:
    """What two identical answers share and two different ones do not (sha-256, 32 hex
    digits)."""
    return hashlib.sha256(body).hexdigest()[:32]


# --- the wire subset ---------------------------------------------------------------------


class _Configuration(msgspec.Struct):
    slug: str
    price: Decimal


class _Resource(msgspec.Struct):
    type: str
    metadata: dict[str, Any] = {}


class _Datacenter(msgspec.Struct, rename="camel"):
    country_code: str | None = None
    city_code: str | None = None
    city_index: int | None = None
    tier: int | None = None
    certifications: list[str] = []


class _Server(msgspec.Struct, rename="camel"):
    available_basic_instances: int = 0


class _Offer(msgspec.Struct, rename="camel"):
    configuration: _Configuration
    datacenter: _Datacenter
    # kept raw: equal resource lists recur across offers, so each is decoded and
    # canonicalized once per distinct byte string (see `_resources`)
    resources: msgspec.Raw = msgspec.Raw(b"[]")
    servers: list[_Server] = []
    # cloud price points (the neutral model's optional fields)
    cluster_id: str | None = None
    configuration_id: str | None = None
    price_unit: str | None = None
    disk_price_per_gb: Decimal | None = None
    public_ip_price: Decimal | None = None


_ITEM = msgspec.json.Decoder(_Offer)
_ITEMS = msgspec.json.Decoder(list[msgspec.Raw])
_RESOURCES = msgspec.json.Decoder(list[_Resource])
_Resources = dict[bytes, tuple[tuple[tuple[str, dict[str, Any]], ...], list[str]]]


#: The last scanned answer's items (their JSON) → their listings. Between two polls of
#: a market only a few offers change, and an item repeated byte for byte has the same
#: listing: it is not decoded again (most of a daemon tick's snapshot when prices move).
#: Holds one answer's items, about the size of the answer.
_previous_items: dict[bytes, Listing] = {}


def scan_offers(body: bytes) -> OfferScan:
    """Given the raw answer, return its listings; skip (and say why) each item that is
    not an offer. Raise NotAnOfferList when the answer itself is unusable."""
    global _previous_items
    previous = _previous_items
    items: dict[bytes, Listing] = {}
    resources: _Resources = {}
    listings: list[Listing] = []
    skipped: list[str] = []
    for i, raw in enumerate(offer_items(body)):
        item = bytes(raw)
        listing = previous.get(item)
        if listing is None:
            try:
                listing = _listing(_ITEM.decode(item), item, resources)
            except msgspec.ValidationError:
                listings.extend(_fallback(i, raw, skipped))
                continue
        items[item] = listing
        listings.append(listing)
    _previous_items = items
    return OfferScan(listings, skipped)


def offer_items(body: bytes) -> list[msgspec.Raw]:
    """The answer's items, undecoded: a bare list or the list under `offers`. Raise
    NotAnOfferList for anything else."""
    try:
        return _ITEMS.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        pass
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError as err:
        raise NotAnOfferList(f"offers answer is not valid JSON: {err}") from None
    if isinstance(data, dict) and isinstance(data.get("offers"), list):
        return _ITEMS.decode(msgspec.json.encode(data["offers"]))
    raise NotAnOfferList(f"offers answer is a {type(data).__name__}, expected a list")


def _listing(o: _Offer, source: bytes, resources: _Resources) -> Listing:
    """Raise msgspec.ValidationError for what the model would reject but the structs
    let through (a malformed resource list, a price that is not a finite number)."""
    if not all(
        p is None or p.is_finite()
        for p in (o.configuration.price, o.disk_price_per_gb, o.public_ip_price)
    ):
        raise msgspec.ValidationError("price is not a finite number")
    raw = bytes(o.resources)
    known = resources.get(raw)
    if known is None:
        parsed = tuple((r.type, r.metadata) for r in _RESOURCES.decode(raw))
        known = resources[raw] = (parsed, [resource_identity(t, m) for t, m in parsed])
    dc = o.datacenter
    slug = o.configuration.slug
    key = (
        cloud_key(o.cluster_id, o.configuration_id or slug)
        if o.cluster_id is not None
        else identity_key(slug, dc.country_code, dc.city_code, dc.city_index, known[1])
    )
    return Listing(
        key=key,
        price=o.configuration.price,
        capacity=sum(max(s.available_basic_instances, 0) for s in o.servers),
        configuration=slug,
        country_code=dc.country_code,
        city_code=dc.city_code,
        city_index=dc.city_index,
        tier=dc.tier,
        certifications=tuple(dc.certifications),
        resources=known[0],
        source=source,
        price_unit=o.price_unit or "epoch",
        disk_price_per_gb=o.disk_price_per_gb,
        public_ip_price=o.public_ip_price,
    )


def _fallback(i: int, raw: msgspec.Raw, skipped: list[str]) -> list[Listing]:
    """The pydantic model's verdict on an item the fast decoder rejected."""
    from pydantic import ValidationError

    from optimizer.fluence.models import Offer

    try:
        return [listing_of(Offer.model_validate_json(bytes(raw)))]
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in (i, *first["loc"]))
        skipped.append(f"offers[{where}]: {first['msg']}")
        return []


def listing_of(offer: Offer) -> Listing:
    """The `Listing` of an `Offer` model."""
    dc = offer.datacenter
    resources = tuple((r.type, r.metadata) for r in offer.resources)
    return Listing(
        key=offer_key(offer),
        price=offer.price,
        capacity=offer.capacity,
        configuration=offer.configuration.slug,
        country_code=dc.country_code,
        city_code=dc.city_code,
        city_index=dc.city_index,
        tier=dc.tier,
        certifications=tuple(dc.certifications),
        resources=resources,
        source=offer,
        price_unit=offer.unit,
        disk_price_per_gb=offer.disk_price_per_gb,
        public_ip_price=offer.public_ip_price,
    )


def offer_models(body: bytes) -> list[Offer]:
    """The answer's offers as `Offer` models (for the planner), leaving out the items the
    model rejects (the snapshot that stored the answer warned about those)."""
    from pydantic import ValidationError

    from optimizer.fluence.models import Offer

    out = []
    for raw in offer_items(body):
        try:
            out.append(Offer.model_validate_json(bytes(raw)))
        except ValidationError:
            continue
    return out
