"""Reading the store as pandas DataFrames (the analysis, reports, alerts and backtests
read only through here).

`price_observations` expands the change-only intervals back into one row per offer per
ok snapshot, vectorized with numpy and loading only the columns and time range asked
for. `epoch_stats` gives per-offer per-epoch aggregates over any span, combining rolled
up history (`offer_epoch`) with raw intervals not rolled up yet, computed the same way
retention computes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from optimizer.clock import EPOCH_SECONDS, utc
from optimizer.fluence.status import VmStatus
from optimizer.store.engine import store_errors
from optimizer.store.tables import market
from optimizer.store.tables.market import OUTCOME_OK

# short names for the market tables, which store.retention and store.analysis_queries share
snapshot_t = market.snapshot_table
offer_t = market.offer_table
price_t = market.offer_price_table
epoch_t = market.offer_epoch_table
vm_t = market.vm_table
vmobs_t = market.vm_observation_table

OBSERVATION_COLUMNS = {
    "ts": "datetime64[ns, UTC]",
    "offer_key": "object",
    "configuration": "object",
    "country": "object",
    "city": "object",
    "datacenter": "object",
    "vcpu": "int64",
    "ram_gb": "int64",
    "price_unit": "object",
    "price_usd": "float64",
    "capacity": "int64",
    "tier": "int64",  # the datacenter's tier, -1 when the API gave none
}
ATTRIBUTE_COLUMNS = (
    "configuration",
    "country",
    "city",
    "datacenter",
    "vcpu",
    "ram_gb",
    "price_unit",
)
EPOCH_COLUMNS = {
    "epoch_start": "datetime64[ns, UTC]",
    "offer_key": "object",
    **{c: OBSERVATION_COLUMNS[c] for c in ATTRIBUTE_COLUMNS},
    "price_min_usd": "float64",
    "price_median_usd": "float64",
    "price_max_usd": "float64",
    "capacity_min": "int64",
    "capacity_max": "int64",
    "first_seen": "datetime64[ns, UTC]",
    "last_seen": "datetime64[ns, UTC]",
    "samples": "int64",
}


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})


def _frame(rows: Sequence[Any], columns: list[str]) -> pd.DataFrame:
    """Rows → DataFrame via plain tuples (pandas probing SQLAlchemy Row objects for
    namedtuple attributes costs more than the query on large results)."""
    return pd.DataFrame(list(map(tuple, rows)), columns=columns)


def _ts(values: object) -> pd.Series:
    return pd.to_datetime(pd.Series(values), utc=True).astype("datetime64[ns, UTC]")


def utc_ns(values: object) -> np.ndarray:
    """Timestamps → int64 nanoseconds since 1970-01-01 UTC, whatever form they arrive in:
    datetime64 of any unit (pandas 3 infers µs from Python datetimes), aware or naive
    (naive is taken as UTC, as the store writes it), or an object column of datetimes,
    Timestamps or ISO text (what a driver, a concat with an empty frame or a None hands
    over). The one conversion the store's frames use: reading the int64 out of the
    values' own buffer (`.to_numpy().view("int64")`, `.astype("int64")`) gives the wrong
    unit for non-ns data and, for an object column (which is what `to_numpy()` of any
    tz-aware column is), raises numpy's "Cannot change data-type for array of
    references" (issue 16). Values must not be null."""
    ts = pd.to_datetime(values if isinstance(values, pd.Series) else pd.Series(values), utc=True)
    ns: np.ndarray = pd.DatetimeIndex(ts).as_unit("ns").asi8.copy()
    return ns


def expand_intervals(
    snap_ids: np.ndarray, intervals: pd.DataFrame, open_to: int
) -> tuple[np.ndarray, np.ndarray]:
    """Expand intervals (`from_snapshot_id`, `to_snapshot_id` or NaN for open) against the
    sorted ok snapshot ids `snap_ids`; return (interval row index, snapshot position) for
    every (interval, listed snapshot) pair. Open intervals run to `open_to`."""
    frm = intervals["from_snapshot_id"].to_numpy(dtype="int64")
    to = intervals["to_snapshot_id"].fillna(open_to).to_numpy(dtype="int64")
    start = np.searchsorted(snap_ids, frm, side="left")
    end = np.searchsorted(snap_ids, to, side="right")
    counts = np.maximum(end - start, 0)
    row = np.repeat(np.arange(len(frm)), counts)
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    pos = start[row] + (np.arange(counts.sum()) - offsets)
    return row, pos


