"""Offer longevity: how long offers stay listed and how often they vanish. Pure pandas.

A *spell* is a run of consecutive snapshots in which an offer was listed. An offer
*vanishes* when a spell ends before the last snapshot of the history (it was listed, then
a later snapshot did not list it). Spell length = time from its first to its last snapshot
plus one snapshot interval (the median gap between snapshots), so an offer seen in a single
snapshot counts for one interval. The per-datacenter roll-up is a reliability input: the
planner combines it with observed provider terminations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.analysis.stats import MarketHistory

LONGEVITY_COLUMNS = (
    "offer_key",
    "configuration",
    "datacenter",
    "first_seen",
    "last_seen",
    "listed_hours",
    "spells",
    "vanishes",
    "mean_spell_hours",
    "listed_now",
)


def offer_longevity(presence: pd.DataFrame) -> pd.DataFrame:
    """Given one row per offer per snapshot that listed it (columns ts, offer_key,
    configuration, datacenter — e.g. the price_observations frame), return one row per
    offer with LONGEVITY_COLUMNS. Snapshot times are the distinct `ts` values of the
    input: pass the whole market (not a filtered slice) for correct vanish counts."""
    if presence.empty:
        return pd.DataFrame(columns=list(LONGEVITY_COLUMNS))
    ts_ns = presence["ts"].to_numpy(dtype="datetime64[ns]").astype("int64")
    timeline = np.unique(ts_ns)
    snap = np.searchsorted(timeline, ts_ns)
    interval = float(np.median(np.diff(timeline))) if timeline.size > 1 else 3600e9
    codes, keys = pd.factorize(presence["offer_key"])
    order = np.lexsort((snap, codes))
    c, s = codes[order], snap[order]
    new_spell = np.ones(c.size, dtype=bool)
    new_spell[1:] = (c[1:] != c[:-1]) | (s[1:] - s[:-1] > 1)
    start_idx = np.flatnonzero(new_spell)
    end_idx = np.append(start_idx[1:] - 1, c.size - 1)
    spell_offer = c[start_idx]
    spell_start = timeline[s[start_idx]]
    spell_end_snap = s[end_idx]
    spell_hours = (timeline[spell_end_snap] - spell_start + interval) / 3.6e12
    vanished = spell_end_snap < timeline.size - 1

    n = len(keys)
    spells = np.bincount(spell_offer, minlength=n)
    vanishes = np.bincount(spell_offer, weights=vanished, minlength=n).astype("int64")
    listed_hours = np.bincount(spell_offer, weights=spell_hours, minlength=n)
    first_row = np.unique(codes, return_index=True)[1]
    attrs = presence.iloc[first_row]
    first_seen = np.full(n, np.iinfo("int64").max)
    np.minimum.at(first_seen, spell_offer, spell_start)
    last_seen = np.zeros(n, dtype="int64")
    np.maximum.at(last_seen, spell_offer, timeline[spell_end_snap])
    out = pd.DataFrame(
        {
            "offer_key": np.asarray(keys, dtype=object),
            "configuration": attrs["configuration"].to_numpy(),
            "datacenter": attrs["datacenter"].to_numpy(),
            "first_seen": pd.to_datetime(first_seen, unit="ns", utc=True),
            "last_seen": pd.to_datetime(last_seen, unit="ns", utc=True),
            "listed_hours": listed_hours,
            "spells": spells.astype("int64"),
            "vanishes": vanishes,
            "mean_spell_hours": listed_hours / spells,
            "listed_now": last_seen == timeline[-1],
        }
    )
    return out.sort_values("offer_key", kind="stable").reset_index(drop=True)


def datacenter_longevity(longevity: pd.DataFrame) -> pd.DataFrame:
    """Roll offer longevity up per datacenter: offers, listed_now, median_spell_hours,
    vanishes_per_epoch (vanishes per 24 listed hours across its offers) and
    listing_stability = exp(−vanishes_per_epoch) in (0, 1] (1 = offers never vanish).
    Sorted by stability, most stable first."""
    cols = [
        "datacenter",
        "offers",
        "listed_now",
        "median_spell_hours",
        "vanishes_per_epoch",
        "listing_stability",
    ]
    if longevity.empty:
        return pd.DataFrame(columns=cols)
    g = longevity.groupby("datacenter", observed=True)
    out = g.agg(
        offers=("offer_key", "size"),
        listed_now=("listed_now", "sum"),
        median_spell_hours=("mean_spell_hours", "median"),
        vanishes=("vanishes", "sum"),
        hours=("listed_hours", "sum"),
    ).reset_index()
    out["vanishes_per_epoch"] = out.pop("vanishes") / (out.pop("hours") / 24.0)
    out["listing_stability"] = np.exp(-out["vanishes_per_epoch"])
    out["listed_now"] = out["listed_now"].astype("int64")
    return (
        out.sort_values(["listing_stability", "datacenter"], ascending=[False, True], kind="stable")
        .reset_index(drop=True)
        .loc[:, cols]
    )


def listing_stability(datacenters: pd.DataFrame) -> dict[str, float]:
    """Datacenter label → listing stability, from a `datacenter_longevity` frame: the
    planner's `Trends.reliability`."""
    if datacenters.empty:
        return {}
    labels = datacenters["datacenter"].astype(str).tolist()
    scores = datacenters["listing_stability"].astype("float64").tolist()
    return dict(zip(labels, scores, strict=True))


