"""Every alert family the daemon can raise, with its severity and when it fires: the
source of the alert-key reference (docs/reference/alerts.md). An alert's key is
`<family>:<subject>`; a test checks that every family raised in the code is listed here."""

from __future__ import annotations

from typing import NamedTuple


class AlertFamily(NamedTuple):
    severity: str
    subject: str
    when: str


ALERT_FAMILIES: dict[str, AlertFamily] = {
    "budget.actual": AlertFamily(
        "info → warning → critical",
        "`global` or the fleet",
        "This month's spend crossed a threshold of the monthly budget "
        "(`budget.thresholds`, default 50 %, 80 %, 100 %); each higher threshold notifies again.",
    ),
    "budget.forecast": AlertFamily(
        "info → warning → critical",
        "`global` or the fleet",
        "The month's forecast (spend so far + the current run rate to the month's end) "
        "crossed a threshold of the monthly budget.",
    ),
    "budget.epoch": AlertFamily(
        "warning",
        "`global` or the fleet",
        "The running VMs cost more per epoch than `max_usd_per_epoch`.",
    ),
    "vm.balance": AlertFamily(
        "warning, critical",
        "the VM id",
        "A VM is `SmallBalance` (the balance will not cover its next period; warning) or "
        "`InsufficientFunds` (the grace period passed; critical). Top up.",
    ),
    "vm.terminated": AlertFamily(
        "warning",
        "the VM id",
        "The provider terminated a VM; in act mode the daemon finalizes and replaces fleet VMs.",
    ),
    "fleet.unsatisfiable": AlertFamily(
        "critical",
        "the fleet",
        "No offer satisfies the fleet's constraints and caps, or not enough for its size.",
    ),
    "savings.available": AlertFamily(
        "info",
        "the fleet",
        "In `recommend` mode, the plan would save money; nothing was changed.",
    ),
    "price.spike": AlertFamily(
        "warning",
        "the fleet",
        "The median price of the fleet's offers rose more than `alerts.price_spike_pct` "
        "over `alerts.price_spike_epochs` epochs.",
    ),
    "snapshot.failing": AlertFamily(
        "critical",
        "`api`",
        "More than `alerts.snapshot_failures` snapshots in a row failed; the text carries "
        "the last error.",
    ),
    "migration.failed": AlertFamily(
        "warning (one-shot)",
        "the action id",
        "An executor action (deploy, migrate, delete) failed; the text carries the API's message.",
    ),
    "balance.runway": AlertFamily(
        "warning, critical",
        "`account`",
        "Where the API reports the balance (cloud generation): it lasts fewer than "
        "`alerts.runway_hours` (default 72) at the current burn rate of every billed VM, "
        "disk and IP (warning); critical once it will fall within one `daemon.plan_interval` "
        "under what the API demands before creating anything (6 hours of everything, one "
        "more VM included), i.e. before migrations and replacements stop. Top up.",
    ),
    "resources.orphaned": AlertFamily(
        "warning",
        "`account`",
        "Detached disks or public IPs the optimizer did not create bill without a live VM "
        "(cloud generation): the text lists each with its cost per month. Never touched by "
        "the optimizer; notifies again when another appears, resolves when none is left.",
    ),
    "test": AlertFamily(
        "info",
        "`alerts-test`",
        "Sent by `fluence-optimizer alerts test` to every sink.",
    ),
}
