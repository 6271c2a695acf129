"""A cloud price point's disk and public-IP prices are stored exactly with the offer, kept
current when the cluster changes them, and returned with the latest market; the raw-answer
scan and the model path agree, and marketplace-v3 offers have none."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.fluence.models import Offer
from optimizer.store.ingest import ingest_snapshot
from optimizer.store.queries import latest_market
from tests.store.conftest import wire_offer

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def cloud_offer(cluster: str, disk: str | None, ip: str | None) -> dict[str, object]:
    extras = {"diskPricePerGb": disk, "publicIpPrice": ip}
    return wire_offer(
        slug="cpu-shared-2vcpu-2gb",
        price="0.0125",
        clusterId=cluster,
        configurationId="cfg-s",
        priceUnit="hour",
        **{k: v for k, v in extras.items() if v is not None},
    )


def _cloud_extras(store: Engine) -> set[tuple[Decimal | None, Decimal | None]]:
    return {
        (r.disk_price_per_gb, r.public_ip_price)
        for r in latest_market(store).itertuples()
        if r.configuration == "cpu-shared-2vcpu-2gb"
    }


def test_extras_are_stored_exactly_and_kept_current(store: Engine) -> None:
    answer = [
        cloud_offer("cl-a", "0.0001234", "0.005"),
        cloud_offer("cl-b", None, None),
        wire_offer(),
    ]
    ingest_snapshot(store, json.dumps(answer).encode(), T0)  # the raw-answer scan
    assert _cloud_extras(store) == {(Decimal("0.0001234"), Decimal("0.005")), (None, None)}
    v3 = latest_market(store).set_index("configuration").loc["cpu-2-ram-4gb-storage-25gb"]
    assert v3.disk_price_per_gb is None and v3.public_ip_price is None

    # the cluster raises its address price: the same offer, its extras updated
    answer[0] = cloud_offer("cl-a", "0.0001234", "0.006")
    models = [Offer.model_validate(o) for o in answer]  # the model path
    ingest_snapshot(store, models, T0 + timedelta(minutes=15))
    with store.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM offer")).scalar_one() == 3
    assert _cloud_extras(store) == {(Decimal("0.0001234"), Decimal("0.006")), (None, None)}


def test_a_negative_extra_price_skips_that_offer(store: Engine) -> None:
    bad = cloud_offer("cl-a", "-0.1", "0.005")
    summary = ingest_snapshot(store, json.dumps([bad, wire_offer()]).encode(), T0)
    assert summary.seen == 1 and summary.skipped == 1
