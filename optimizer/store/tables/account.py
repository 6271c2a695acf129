"""The account's latest facts (migration 0009): balance, billed resources, charges.

One row (`id = 1`), replaced by each snapshot that could read them, so `budget` and the
alerts show the balance runway without asking the API. `payload` is the JSON of
`optimizer.fluence.account.AccountFacts` (money as decimal strings; see
`optimizer.store.account`). Only an API that reports such facts writes it: on the
seeds' generation the table stays empty.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Integer, Text
from sqlmodel import Field, SQLModel

from optimizer.store.types import UtcDateTime


class AccountState(SQLModel, table=True):
    __tablename__ = "account_state"

    id: int = Field(default=1, sa_column=Column(Integer, primary_key=True, autoincrement=False))
    observed_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    payload: str = Field(sa_column=Column(Text, nullable=False))
