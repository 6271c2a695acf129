"""The two billing models (`optimizer.billing`): epoch deals (the seeds' API, today's
figures) and per-second billing (the cloud API). Pure arithmetic, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from optimizer.billing import (
    DEPOSIT_EPOCHS,
    EPOCH_DEAL,
    PER_SECOND,
    Timing,
    billing_model,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


# -- epoch deals: the figures the planner has always used ---------------------------------


def test_epoch_deal_aligns_the_cutover_just_before_the_next_charge() -> None:
    t = EPOCH_DEAL.schedule(NOW, NOW + timedelta(hours=6), 10 * MIN, True)
    cutover = NOW + timedelta(hours=5, minutes=55)
    assert t == Timing(cutover - 10 * MIN, cutover, aligned=True)


def test_epoch_deal_takes_the_next_charge_when_the_start_is_already_past() -> None:
    t = EPOCH_DEAL.schedule(NOW, NOW + 5 * MIN, 10 * MIN, True)
    assert t.aligned and t.cutover_at == NOW + timedelta(hours=24)
    assert t.start_at == t.cutover_at - 10 * MIN


def test_epoch_deal_unaligned_or_unknown_billing_time_starts_now() -> None:
    for nb, align in ((NOW + timedelta(hours=6), False), (None, True)):
        assert EPOCH_DEAL.schedule(NOW, nb, 10 * MIN, align) == Timing(NOW, NOW + 10 * MIN)


def test_epoch_deal_overlap_is_old_remainder_plus_new_paid_time() -> None:
    aligned = EPOCH_DEAL.schedule(NOW, NOW + timedelta(hours=6), 10 * MIN, True)
    # 5 min of the old epoch left (1.00 × 300/86400) + 10 min of the new VM (0.50 × 600/86400)
    assert EPOCH_DEAL.overlap_cost(D("1.00"), D("0.50"), aligned, NOW + timedelta(hours=6)) == D(
        "0.006944"
    )
    now = Timing(NOW, NOW + 10 * MIN)
    # 20 h of the old epoch are not refunded: 1.00 × (20 h − 10 min) / 24 h + 0.003472
    assert EPOCH_DEAL.overlap_cost(D("1.00"), D("0.50"), now, NOW + timedelta(hours=20)) == D(
        "0.829861"
    )
    # billing time unknown: half an epoch of the old VM on average
    assert EPOCH_DEAL.overlap_cost(D("1.00"), D("0.50"), now, None) == D("0.503472")


def test_epoch_deal_deposits_two_epochs_and_needs_no_floor() -> None:
    assert DEPOSIT_EPOCHS == 2
    assert EPOCH_DEAL.deposit(D("0.80")) == D("1.60")
    assert EPOCH_DEAL.funds_to_start(D("0.80"), running=D("100")) == D("1.60")
    assert EPOCH_DEAL.reserves


def test_epoch_deal_charges_a_whole_epoch_at_each_billing_time() -> None:
    nb = NOW + timedelta(hours=6)
    assert EPOCH_DEAL.cost_between(D("1.20"), NOW, NOW + timedelta(hours=5), nb) == 0
    assert EPOCH_DEAL.cost_between(D("1.20"), NOW, NOW + timedelta(hours=7), nb) == D("1.20")
    assert EPOCH_DEAL.cost_between(D("1.20"), NOW, NOW + timedelta(days=2), nb) == D("2.40")
    assert EPOCH_DEAL.cost_between(D("1.20"), NOW, NOW + timedelta(days=2), None) == 0


def test_epoch_deal_words_are_todays() -> None:
    assert EPOCH_DEAL.rate(D("1.20")) == "$1.20/epoch"
    assert EPOCH_DEAL.rate(D("0.5"), 4) == "$0.5000/epoch"
    assert EPOCH_DEAL.span(D("1.50")) == "1.50 epochs"


# -- per-second billing ------------------------------------------------------------------


def test_per_second_never_aligns_the_cutover_is_when_the_new_vm_is_up() -> None:
    for nb in (NOW + timedelta(hours=6), None):
        assert PER_SECOND.schedule(NOW, nb, 12 * MIN, True) == Timing(NOW, NOW + 12 * MIN)


def test_per_second_overlap_is_the_minutes_both_vms_exist_at_the_new_price() -> None:
    # $0.05/h (1.20 per 24 h) for the 12 minutes both exist: 0.01; the old VM's remaining
    # time costs nothing extra (nothing was prepaid, nothing is refunded)
    t = PER_SECOND.schedule(NOW, NOW + timedelta(hours=20), 12 * MIN, True)
    assert PER_SECOND.overlap_cost(D("2.40"), D("1.20"), t, NOW + timedelta(hours=20)) == D(
        "0.010000"
    )
    assert PER_SECOND.overlap_cost(D("2.40"), D("1.20"), Timing(NOW, NOW), None) == 0


def test_per_second_floor_is_six_hours_of_everything_with_the_new_resources() -> None:
    # running $0.10/h, new $0.05/h → 6 h × $0.15/h
    assert PER_SECOND.funds_to_start(D("1.20"), running=D("2.40")) == D("0.90")
    assert PER_SECOND.deposit(D("1.20")) == 0 and not PER_SECOND.reserves
    assert "6 h" in PER_SECOND.funds_words(D("0.50"), D("0.90"))


def test_per_second_cost_is_pro_rata_by_the_second() -> None:
    start = NOW + timedelta(seconds=17)
    assert PER_SECOND.cost_between(D("1.20"), start, start + 90 * MIN) == D("0.075")
    assert PER_SECOND.cost_between(D("1.20"), start, start - MIN) == 0


def test_per_second_words_are_hourly() -> None:
    assert PER_SECOND.rate(D("1.20")) == "$0.05/h"
    assert PER_SECOND.price(D("24")) == "$1.00"
    assert PER_SECOND.price(D("1")) == "$0.041667"
    assert PER_SECOND.rate(D("0.12"), 4) == "$0.005000/h"
    assert PER_SECOND.span(D("1.5")) == "36.0 h"
    assert PER_SECOND.day == "24 h"


def test_models_by_name() -> None:
    assert billing_model("epoch-deal") is EPOCH_DEAL
    assert billing_model("per-second") is PER_SECOND
    with pytest.raises(ValueError, match="unknown billing model 'hourly'"):
        billing_model("hourly")


# -- the API edge picks the model; the planner follows it ---------------------------------


def test_each_generation_answers_its_billing_model_and_the_runner_plans_with_it(
    tmp_path,
) -> None:
    from optimizer.config import ApiConfig, parse_config
    from optimizer.executor import FleetRunner
    from optimizer.fluence.generation import billing_of, connect
    from optimizer.sim import Simulator
    from optimizer.store.engine import open_store
    from tests.fluence.cloud.fake import KEY, FakeCloud

    sim = Simulator(seed=3, offers=5)
    v3 = connect(ApiConfig(), transport=sim.transport(), api_key=sim.api_key)
    cloud = connect(
        ApiConfig(base_url="https://api.example.test", max_retries=0, generation="cloud"),
        transport=FakeCloud().transport(),
        api_key=KEY,
    )
    assert v3.billing is EPOCH_DEAL and cloud.billing is PER_SECOND
    assert billing_of("marketplace-v3") is EPOCH_DEAL and billing_of("cloud") is PER_SECOND
    assert billing_of("auto") is None

    fleet = {"name": "web", "instances": 1, "os_image": "https://i.example/u.img"}
    config = parse_config({"fleets": [{**fleet, "ssh_keys": ["ops"]}]})
    engine = open_store(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        deposits = {}
        for api in (v3, cloud):
            runner = FleetRunner(api, engine, sim.clock, config)
            p = runner.plan(config.fleets[0], offers=api.list_offers(), vms=[], now=sim.now())
            (deploy,) = p.actions
            deposits[api.billing.name] = (p.deposits_needed, deploy.expected_price)
        # a balance the API reports reaches the planner: nothing created below the floor
        runner = FleetRunner(cloud, engine, sim.clock, config)
        broke = runner.plan(
            config.fleets[0],
            offers=cloud.list_offers(),
            vms=[],
            now=sim.now(),
            balance_usd=D("0.01"),
            burn_per_epoch=D("1"),
        )
        assert not broke.actions
        assert "not deployed: the balance $0.01 would not cover 6 h" in broke.notes[0]
    finally:
        engine.dispose()
    need, price = deposits["epoch-deal"]
    assert need == price * DEPOSIT_EPOCHS  # the seeds' API locks two epochs
    assert deposits["per-second"][0] == 0  # the cloud API locks nothing


def test_fleets_planned_in_one_tick_share_the_balance(tmp_path) -> None:
    from optimizer.config import ApiConfig, parse_config
    from optimizer.executor import FleetRunner
    from optimizer.fluence.generation import connect
    from optimizer.sim import Simulator
    from optimizer.store.engine import open_store
    from tests.fluence.cloud.fake import KEY, FakeCloud

    cloud = connect(
        ApiConfig(base_url="https://api.example.test", max_retries=0, generation="cloud"),
        transport=FakeCloud().transport(),
        api_key=KEY,
    )
    sim = Simulator(seed=3, offers=1)
    base = {"instances": 1, "os_image": "https://i.example/u.img", "ssh_keys": ["ops"]}
    config = parse_config({"fleets": [{**base, "name": "web"}, {**base, "name": "api"}]})
    engine = open_store(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        offers = cloud.list_offers()
        first = FleetRunner(cloud, engine, sim.clock, config).plan(
            config.fleets[0], offers=offers, vms=[], now=sim.now()
        )
        price = first.actions[0].expected_price
        # a balance that carries exactly one new VM for 6 h: the first fleet takes it
        runner = FleetRunner(cloud, engine, sim.clock, config)
        kw = {"offers": offers, "vms": [], "now": sim.now(), "balance_usd": price / 4}
        web, api = (runner.plan(f, **kw) for f in config.fleets)
        assert [a.kind for a in web.actions] == ["deploy"]
        assert not api.actions and "would not cover 6 h" in api.notes[0]
    finally:
        engine.dispose()