def offer_longevity_epochs(history: MarketHistory) -> pd.DataFrame:
    """Offer longevity from per-epoch aggregates (what the store keeps long term), with
    LONGEVITY_COLUMNS. Coarser than offer_longevity: a spell is a run of consecutive epochs
    in which the offer was listed at least once, and an offer vanishes when a spell ends
    before the last epoch with snapshots, or when an epoch inside a spell listed it in fewer
    snapshots than the epoch had (one vanish per such epoch). listed_hours counts, per
    epoch, the share of the epoch's snapshots that listed the offer times its length."""
    oe = history.offer_epochs
    if oe.empty:
        return pd.DataFrame(columns=list(LONGEVITY_COLUMNS))
    step = pd.Timedelta(history.length).value
    k = oe["epoch"].to_numpy(dtype="datetime64[ns]").astype("int64") // step
    codes, keys = pd.factorize(oe["offer_key"])
    order = np.lexsort((k, codes))
    c, kk = codes[order], k[order]
    new_spell = np.ones(c.size, dtype=bool)
    new_spell[1:] = (c[1:] != c[:-1]) | (kk[1:] - kk[:-1] > 1)
    start_idx = np.flatnonzero(new_spell)
    end_idx = np.append(start_idx[1:] - 1, c.size - 1)
    observed = history.snapshots[history.snapshots > 0]
    last_k = observed.index.max().value // step if len(observed) else kk.max()
    spell_offer = c[start_idx]
    vanished = kk[end_idx] < last_k

    n_snap = history.snapshots.reindex(oe["epoch"]).to_numpy(dtype="float64")
    share = oe["n_obs"].to_numpy(dtype="float64") / np.where(n_snap > 0, n_snap, np.nan)
    hours = np.nan_to_num(np.minimum(share, 1.0)) * (step / 3.6e12)

    # an epoch inside a spell (not its first or last) listed in fewer snapshots than the
    # epoch had: the offer vanished and came back within it — count one vanish
    inner = np.ones(c.size, dtype=bool)
    inner[start_idx] = False
    inner[end_idx] = False
    short = np.zeros(c.size, dtype=bool)
    short[inner] = share[order][inner] < 1.0

    n = len(keys)
    spells = np.bincount(spell_offer, minlength=n)
    vanishes = (
        np.bincount(spell_offer, weights=vanished, minlength=n)
        + np.bincount(c, weights=short, minlength=n)
    ).astype("int64")
    listed_hours = np.bincount(codes, weights=hours, minlength=n)
    first_ns = oe["first_seen"].to_numpy(dtype="datetime64[ns]").astype("int64")
    last_ns = oe["last_seen"].to_numpy(dtype="datetime64[ns]").astype("int64")
    first_seen = np.full(n, np.iinfo("int64").max)
    np.minimum.at(first_seen, codes, first_ns)
    last_seen = np.zeros(n, dtype="int64")
    np.maximum.at(last_seen, codes, last_ns)
    first_row = np.unique(codes, return_index=True)[1]
    attrs = oe.iloc[first_row]
    out = pd.DataFrame(
        {
            "offer_key": np.asarray(keys, dtype=object),
            "configuration": attrs["configuration"].to_numpy(),
            "datacenter": attrs["datacenter"].to_numpy(),
            "first_seen": pd.to_datetime(first_seen, unit="ns", utc=True),
            "last_seen": pd.to_datetime(last_seen, unit="ns", utc=True),
            "listed_hours": listed_hours,
            "spells": spells.astype("int64"),
            "vanishes": vanishes,
            "mean_spell_hours": listed_hours / spells,
            "listed_now": last_seen == last_ns.max(),
        }
    )
    return out.sort_values("offer_key", kind="stable").reset_index(drop=True)
