"""The account's latest facts (migration 0010): balance, billed resources, charges.

One row (`id = 1`), replaced by each snapshot that could read them, so `budget` and the
alerts show the balance runway without asking the API. `payload` is the JSON of
`optimizer.fluence.account.AccountFacts` (money as decimal strings; see
`optimizer.store.account`). Only an API that reports such facts writes it: on the
seeds' generation the table stays empty.

A Core table like the market ones: the snapshot stage writes it, and the snapshot path
loads neither SQLModel nor the ORM.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, Table, Text

from optimizer.store.types import UtcDateTime

METADATA = MetaData()

account_state_table = Table(
    "account_state",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("observed_at", UtcDateTime, nullable=False),
    Column("payload", Text, nullable=False),
)