def _offer_filter(
    stmt: sa.Select[Any], configuration: str | None, country: str | None
) -> sa.Select[Any]:
    if configuration is not None:
        stmt = stmt.where(offer_t.c.configuration == configuration)
    if country is not None:
        stmt = stmt.where(offer_t.c.country == country)
    return stmt


def _latest_ok_id(conn: Connection) -> int | None:
    return conn.execute(
        sa.select(sa.func.max(snapshot_t.c.id)).where(snapshot_t.c.outcome == OUTCOME_OK)
    ).scalar()


def _observations(
    conn: Connection,
    since: datetime | None,
    until: datetime | None,
    configuration: str | None,
    country: str | None,
    snap_filter: list[sa.ColumnElement[bool]] | None = None,
) -> pd.DataFrame:
    """Per-snapshot rows: ts, offer_id, offer_key, attributes, price_micros, capacity."""
    stmt = sa.select(snapshot_t.c.id, snapshot_t.c.taken_at).where(
        snapshot_t.c.outcome == OUTCOME_OK
    )
    if since is not None:
        stmt = stmt.where(snapshot_t.c.taken_at >= utc(since))
    if until is not None:
        stmt = stmt.where(snapshot_t.c.taken_at <= utc(until))
    for cond in snap_filter or []:
        stmt = stmt.where(cond)
    snaps = conn.execute(stmt.order_by(snapshot_t.c.id)).all()
    if not snaps:
        return pd.DataFrame()
    snap_ids = np.fromiter((s[0] for s in snaps), dtype="int64", count=len(snaps))
    snap_ns = utc_ns([s[1] for s in snaps])
    lo, hi = int(snap_ids[0]), int(snap_ids[-1])
    iv_stmt = (
        sa.select(
            price_t.c.offer_id,
            price_t.c.price_micros,
            price_t.c.capacity,
            price_t.c.from_snapshot_id,
            price_t.c.to_snapshot_id,
        )
        .where(price_t.c.from_snapshot_id <= hi)
        .where(sa.or_(price_t.c.to_snapshot_id.is_(None), price_t.c.to_snapshot_id >= lo))
    )
    if configuration is not None or country is not None:
        iv_stmt = _offer_filter(
            iv_stmt.join(offer_t, offer_t.c.id == price_t.c.offer_id), configuration, country
        )
    iv = _frame(conn.execute(iv_stmt).all(), columns=list(iv_stmt.selected_columns.keys()))
    if iv.empty:
        return pd.DataFrame()
    open_to = _latest_ok_id(conn) or hi
    row, pos = expand_intervals(snap_ids, iv, open_to)
    obs = pd.DataFrame(
        {
            "ts": pd.DatetimeIndex(snap_ns[pos].view("datetime64[ns]")).tz_localize("UTC"),
            "offer_id": iv["offer_id"].to_numpy(dtype="int64")[row],
            "price_micros": iv["price_micros"].to_numpy(dtype="int64")[row],
            "capacity": iv["capacity"].to_numpy(dtype="int64")[row],
        }
    )
    offers = _offer_attributes(conn, obs["offer_id"].unique().tolist())
    # positional take instead of a merge: one integer gather per column
    at = offers.index.get_indexer(pd.Index(obs["offer_id"].to_numpy()))
    for col in offers.columns:
        obs[col] = offers[col].to_numpy()[at]
    key_rank = offers["offer_key"].rank(method="dense").to_numpy(dtype="int64")
    obs["_key_rank"] = key_rank[at]
    return obs


def _offer_attributes(conn: Connection, ids: list[int]) -> pd.DataFrame:
    cols = [
        offer_t.c.id,
        offer_t.c.key,
        *(offer_t.c[c] for c in ATTRIBUTE_COLUMNS),
        offer_t.c.tier,
    ]
    rows: list[sa.Row[Any]] = []
    for i in range(0, len(ids), 5000):
        rows.extend(conn.execute(sa.select(*cols).where(offer_t.c.id.in_(ids[i : i + 5000]))))
    df = _frame(rows, columns=["id", "offer_key", *ATTRIBUTE_COLUMNS, "tier"]).set_index("id")
    for c in ("vcpu", "ram_gb"):
        df[c] = df[c].fillna(0).astype("int64")
    df["tier"] = df["tier"].fillna(-1).astype("int64")
    return df


