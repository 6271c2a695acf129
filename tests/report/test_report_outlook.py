"""The report leads with the operator's question: what the fleets cost, what was saved,
and what the optimizer is doing or would do now — read from the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa

from optimizer.analysis import analyze
from optimizer.analysis.synthetic import synthetic_observations
from optimizer.report import render_html, render_markdown
from optimizer.store.engine import open_store
from optimizer.store.outlook import FleetOutlook, fleet_outlook
from optimizer.store.tables.alerts import PlanCash
from optimizer.store.tables.journal import FleetVm, JournalAction
from tests.report.test_report_html import parse

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def store(db_url):
    engine = open_store(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _own(c: sa.Connection, vm_id: str, fleet: str, released: datetime | None = None) -> None:
    c.execute(sa.insert(FleetVm.__table__), {"vm_id": vm_id, "fleet": fleet, "source": "created",
              "vm_name": vm_id, "owned_at": T0, "released_at": released})  # fmt: skip


def _action(c: sa.Connection, fleet: str, state: str, reason: str, token: str) -> None:
    c.execute(sa.insert(JournalAction.__table__), {"fleet": fleet, "kind": "migrate",
              "state": state, "token": token, "reason": reason, "new_vm_ids": "", "attempts": 0,
              "created_at": T0,
              "updated_at": T0})  # fmt: skip


def test_outlook_counts_owned_vms_open_actions_and_the_last_plan(store) -> None:
    with store.begin() as c:
        _own(c, "0xa", "web")
        _own(c, "0xb", "web")
        _own(c, "0xgone", "web", released=T0 + timedelta(hours=1))
        _own(c, "0xc", "batch")
        _action(c, "web", "launching", "0xa → DE-FRA-1 saves $0.05/epoch", "t1")
        _action(c, "web", "done", "an older move", "t2")
        c.execute(sa.insert(PlanCash.__table__), [
            {"fleet": "web", "deposit_micros": 0, "savings_micros": 50_000, "planned_at": T0},
            {"fleet": "batch", "deposit_micros": 0, "savings_micros": 0, "planned_at": T0},
            {"fleet": "idle", "deposit_micros": 0, "savings_micros": 250_000, "planned_at": T0},
        ])  # fmt: skip
    got = {o.fleet: o for o in fleet_outlook(store)}
    assert list(got) == ["batch", "idle", "web"]
    assert got["web"].vms == 2  # the released VM is not the fleet's any more
    assert got["web"].open_actions == ("migrate: 0xa → DE-FRA-1 saves $0.05/epoch",)
    assert got["batch"].open_actions == () and got["batch"].available_per_epoch == Decimal(0)
    assert got["idle"].vms == 0 and got["idle"].available_per_epoch == Decimal("0.25")
    assert got["idle"].planned_at == T0


def test_an_empty_store_has_no_outlook(store) -> None:
    assert fleet_outlook(store) == []


def test_the_fleets_come_first_in_html_and_markdown() -> None:
    sim_analysis = analyze(
        synthetic_observations(start=T0, snapshots=40, offers=6, interval=timedelta(hours=6)),
        since=T0,
        until=T0 + timedelta(days=10),
    )
    grid = sim_analysis.history.grid
    spend = pd.DataFrame({"epoch": grid[:4], "fleet": "web", "spend_usd": [1.25] * 4})
    saved = pd.DataFrame({"epoch": grid[2:4], "fleet": "web", "savings_usd": [0.5, 0.25]})
    outlook = [
        FleetOutlook("batch", 2, (), Decimal("0.125"), T0),
        FleetOutlook("web", 3, ("migrate: cheaper in DE",), Decimal(0), T0),
        FleetOutlook("cold", 1, (), Decimal(0), T0),
    ]
    now = datetime(2026, 1, 31, tzinfo=UTC)
    html = render_html(sim_analysis, generated_at=now, fleet_spend=spend, savings=saved,
                       outlook=outlook)  # fmt: skip
    page = parse(html)
    assert page.errors == []
    assert page.section_ids[0] == "fleets"
    first = html[html.index('<section id="fleets">') : html.index('<section id="price-bands">')]
    text = " ".join(" ".join(parse(first).text).split())
    assert "web 3 $5.00 $0.75 migrate: cheaper in DE" in text
    assert (
        "batch 2 $0.00 $0.00 last plan (2026-03-01 00:00 UTC): moves saving $0.1250/epoch" in text
    )
    assert "cold 1 $0.00 $0.00 stays where it is" in text
    md = render_markdown(sim_analysis, generated_at=now, fleet_spend=spend, savings=saved,
                         outlook=outlook)  # fmt: skip
    assert md.index("## Your fleets") < md.index("## Cheapest countries now")
    assert "| web | 3 | $5.00 | $0.75 | migrate: cheaper in DE |" in md
