"""The billing model, to the cent: charges at deploy and each epoch after, reserve held
and refunded, current epoch never refunded, aligned deletes, market pricing, capacity."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from bt_helpers import make_market

from optimizer.backtest.billing import Account, BillingModel

H = 3600
E = 86_400


def _acct(prices, model=None, capacity=None, step=timedelta(hours=1)):  # type: ignore[no-untyped-def]
    m = make_market(prices, step=step, capacity=capacity)
    return m, Account(m, model or BillingModel(lead_time_s=600))


def test_first_epoch_charged_at_deploy_and_reserve_held() -> None:
    """A deploy pays one epoch at once and locks one more epoch as reserve (cash, not cost)."""
    m, acct = _acct({"a": [0.30698] * 3})
    t0 = int(m.times[0])
    acct.deploy(0, 0, t0)
    assert acct.total() == Decimal("0.30698")
    assert acct.reserve_held == 306_980
    vm = next(iter(acct.vms.values()))
    assert vm.active_at == t0 + 600


def test_three_days_cost_three_epochs_and_delete_refunds_only_the_reserve() -> None:
    """Deployed at t0, deleted at t0+2.5 epochs: charges at t0, t0+E, t0+2E = 3 × price; the
    reserve comes back, the current (third) epoch does not."""
    m, acct = _acct({"a": [0.30698] * 80})
    t0 = int(m.times[0])
    vm = acct.deploy(0, 0, t0)
    acct.schedule_delete(vm.id, t0 + 2 * E + E // 2)
    acct.advance(t0 + 3 * E)
    assert acct.total() == Decimal("0.92094")  # 3 × 0.30698
    assert acct.reserve_held == 0
    assert acct.peak_reserve == 306_980


def test_delete_exactly_at_the_billing_boundary_avoids_that_charge() -> None:
    """The billing-aligned cutover: deleting at next_billing_at pays nothing more; one
    second later pays a whole extra epoch."""
    m, a1 = _acct({"a": [1.25] * 80})
    t0 = int(m.times[0])
    v = a1.deploy(0, 0, t0)
    a1.schedule_delete(v.id, t0 + E)
    a1.finish(t0 + 3 * E)
    assert a1.total() == Decimal("1.25")

    _, a2 = _acct({"a": [1.25] * 80})
    v = a2.deploy(0, 0, t0)
    a2.schedule_delete(v.id, t0 + E + 1)
    a2.finish(t0 + 3 * E)
    assert a2.total() == Decimal("2.50")


def test_deal_model_keeps_the_deploy_price_market_model_follows_the_offer() -> None:
    """Price 1.00 at deploy, 0.40 from hour 1 on. Over 3 epochs: deal pays 3 × 1.00;
    market pays 1.00 + 0.40 + 0.40, and its reserve follows the price."""
    prices = {"a": [1.0] + [0.4] * 79}
    m, deal = _acct(prices)
    t0 = int(m.times[0])
    deal.deploy(0, 0, t0)
    deal.finish(t0 + 3 * E)
    assert deal.total() == Decimal("3.00")

    _, mkt = _acct(prices, BillingModel(price_model="market", lead_time_s=600))
    mkt.deploy(0, 0, t0)
    mkt.finish(t0 + 3 * E)
    assert mkt.total() == Decimal("1.80")
    assert mkt.reserve_held == 400_000


def test_run_end_counts_only_charges_before_it() -> None:
    """A VM still running at the end has paid the charges due before the end, no more."""
    m, acct = _acct({"a": [0.5] * 80})
    t0 = int(m.times[0])
    acct.deploy(0, 0, t0)
    acct.finish(t0 + E)  # the charge at t0+E is not before the end
    assert acct.total() == Decimal("0.50")


def test_disruption_cost_is_charged_per_migration() -> None:
    """A replacement deploy adds the policy's disruption cost once."""
    m, acct = _acct({"a": [0.5] * 80, "b": [0.2] * 80},
                    BillingModel(lead_time_s=600, disruption_cost_micros=50_000))  # fmt: skip
    t0 = int(m.times[0])
    old = acct.deploy(0, 0, t0)
    acct.advance(t0 + 5 * H)
    acct.deploy(1, 5, t0 + 5 * H, replaces=old.id)
    acct.schedule_delete(old.id, t0 + 5 * H + 600)
    acct.finish(t0 + 2 * E)
    # old: 1 charge (0.50); new: charges at +5h and +29h (0.20 × 2); disruption 0.05
    assert acct.total() == Decimal("0.95")


def test_recorded_capacity_limits_our_deploys() -> None:
    """Capacity 2 at a snapshot: a third VM of ours does not fit; unknown capacity is
    unlimited; an unlisted offer takes nothing."""
    m, acct = _acct({"a": [0.3] * 3, "b": [0.4] * 3}, capacity={"a": [2] * 3, "b": [-1] * 3})
    t0 = int(m.times[0])
    assert acct.can_deploy(0, 0)
    acct.deploy(0, 0, t0)
    acct.deploy(0, 0, t0)
    assert not acct.can_deploy(0, 0)
    for _ in range(5):
        assert acct.can_deploy(1, 0)
        acct.deploy(1, 0, t0)
    m2, acct2 = _acct({"a": [0.3, None, 0.3], "b": [0.4] * 3})
    assert m2.n_steps == 3
    assert not acct2.can_deploy(0, 1)