def price_observations(
    engine: Engine,
    since: datetime | None,
    until: datetime | None = None,
    configuration: str | None = None,
    country: str | None = None,
) -> pd.DataFrame:
    """One row per offer per ok snapshot taken in [since, until] in which it was listed
    (`since` None: from the first snapshot kept).

    Columns: ts (datetime64[ns, UTC]), offer_key, configuration, country, city,
    datacenter ("FR-PAR-1"), vcpu, ram_gb (int64; 0 when the slug doesn't say),
    price_unit ("epoch" or "hour": what price_usd is per), price_usd (float64), capacity,
    tier (int64; tier -1 when unknown); sorted by ts then offer_key. Only raw history
    is returned (see `epoch_stats` for rolled-up history).
    """
    with store_errors(engine), engine.connect() as conn:
        obs = _observations(conn, since, until, configuration, country)
    if obs.empty:
        return _empty(OBSERVATION_COLUMNS)
    obs["price_usd"] = obs["price_micros"].to_numpy(dtype="float64") / 1e6
    ts_ns = utc_ns(obs["ts"])
    order = np.lexsort((obs["_key_rank"].to_numpy(), ts_ns))
    out = obs[list(OBSERVATION_COLUMNS)].take(order)
    return out.reset_index(drop=True)


def aggregate_epochs(obs: pd.DataFrame) -> pd.DataFrame:
    """Per-snapshot observations (ts, offer_id, price_micros, capacity) → one row per
    (epoch, offer_id): price_min/median/max (micro-USD; the median rounded half to even),
    capacity_min/max, first_seen_s/last_seen_s (seconds into the epoch), samples."""
    seconds = utc_ns(obs["ts"]) // 1_000_000_000
    g = obs.assign(epoch=seconds // EPOCH_SECONDS, sec=seconds % EPOCH_SECONDS).groupby(
        ["epoch", "offer_id"], sort=True
    )
    agg = g.agg(
        price_min=("price_micros", "min"),
        price_median=("price_micros", "median"),
        price_max=("price_micros", "max"),
        capacity_min=("capacity", "min"),
        capacity_max=("capacity", "max"),
        first_seen_s=("sec", "min"),
        last_seen_s=("sec", "max"),
        samples=("price_micros", "size"),
    ).reset_index()
    agg["price_median"] = np.rint(agg["price_median"].to_numpy()).astype("int64")
    return agg


def _epoch_frame(agg: pd.DataFrame, offers: pd.DataFrame) -> pd.DataFrame:
    df = agg.merge(offers, left_on="offer_id", right_index=True, how="left")
    start = pd.to_datetime(df["epoch"].astype("int64") * EPOCH_SECONDS, unit="s", utc=True)
    df["epoch_start"] = start.astype("datetime64[ns, UTC]")
    for name in ("min", "median", "max"):
        df[f"price_{name}_usd"] = df[f"price_{name}"].to_numpy(dtype="float64") / 1e6
    df["first_seen"] = df["epoch_start"] + pd.to_timedelta(df["first_seen_s"], unit="s")
    df["last_seen"] = df["epoch_start"] + pd.to_timedelta(df["last_seen_s"], unit="s")
    for c in ("capacity_min", "capacity_max", "samples"):
        df[c] = df[c].astype("int64")
    return df[list(EPOCH_COLUMNS)]


