"""Journaled execution of plans: every action is written down before its first API call
and advanced one step per tick, so a crash at any point is resumed from the journal.

    FleetRunner(client, engine, clock, config).plan(fleet, offers=..., vms=..., now=...)
    FleetRunner(...).execute(plan, vms)      # act mode: journal + advance
    Executor(client, engine, clock, config).advance(vms)   # resume every open action
"""

from optimizer.executor.executor import Executor, desired_ports
from optimizer.executor.fleets import FleetRunner, budget_state, owned_vms

__all__ = ["Executor", "FleetRunner", "budget_state", "desired_ports", "owned_vms"]
