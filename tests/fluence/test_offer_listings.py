"""The fast scan of the offers answer reads what the `Offer` models read, and tolerates
what they tolerate."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from optimizer.fluence.models import Offer
from optimizer.fluence.offer_listings import (
    NotAnOfferList,
    answer_digest,
    listing_of,
    offer_models,
    scan_offers,
)
from optimizer.sim import Simulator
from tests.store.conftest import wire_offer


def _fields(listing: Any) -> tuple[Any, ...]:
    return (
        listing.key,
        listing.price,
        listing.capacity,
        listing.configuration,
        listing.label,
        listing.tier,
        listing.certifications,
        listing.resources,
    )


def test_scan_reads_what_the_models_read() -> None:
    """Over a simulated market, every listing of the scan equals the listing of the
    model: same key (the stored identity), exact Decimal price, capacity, attributes."""
    body = Simulator(seed=5, offers=300).offers_json(None)
    scan = scan_offers(body)
    models = [Offer.model_validate(o) for o in json.loads(body)]
    assert scan.skipped == []
    assert [_fields(x) for x in scan.listings] == [_fields(listing_of(m)) for m in models]
    assert [x.key for x in scan.listings] == [m.offer_key for m in models]
    assert all(isinstance(x.price, Decimal) for x in scan.listings)
    # the duplicate tie-breaker is the model's documented JSON either way
    assert scan.listings[0].canonical_json() == listing_of(models[0]).canonical_json()


def test_scan_accepts_what_the_model_coerces_and_skips_what_it_rejects() -> None:
    """Values the model coerces (an index as a string, a number as price) are accepted
    as the model reads them; items the model rejects are skipped with its reason."""
    lax = wire_offer(index=3)
    lax["datacenter"]["cityIndex"] = "3"
    lax["configuration"]["price"] = 0.25
    padded = wire_offer(index=4, price=" 0.5 ")
    items: list[Any] = [
        lax,
        padded,
        wire_offer(index=5, price="lots"),
        None,
        {**wire_offer(index=6), "resources": [{"type": 5}]},
        wire_offer(index=7, price="NaN"),
        wire_offer(index=8),
    ]
    scan = scan_offers(json.dumps(items).encode())
    expected = [listing_of(Offer.model_validate(o)) for o in (lax, padded, items[-1])]
    assert [_fields(x) for x in scan.listings] == [_fields(x) for x in expected]
    assert scan.listings[0].city_index == 3 and scan.listings[0].price == Decimal("0.25")
    assert scan.listings[1].price == Decimal("0.5")
    assert [s.split(":")[0] for s in scan.skipped] == [
        "offers[2.configuration.price]",
        "offers[3]",
        "offers[4.resources.0.type]",
        "offers[5.configuration.price]",
    ]


def test_wrapped_answer_and_answers_that_are_not_offer_lists() -> None:
    """`{"offers": [...]}` reads like the bare list; anything else is one clear error."""
    items = [wire_offer(index=1), wire_offer(index=2)]
    bare = scan_offers(json.dumps(items).encode())
    wrapped = scan_offers(json.dumps({"offers": items}).encode())
    assert [_fields(x) for x in wrapped.listings] == [_fields(x) for x in bare.listings]
    for body, why in [
        (b'{"data": []}', "offers answer is a dict, expected a list"),
        (b'"text"', "offers answer is a str, expected a list"),
        (b'[{"configuration": ', "offers answer is not valid JSON"),
        (b"\xff\xfe", "offers answer is not valid JSON"),
    ]:
        with pytest.raises(NotAnOfferList, match=why):
            scan_offers(body)


def test_models_for_the_planner_leave_out_rejected_items() -> None:
    good = [wire_offer(index=1), wire_offer(index=2)]
    body = json.dumps([good[0], {"configuration": None}, good[1]]).encode()
    assert [m.offer_key for m in offer_models(body)] == [
        Offer.model_validate(o).offer_key for o in good
    ]


def test_digest_tells_identical_answers_from_different_ones() -> None:
    a = json.dumps([wire_offer(index=1)]).encode()
    b = json.dumps([wire_offer(index=1, price="0.30699")]).encode()
    assert answer_digest(a) == answer_digest(bytes(a)) != answer_digest(b)
    assert len(answer_digest(a)) == 32


def test_a_rescan_decodes_only_the_items_that_changed_and_reads_the_same() -> None:
    """Scanning the next answer reuses the listing of every item repeated byte for byte
    (the same object) and decodes the others; the result equals a scan from scratch."""
    sim = Simulator(seed=5, offers=200)
    before = scan_offers(sim.offers_json(None))
    moved = {o.key for o in sim.market.listed()[:20]}
    for key in moved:
        sim.set_offer_price(key, sim.offer_price(key) + Decimal("0.01"))
    body = sim.offers_json(None)
    again = scan_offers(body)
    by_key = {listing.key: listing for listing in before.listings}
    reused = [x for x in again.listings if x is by_key.get(x.key)]
    assert len(reused) == len(again.listings) - len(moved)
    assert all(x.key not in moved for x in reused)
    fresh = scan_offers(json.dumps(json.loads(body), indent=1).encode())  # no item repeated
    assert [_fields(x) for x in again.listings] == [_fields(x) for x in fresh.listings]
    assert again.skipped == fresh.skipped == []