def epoch_stats(
    engine: Engine,
    since: datetime,
    until: datetime | None = None,
    configuration: str | None = None,
    country: str | None = None,
) -> pd.DataFrame:
    """Per-offer per-epoch aggregates for epochs starting in [day of since, until]:
    rolled-up history from `offer_epoch`, plus the same aggregates computed from raw
    observations for epochs not rolled up yet (an epoch is in exactly one of the two).

    Columns: epoch_start, offer_key, configuration, country, city, datacenter, vcpu,
    ram_gb, price_min_usd, price_median_usd, price_max_usd, capacity_min, capacity_max,
    first_seen, last_seen, samples; sorted by epoch_start then offer_key.
    """
    since = utc(since)
    first_epoch = int(since.timestamp()) // EPOCH_SECONDS
    with store_errors(engine), engine.connect() as conn:
        stmt = sa.select(epoch_t).where(epoch_t.c.epoch >= first_epoch)
        if until is not None:
            stmt = stmt.where(epoch_t.c.epoch <= int(utc(until).timestamp()) // EPOCH_SECONDS)
        if configuration is not None or country is not None:
            stmt = _offer_filter(
                stmt.join(offer_t, offer_t.c.id == epoch_t.c.offer_id), configuration, country
            )
        rolled = _frame(conn.execute(stmt).all(), columns=[c.name for c in epoch_t.c])
        day_start = datetime.fromtimestamp(first_epoch * EPOCH_SECONDS, tz=since.tzinfo)
        raw_until = None
        if until is not None:
            end_epoch = int(utc(until).timestamp()) // EPOCH_SECONDS + 1
            raw_until = datetime.fromtimestamp(end_epoch * EPOCH_SECONDS, tz=since.tzinfo)
            raw_until -= timedelta(microseconds=1)
        raw = _observations(conn, day_start, raw_until, configuration, country)
        frames = []
        if not raw.empty:
            agg = aggregate_epochs(raw)
            if not rolled.empty:
                agg = agg[~agg["epoch"].isin(set(rolled["epoch"]))]
            frames.append(agg)
        if not rolled.empty:
            frames.append(rolled)
        if not frames:
            return _empty(EPOCH_COLUMNS)
        agg = pd.concat(frames, ignore_index=True)
        offers = _offer_attributes(conn, agg["offer_id"].unique().tolist())
    out = _epoch_frame(agg, offers)
    return out.sort_values(["epoch_start", "offer_key"], kind="stable").reset_index(drop=True)


def latest_market(
    engine: Engine, configuration: str | None = None, country: str | None = None
) -> pd.DataFrame:
    """The offers listed in the latest ok snapshot: the observation columns plus
    storage_gb, storage_type, cpu_manufacturer, cpu_architecture, tier, certifications,
    first_seen, and disk_price_per_gb, public_ip_price (Decimal per `price_unit`, None on
    marketplace-v3). Empty when there is no ok snapshot."""
    extra = ("storage_gb", "storage_type", "cpu_manufacturer", "cpu_architecture", "tier",
             "certifications", "first_seen", "disk_price_per_gb",
             "public_ip_price")  # fmt: skip
    with store_errors(engine), engine.connect() as conn:
        latest = conn.execute(
            sa.select(snapshot_t.c.id, snapshot_t.c.taken_at)
            .where(snapshot_t.c.outcome == OUTCOME_OK)
            .order_by(snapshot_t.c.id.desc())
            .limit(1)
        ).first()
        cols = [
            offer_t.c.key.label("offer_key"),
            *(offer_t.c[c] for c in ATTRIBUTE_COLUMNS),
            price_t.c.price_micros,
            price_t.c.capacity,
            *(offer_t.c[c] for c in extra),
        ]
        stmt = _offer_filter(
            sa.select(*cols)
            .join(offer_t, offer_t.c.id == price_t.c.offer_id)
            .where(price_t.c.to_snapshot_id.is_(None)),
            configuration,
            country,
        )
        rows = conn.execute(stmt).all() if latest is not None else []
    columns = {**OBSERVATION_COLUMNS, **dict.fromkeys(extra, "object")}
    if not rows:
        return _empty(columns)
    df = _frame(rows, columns=[c.name for c in cols])
    assert latest is not None  # rows come only from the latest snapshot
    df["ts"] = _ts([latest.taken_at] * len(df))
    df["price_usd"] = df["price_micros"].to_numpy(dtype="float64") / 1e6
    for c in ("vcpu", "ram_gb"):
        df[c] = df[c].fillna(0).astype("int64")
    df["first_seen"] = _ts(df["first_seen"])
    return df[list(columns)].sort_values("offer_key").reset_index(drop=True)


def snapshot_span(engine: Engine) -> tuple[datetime | None, datetime | None, int]:
    """(first, newest, count) of the ok snapshots in the store; (None, None, 0) if none."""
    with store_errors(engine), engine.connect() as conn:
        first, last, n = conn.execute(
            sa.select(
                sa.func.min(snapshot_t.c.taken_at),
                sa.func.max(snapshot_t.c.taken_at),
                sa.func.count(),
            ).where(snapshot_t.c.outcome == OUTCOME_OK)
        ).one()
    if not n:
        return None, None, 0
    return _ts([first]).iloc[0].to_pydatetime(), _ts([last]).iloc[0].to_pydatetime(), int(n)


def price_units(engine: Engine, since: datetime, until: datetime) -> frozenset[str]:
    """What the prices of offers listed in [since, until] are per: "epoch", "hour"."""
    stmt = (
        sa.select(offer_t.c.price_unit)
        .where(offer_t.c.last_seen >= since, offer_t.c.first_seen <= until)
        .distinct()
    )
    with store_errors(engine), engine.connect() as conn:
        return frozenset(str(u) for (u,) in conn.execute(stmt))


def offer_extras(engine: Engine) -> pd.DataFrame:
    """Every offer's current boot-disk price per GB and public-IP price (Decimal per its
    `price_unit`; None where unknown, as on marketplace-v3): offer_key, disk_price_per_gb,
    public_ip_price. The store keeps only the latest values, not their history."""
    stmt = sa.select(
        offer_t.c.key.label("offer_key"), offer_t.c.disk_price_per_gb, offer_t.c.public_ip_price
    ).where(
        sa.or_(offer_t.c.disk_price_per_gb.is_not(None), offer_t.c.public_ip_price.is_not(None))
    )
    with store_errors(engine), engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return _frame(rows, ["offer_key", "disk_price_per_gb", "public_ip_price"])


def snapshots(engine: Engine, since: datetime | None = None) -> pd.DataFrame:
    """Snapshot rows: id, ts, duration_ms, offer_count, outcome, error; oldest first."""
    stmt = sa.select(snapshot_t).order_by(snapshot_t.c.id)
    if since is not None:
        stmt = stmt.where(snapshot_t.c.taken_at >= utc(since))
    with store_errors(engine), engine.connect() as conn:
        rows = conn.execute(stmt).all()
    df = _frame(rows, columns=["id", "ts", "duration_ms", "offer_count", "outcome", "error"])
    df["ts"] = _ts(df["ts"])
    return df


def offer_lifetimes(engine: Engine) -> pd.DataFrame:
    """Offer longevity inputs, one row per offer key ever seen: offer_key, configuration,
    country, city, datacenter, first_seen, last_seen, listed (still in the latest ok
    snapshot)."""
    open_ids = sa.select(price_t.c.offer_id).where(price_t.c.to_snapshot_id.is_(None))
    listed = offer_t.c.id.in_(open_ids)
    # a listed offer was last seen in the latest ok snapshot (its row is not rewritten
    # by every snapshot; see the `offer.last_seen` column)
    latest = (
        sa.select(sa.func.max(snapshot_t.c.taken_at))
        .where(snapshot_t.c.outcome == OUTCOME_OK)
        .scalar_subquery()
    )
    stmt = sa.select(
        offer_t.c.key.label("offer_key"),
        offer_t.c.configuration,
        offer_t.c.country,
        offer_t.c.city,
        offer_t.c.datacenter,
        offer_t.c.first_seen,
        sa.case((listed, latest), else_=offer_t.c.last_seen).label("last_seen"),
        listed.label("listed"),
    ).order_by(offer_t.c.key)
    with store_errors(engine), engine.connect() as conn:
        rows = conn.execute(stmt).all()
    df = _frame(rows, columns=list(stmt.selected_columns.keys()))
    df["first_seen"] = _ts(df["first_seen"])
    df["last_seen"] = _ts(df["last_seen"])
    df["listed"] = df["listed"].astype(bool)
    return df


def vm_history(
    engine: Engine, vm_id: str | None = None, since: datetime | None = None
) -> pd.DataFrame:
    """VM observation intervals: vm_id, name, status, price_usd, reserved_usd, spent_usd
    (float64, NaN when the API gave none), next_billing_at, datacenter, from_at, to_at."""
    stmt = (
        sa.select(
            vm_t.c.vm_id,
            vm_t.c.name,
            vmobs_t.c.status,
            vmobs_t.c.price_micros,
            vmobs_t.c.reserved_micros,
            vmobs_t.c.spent_micros,
            vmobs_t.c.next_billing_at,
            vmobs_t.c.datacenter,
            vmobs_t.c.from_at,
            vmobs_t.c.to_at,
        )
        .join(vm_t, vm_t.c.id == vmobs_t.c.vm_ref)
        .order_by(vmobs_t.c.from_at, vmobs_t.c.id)
    )
    if vm_id is not None:
        stmt = stmt.where(vm_t.c.vm_id == vm_id)
    if since is not None:
        stmt = stmt.where(vmobs_t.c.to_at >= utc(since))
    with store_errors(engine), engine.connect() as conn:
        rows = conn.execute(stmt).all()
    df = _frame(rows, columns=list(stmt.selected_columns.keys()))
    for src, dst in (("price_micros", "price_usd"), ("reserved_micros", "reserved_usd"),
                     ("spent_micros", "spent_usd")):  # fmt: skip
        df[dst] = pd.to_numeric(df.pop(src), errors="coerce").astype("float64") / 1e6
    for c in ("next_billing_at", "from_at", "to_at"):
        df[c] = _ts(df[c])
    return df[["vm_id", "name", "status", "price_usd", "reserved_usd", "spent_usd",
               "next_billing_at", "datacenter", "from_at", "to_at"]]  # fmt: skip


def launch_durations(engine: Engine, since: datetime | None = None) -> pd.DataFrame:
    """VMs observed becoming Active: vm_id, name, datacenter, created_at, first_new
    (first poll that saw New; NaT if none did), first_active, launch_seconds =
    first_active − first_new, or − created_at when New was never observed."""

    def first(status: VmStatus) -> sa.ColumnElement[Any]:
        return sa.func.min(sa.case((vmobs_t.c.status == status.value, vmobs_t.c.from_at)))

    stmt = (
        sa.select(
            vm_t.c.vm_id,
            vm_t.c.name,
            vm_t.c.datacenter,
            vm_t.c.created_at,
            first(VmStatus.NEW).label("first_new"),
            first(VmStatus.ACTIVE).label("first_active"),
        )
        .join(vm_t, vm_t.c.id == vmobs_t.c.vm_ref)
        .group_by(vm_t.c.id, vm_t.c.vm_id, vm_t.c.name, vm_t.c.datacenter, vm_t.c.created_at)
    )
    with store_errors(engine), engine.connect() as conn:
        rows = conn.execute(stmt).all()
    df = _frame(rows, columns=list(stmt.selected_columns.keys()))
    for c in ("created_at", "first_new", "first_active"):
        df[c] = _ts(df[c])
    df = df[df["first_active"].notna()]
    if since is not None:
        df = df[df["first_active"] >= pd.Timestamp(utc(since))]
    start = df["first_new"].fillna(df["created_at"])
    df = df.assign(launch_seconds=(df["first_active"] - start).dt.total_seconds())
    return df.reset_index(drop=True)


def terminations(engine: Engine, since: datetime | None = None) -> pd.DataFrame:
    """Provider terminations: one row per VM ever observed `Terminated`: vm_id, name,
    datacenter (last known, since a terminated VM may report none), terminated_at (first
    poll that saw it)."""
    stmt = (
        sa.select(
            vm_t.c.vm_id,
            vm_t.c.name,
            vm_t.c.datacenter,
            sa.func.min(vmobs_t.c.from_at).label("terminated_at"),
        )
        .join(vm_t, vm_t.c.id == vmobs_t.c.vm_ref)
        .where(vmobs_t.c.status == VmStatus.TERMINATED.value)
        .group_by(vm_t.c.id, vm_t.c.vm_id, vm_t.c.name, vm_t.c.datacenter)
    )
    with store_errors(engine), engine.connect() as conn:
        rows = conn.execute(stmt).all()
    df = _frame(rows, columns=list(stmt.selected_columns.keys()))
    df["terminated_at"] = _ts(df["terminated_at"])
    if since is not None:
        df = df[df["terminated_at"] >= pd.Timestamp(utc(since))]
    return df.sort_values("terminated_at").reset_index(drop=True)


def terminations_per_datacenter(engine: Engine, since: datetime | None = None) -> pd.DataFrame:
    """datacenter, terminations (int64): provider terminations observed since `since`."""
    df = terminations(engine, since)
    out = df.groupby(df["datacenter"].fillna("unknown")).size().rename("terminations")
    return out.reset_index().astype({"terminations": "int64"})


epoch_aggregates = epoch_stats  # the name the team brief uses; one implementation
