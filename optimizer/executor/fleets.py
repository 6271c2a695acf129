"""Glue between the store, the planner and the executor, for the cycle and the CLI.

    runner = FleetRunner(client, engine, clock, config)
    plan = runner.plan(fleet, offers=offers, vms=vms, now=now, trends=trends)
    counts = runner.execute(plan, vms)     # act mode only: journal + one advance round

API calls: none in `plan` (the caller passes the tick's offers and VM list); in `execute`,
only the calls the actions' steps need (estimate, deploy, delete, patch).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy.engine import Engine

from optimizer.clock import Clock
from optimizer.config import Config, FleetConfig
from optimizer.epoch_cap import epoch_caps, epoch_spend
from optimizer.executor import journal as jr
from optimizer.executor.api import ExecutorClient
from optimizer.executor.executor import Executor
from optimizer.fluence.models import Offer, Vm
from optimizer.planner import BudgetState, LaunchStats, MarketView, OwnedVm, Plan, Trends
from optimizer.planner import plan_fleet as _plan_fleet
from optimizer.planner.market_view import market_view, owned_vm
from optimizer.planner.whole_price import priced_vms


def owned_vms(engine: Engine, fleet: str, vms: Sequence[Vm]) -> list[OwnedVm]:
    """The fleet's owned VMs (ownership table, never the name alone; an owned id listed
    with another `createdAt` is another VM and left out) as planner inputs."""
    owned = jr.owned_ids(engine, fleet)
    return [
        owned_vm(v, last_migrated_at=owned[v.id].last_migrated_at)
        for v in vms
        if v.id in owned and jr.same_vm(owned[v.id], v)
    ]


def budget_state(
    config: Config,
    fleet: FleetConfig,
    vms: Sequence[Vm],
    mine: Sequence[OwnedVm],
    *,
    balance_usd: Decimal | None = None,
    burn_per_epoch: Decimal | None = None,
    whole: Mapping[str, Decimal] | None = None,
) -> BudgetState:
    """The tighter of the account cap (all running VMs) and the fleet's own cap, with the
    account's balance and burn (everything it holds, disks and IPs included) when known:
    the planner creates nothing the balance could not carry (see `BudgetState`). `whole`:
    the fleet's VMs at their whole price (`whole_prices`: boot disk and public IP included
    where billed apart), as the VMs the plan adds count; a VM not in it counts alone."""
    reserves = sum((v.reserved_balance for v in mine), Decimal(0))
    if balance_usd is not None and burn_per_epoch is None:
        burn_per_epoch = epoch_spend(vms)  # the whole account, whichever cap binds
    funds = {"balance_usd": balance_usd, "burn_per_epoch": burn_per_epoch}
    caps = epoch_caps(config, fleet, vms, {v.id for v in mine}, whole)
    if not caps:
        return BudgetState(spend_per_epoch=epoch_spend(vms), reserves_held=reserves, **funds)
    tightest = min(caps, key=lambda c: c.headroom)
    return BudgetState(
        cap_per_epoch=tightest.cap,
        spend_per_epoch=tightest.spend,
        reserves_held=reserves,
        **funds,
    )


def whole_prices(
    mine: Sequence[OwnedVm], market: MarketView, fleet: FleetConfig
) -> dict[str, Decimal]:
    """VM id → the fleet's VM at the price the planner compares (per epoch, boot disk and
    public IP included where billed apart), for the VMs whose price is known."""
    return {v.id: v.price for v in priced_vms(mine, market, fleet) if v.price is not None}


class FleetRunner:
    """Plans fleets from the tick's data and executes plans through the journal."""

    def __init__(
        self,
        client: ExecutorClient,
        engine: Engine,
        clock: Clock,
        config: Config,
        *,
        fencing_token: int | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.clock = clock
        self.executor = Executor(client, engine, clock, config, fencing_token=fencing_token)
        self._taken: Counter[str] = Counter()
        self._taken_for: tuple[int, datetime] | None = None
        # what earlier fleets' plans this tick lock (deposits) and add (per epoch)
        self._claimed = (Decimal(0), Decimal(0))
        # fleet → its VMs' whole prices at its last plan, for the executor's cap check
        self._whole: dict[str, dict[str, Decimal]] = {}

    def plan(
        self,
        fleet: FleetConfig,
        *,
        offers: Sequence[Offer] | MarketView,
        vms: Sequence[Vm],
        now: datetime,
        trends: Trends | None = None,
        launch: LaunchStats | None = None,
        balance_usd: Decimal | None = None,
        burn_per_epoch: Decimal | None = None,
    ) -> Plan:
        """Plan `fleet` (pure planner fed from the journal's ownership and in-flight state).
        Fleets planned with the same `offers` object and `now` share offer capacity: a
        later fleet does not aim at slots an earlier fleet's plan already claims.
        `balance_usd`/`burn_per_epoch`: the account's balance and what everything it holds
        costs per epoch, when the API reports them (None: not checked); a later fleet
        sees them net of what earlier fleets' plans create."""
        key = (id(offers), now)
        if key != self._taken_for:
            self._taken, self._taken_for = Counter(), key
            self._claimed = (Decimal(0), Decimal(0))
        if balance_usd is not None:
            locked, added = self._claimed
            balance_usd -= locked
            burn_per_epoch = (
                burn_per_epoch if burn_per_epoch is not None else epoch_spend(vms)
            ) + added
        market = offers if isinstance(offers, MarketView) else market_view(offers, taken_at=now)
        mine = owned_vms(self.engine, fleet.name, vms)
        whole = self._whole[fleet.name] = whole_prices(mine, market, fleet)
        plan = _plan_fleet(
            fleet,
            mine,
            market,
            trends if isinstance(trends, Trends) else None,
            budget_state(
                self.config,
                fleet,
                vms,
                mine,
                balance_usd=balance_usd,
                burn_per_epoch=burn_per_epoch,
                whole=whole,
            ),
            self._lead(launch, now),
            now=now,
            mode=self.config.mode,
            in_flight=jr.in_flight(self.engine, fleet.name, vms, now),
            taken=self._taken,
            billing=self.executor.client.billing,
        )
        added = Decimal(0)
        for a in plan.actions:
            if a.offer is not None and a.deploys:
                self._taken[a.offer.offer_key] += 1
                added += a.expected_price or Decimal(0)
        self._claimed = (self._claimed[0] + plan.deposits_needed, self._claimed[1] + added)
        return plan

    def _lead(self, launch: LaunchStats | None, now: datetime) -> LaunchStats:
        """Launch lead time plus one tick: the executor sees a VM go Active only on the
        tick after it did, and must still cut over before the old VM's next charge."""
        base = launch or jr.launch_stats(self.engine, now)
        return LaunchStats(lead_time=base.lead_time + self.executor.tick)

    def execute(self, plan: Plan, vms: Sequence[Vm] | None = None) -> Counter[str]:
        """Journal the plan (act mode only) and advance that fleet's actions one step."""
        self.executor.submit(plan)
        return self.advance(vms, fleet=plan.fleet)

    def advance(self, vms: Sequence[Vm] | None = None, *, fleet: str | None = None) -> Counter[str]:
        """Advance the open actions (of `fleet`, or all) one step; the executor's last cap
        check counts each fleet's VMs at the whole prices of its last plan, as the plan did
        (a VM not priced then counts alone)."""
        whole = {vm: p for f, prices in self._whole.items() if fleet in (None, f)
                 for vm, p in prices.items()}  # fmt: skip
        return self.executor.advance(vms, fleet=fleet, whole=whole)
