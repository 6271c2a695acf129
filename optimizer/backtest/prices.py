"""Price history for backtests: read it, check it, and lay it out for fast replay.

Two sources give the same long table (one row per offer per snapshot):

- the store, through `optimizer.store.queries.price_observations` (`from_store`);
- a CSV a user brings from elsewhere (`load_csv`) with the columns
  `timestamp,offer_key,configuration,country,price_per_epoch_usd` (or
  `price_per_hour_usd` instead: hourly price points, as the cloud API generation gives)
  and, optionally, `capacity,vcpu,ram_gb,tier,datacenter`. Configuration names may be any
  string.

A history's prices are all per epoch (24 h) or all per hour (`PriceHistory.unit`); the
store's history says which per offer (`price_unit`). Where it also records the hourly
price of a boot disk per GB and of a public IP (cloud), `Market.whole_vm` adds them to
each offer's price: what a VM with its disk and IP really costs.

A malformed CSV row stops the run with a `ConfigError` naming the file and line, e.g.
`prices.csv:17: price_per_epoch_usd 'abc' is not a number` — a backtest on guessed data
would answer the wrong question.

`Market` is the dense form the replay and the baselines work on: snapshot times × offers
matrices of integer micro-USD prices and capacities, plus each offer's static attributes.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from optimizer.errors import ConfigError

if TYPE_CHECKING:
    import _csv

    from sqlalchemy.engine import Engine

REQUIRED_COLUMNS = ("timestamp", "offer_key", "configuration", "country", "price_per_epoch_usd")
#: the price column of a CSV, by the unit its prices are per (exactly one must be given)
PRICE_COLUMNS = {"epoch": "price_per_epoch_usd", "hour": "price_per_hour_usd"}
OPTIONAL_COLUMNS = ("capacity", "vcpu", "ram_gb", "tier", "datacenter")
#: seconds a price is per, by unit
UNIT_SECONDS = {"epoch": 86_400, "hour": 3_600}
MAX_REPORTED_ERRORS = 20

#: columns of `PriceHistory.frame`
FRAME_COLUMNS = (
    "ts",
    "offer_key",
    "configuration",
    "country",
    "datacenter",
    "vcpu",
    "ram_gb",
    "tier",
    "price_micros",
    "capacity",
)
#: optional columns of `PriceHistory.frame` (cloud: hourly micro-USD, -1 when unknown)
WHOLE_VM_COLUMNS = ("disk_micros_per_gb", "public_ip_micros")


@dataclass(frozen=True)
class PriceHistory:
    """Validated long table of price observations.

    `frame` columns: ts (datetime64[ns, UTC]), offer_key, configuration, country,
    datacenter (str, "" when unknown), vcpu, ram_gb, tier (int64, -1 when unknown),
    price_micros (int64, integer micro-USD per `unit`: "epoch" or "hour"), capacity
    (int64, -1 when unknown); optionally `WHOLE_VM_COLUMNS` (hourly disk price per GB and
    public-IP price, micro-USD, -1 when unknown).
    """

    frame: pd.DataFrame
    source: str
    unit: str = "epoch"

    def window(self, since: datetime | None, until: datetime | None = None) -> PriceHistory:
        """The rows with since <= ts <= until (either bound optional)."""
        f = self.frame
        mask = np.ones(len(f), dtype=bool)
        if since is not None:
            mask &= (f["ts"] >= pd.Timestamp(since)).to_numpy()
        if until is not None:
            mask &= (f["ts"] <= pd.Timestamp(until)).to_numpy()
        return PriceHistory(f.loc[mask].reset_index(drop=True), self.source, self.unit)

    @property
    def start(self) -> datetime:
        first: pd.Timestamp = self.frame["ts"].min()
        return first.to_pydatetime()

    @property
    def end(self) -> datetime:
        last: pd.Timestamp = self.frame["ts"].max()
        return last.to_pydatetime()


# --- CSV ----------------------------------------------------------------------------------


def _int_field(value: str, name: str, lo: int, hi: int | None = None) -> tuple[int, str | None]:
    if value == "":
        return -1, None
    try:
        n = int(value)
    except ValueError:
        return -1, f"{name} {value[:40]!r} is not a whole number"
    if n < lo or (hi is not None and n > hi):
        rng = f"from {lo} to {hi}" if hi is not None else f"at least {lo}"
        return -1, f"{name} {n} is out of range (must be {rng})"
    return n, None


def _header(reader: _csv.Reader, name: str) -> tuple[dict[str, int], int, str]:
    """The column positions (required and optional columns present; the price column also
    as "price"), the row width and the unit the prices are per."""
    try:
        header = next(reader)
    except StopIteration:
        raise ConfigError(f"{name}: the file is empty (expected a header line)") from None
    except (csv.Error, UnicodeDecodeError) as e:
        raise ConfigError(f"{name}:1: not a CSV header: {e}") from None
    header = [h.strip().lower().lstrip("\ufeff") for h in header]
    given = [u for u, c in PRICE_COLUMNS.items() if c in header]
    if len(given) > 1:
        raise ConfigError(f"{name}:1: give one of {' or '.join(PRICE_COLUMNS.values())}, not both")
    # an hourly file names its price column price_per_hour_usd instead
    required = [PRICE_COLUMNS[given[0]] if c == PRICE_COLUMNS["epoch"] and given else c
                for c in REQUIRED_COLUMNS]  # fmt: skip
    missing = [c for c in required if c not in header]
    if missing:
        raise ConfigError(
            f"{name}:1: missing column(s) {', '.join(missing)} (need {','.join(REQUIRED_COLUMNS)}"
            f", or {PRICE_COLUMNS['hour']} for hourly prices)"
        )
    idx = {c: header.index(c) for c in (*required, *OPTIONAL_COLUMNS) if c in header}
    unit = given[0] if given else "epoch"
    idx["price"] = idx[PRICE_COLUMNS[unit]]
    return idx, len(header), unit


def _read_rows(
    reader: _csv.Reader,
    name: str,
    idx: dict[str, int],
    width: int,
    cols: dict[str, list[Any]],
    lines: list[int],
    errors: list[str],
) -> None:
    """Parse the data rows into `cols` (one list per column), the line of each good row
    into `lines`, and what is wrong with each bad row into `errors` (up to the limit)."""
    seen: dict[tuple[str, str], int] = {}
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(errors) >= MAX_REPORTED_ERRORS:
            break
        if len(row) != width:
            errors.append(f"{name}:{line}: expected {width} fields, found {len(row)}")
            continue
        errs = _parse_row(row, idx, cols)
        if not errs:
            key = (cols["ts"][-1], cols["offer_key"][-1])
            if key in seen:
                errs.append(f"offer {key[1]!r} at {key[0]} appears twice (also line {seen[key]})")
            else:
                seen[key] = line
        if errs:
            errors.extend(f"{name}:{line}: {e}" for e in errs)
            for c in cols.values():  # drop the partial row
                del c[len(lines) :]
            continue
        lines.append(line)


def load_csv(path: Path | str) -> PriceHistory:
    """Read a price CSV; return a validated `PriceHistory`.

    Raise `ConfigError` when the file cannot be read, a required column is missing, or any
    row is malformed: every bad row (up to 20) is reported as `FILE:LINE: what is wrong`.
    Timestamps are ISO 8601; a timestamp without a zone is taken as UTC. Prices are exact
    decimals converted to integer micro-USD (rounded half-even below one micro-dollar).
    """
    p = Path(path)
    name = str(path)
    try:
        fh = p.open(newline="", encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{name}: price file not found") from None
    except OSError as e:
        raise ConfigError(f"{name}: cannot read price file: {e.strerror}") from None

    cols: dict[str, list[Any]] = {c: [] for c in FRAME_COLUMNS}
    lines: list[int] = []
    errors: list[str] = []
    with fh:
        reader = csv.reader(fh)
        idx, width, unit = _header(reader, name)
        try:
            _read_rows(reader, name, idx, width, cols, lines, errors)
        except (csv.Error, UnicodeDecodeError) as e:
            errors.append(f"{name}:{reader.line_num}: unreadable CSV: {e}")
    if errors:
        more = " (further rows not checked)" if len(errors) >= MAX_REPORTED_ERRORS else ""
        raise ConfigError("\n".join(errors[:MAX_REPORTED_ERRORS]) + more)
    if not lines:
        raise ConfigError(f"{name}: no price rows after the header")
    frame = pd.DataFrame(cols)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601")
    for c in ("vcpu", "ram_gb", "tier", "price_micros", "capacity"):
        frame[c] = frame[c].astype("int64")
    return PriceHistory(_sorted(frame), name, unit)


def _parse_row(row: list[str], idx: dict[str, int], cols: dict[str, list[Any]]) -> list[str]:
    """Append one row's parsed values to `cols`; return its problems (empty when fine)."""
    errs: list[str] = []

    def get(c: str) -> str:
        return row[idx[c]].strip() if c in idx else ""

    ts_raw = get("timestamp")
    try:
        ts = pd.Timestamp(ts_raw)
        if pd.isna(ts):
            raise ValueError
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        ts_s = ts.isoformat()
    except (ValueError, TypeError):
        errs.append(f"timestamp {ts_raw[:40]!r} is not an ISO 8601 time")
        ts_s = ""
    key = get("offer_key")
    if not key:
        errs.append("offer_key is empty")
    conf = get("configuration")
    if not conf:
        errs.append("configuration is empty")
    country = get("country").upper()
    if len(country) != 2 or not country.isalpha() or not country.isascii():
        errs.append(f"country {get('country')[:40]!r} is not a two-letter country code")
    price_raw = get("price")
    column = next(c for c in PRICE_COLUMNS.values() if c in idx)
    micros = -1
    try:
        d = Decimal(price_raw)
        if not d.is_finite():
            raise InvalidOperation
        if d < 0:
            errs.append(f"{column} {price_raw!r} is negative")
        else:
            micros = int(d.scaleb(6).quantize(Decimal(1)))
    except InvalidOperation:
        errs.append(f"{column} {price_raw[:40]!r} is not a number")
    cap, e1 = _int_field(get("capacity"), "capacity", 0)
    vcpu, e2 = _int_field(get("vcpu"), "vcpu", 1)
    ram, e3 = _int_field(get("ram_gb"), "ram_gb", 1)
    tier, e4 = _int_field(get("tier"), "tier", 1, 4)
    errs.extend(e for e in (e1, e2, e3, e4) if e)
    if not errs:
        cols["ts"].append(ts_s)
        cols["offer_key"].append(key)
        cols["configuration"].append(conf)
        cols["country"].append(country)
        cols["datacenter"].append(get("datacenter"))
        cols["vcpu"].append(vcpu)
        cols["ram_gb"].append(ram)
        cols["tier"].append(tier)
        cols["price_micros"].append(micros)
        cols["capacity"].append(cap)
    return errs


# --- store / DataFrame --------------------------------------------------------------------


def from_frame(df: pd.DataFrame, source: str = "<frame>") -> PriceHistory:
    """Normalize a `price_observations`-shaped DataFrame (ts, offer_key, configuration,
    country, price_usd; optionally datacenter, vcpu, ram_gb, capacity, tier, price_unit
    ("epoch" or "hour", default epoch), and the cloud's hourly disk_price_per_gb and
    public_ip_price, missing where unknown).

    Raise `ConfigError` naming the column when a required one is missing or holds
    missing/negative values, or when the prices are per epoch in some rows and per hour in
    others (the API generation changed inside the window).
    """
    need = ("ts", "offer_key", "configuration", "country", "price_usd")
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ConfigError(f"{source}: price observations lack column(s) {', '.join(missing)}")
    n = len(df)
    out = pd.DataFrame(
        {
            "ts": pd.to_datetime(df["ts"], utc=True),
            "offer_key": df["offer_key"].astype(str),
            "configuration": df["configuration"].astype(str),
            "country": df["country"].astype(str),
        }
    )
    out["datacenter"] = (
        df["datacenter"].fillna("").astype(str) if "datacenter" in df.columns else [""] * n
    )
    for c in ("vcpu", "ram_gb", "tier", "capacity"):
        if c in df.columns:
            out[c] = pd.to_numeric(df[c], errors="coerce").fillna(-1).astype("int64").to_numpy()
        else:
            out[c] = np.full(n, -1, dtype="int64")
    price = pd.to_numeric(df["price_usd"], errors="coerce").to_numpy(dtype="float64")
    if n and (np.isnan(price).any() or (price < 0).any()):
        raise ConfigError(f"{source}: price_usd has missing or negative values")
    out["price_micros"] = np.rint(price * 1_000_000).astype("int64")
    columns = list(FRAME_COLUMNS)
    for col, src in zip(WHOLE_VM_COLUMNS, ("disk_price_per_gb", "public_ip_price"), strict=True):
        if src in df.columns:
            v = pd.to_numeric(df[src], errors="coerce").to_numpy(dtype="float64")
            out[col] = np.where(np.isnan(v) | (v < 0), -1, np.rint(v * 1_000_000)).astype("int64")
            columns.append(col)
    return PriceHistory(_sorted(out[columns]), source, _unit(df, source))


def _unit(df: pd.DataFrame, source: str) -> str:
    """The one unit the prices of `df` are per (its `price_unit` column; epoch without)."""
    if "price_unit" not in df.columns or not len(df):
        return "epoch"
    units = df["price_unit"].fillna("epoch").astype(str)
    found = sorted(set(units))
    unknown = [u for u in found if u not in UNIT_SECONDS]
    if unknown:
        raise ConfigError(f"{source}: price_unit {unknown[0]!r} is not epoch or hour")
    if len(found) > 1:
        ts = pd.to_datetime(df["ts"], utc=True)
        last_epoch = ts[(units == "epoch").to_numpy()].max()
        raise ConfigError(
            f"{source}: the history mixes prices per epoch and per hour (the API generation "
            f"changed; per-epoch prices until {last_epoch:%Y-%m-%d %H:%M} UTC): replay a "
            "window on one side of the change (--since)"
        )
    return found[0]


def from_store(
    engine: Engine, since: datetime | None, until: datetime | None = None
) -> PriceHistory:
    """Load the price observations recorded in the store (see `price_observations`), with
    each offer's boot-disk and public-IP prices where the store has them (their current
    values: the store keeps no history of them)."""
    from optimizer.store.queries import offer_extras, price_observations

    df = price_observations(engine, since, until)
    if df.empty:
        raise ConfigError("the store holds no price observations in that window")
    extras = offer_extras(engine)
    if len(extras):  # cloud: the current disk and IP prices, applied to the whole window
        df = df.merge(extras, on="offer_key", how="left")
    return from_frame(df, "store")


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["ts", "offer_key"], kind="stable").reset_index(drop=True)


# --- dense layout -------------------------------------------------------------------------


@dataclass
class Market:
    """History as dense matrices; row t = snapshot `times[t]`, column o = offer `keys[o]`.

    price[t, o]: integer micro-USD per `period_s` seconds (an epoch, or an hour for the
    cloud's hourly price points), -1 where the offer was not listed.
    capacity[t, o]: available instances, -1 when unknown (treated as unlimited).
    times: int64 POSIX seconds, ascending. Static attributes per offer come from its most
    recent observation. disk_price[t, o] (per GB) and ip_price[t, o]: the hourly prices of
    a boot disk and a public IP in the offer's cluster, -1 where unknown; None when the
    history has none (see `whole_vm`).
    """

    times: np.ndarray
    keys: np.ndarray
    configuration: np.ndarray
    country: np.ndarray
    datacenter: np.ndarray
    vcpu: np.ndarray
    ram_gb: np.ndarray
    tier: np.ndarray
    price: np.ndarray
    capacity: np.ndarray
    period_s: int = UNIT_SECONDS["epoch"]
    disk_price: np.ndarray | None = None
    ip_price: np.ndarray | None = None
    _ffill: np.ndarray | None = None
    _integral: np.ndarray | None = None

    @classmethod
    def build(cls, history: PriceHistory) -> Market:
        f = history.frame
        t_codes, t_uniques = pd.factorize(f["ts"], sort=True)
        o_codes, o_uniques = pd.factorize(f["offer_key"], sort=True)
        n_t, n_o = len(t_uniques), len(o_uniques)
        price = np.full((n_t, n_o), -1, dtype=np.int64)
        cap = np.full((n_t, n_o), -1, dtype=np.int64)
        price[t_codes, o_codes] = f["price_micros"].to_numpy()
        cap[t_codes, o_codes] = f["capacity"].to_numpy()
        extra: list[np.ndarray | None] = []
        for col in WHOLE_VM_COLUMNS:
            if col in f.columns:
                m = np.full((n_t, n_o), -1, dtype=np.int64)
                m[t_codes, o_codes] = f[col].to_numpy()
                extra.append(m)
            else:
                extra.append(None)
        last = f.groupby(o_codes, sort=True).tail(1)
        last = last.set_index(o_codes[last.index]).sort_index()
        times = (
            pd.DatetimeIndex(t_uniques).as_unit("s").asi8
            if hasattr(pd.DatetimeIndex(t_uniques), "as_unit")
            else pd.DatetimeIndex(t_uniques).asi8 // 10**9
        )
        return cls(
            times=np.asarray(times, dtype=np.int64),
            keys=np.asarray(o_uniques, dtype=object),
            configuration=last["configuration"].to_numpy(dtype=object),
            country=last["country"].to_numpy(dtype=object),
            datacenter=last["datacenter"].to_numpy(dtype=object),
            vcpu=last["vcpu"].to_numpy(dtype=np.int64),
            ram_gb=last["ram_gb"].to_numpy(dtype=np.int64),
            tier=last["tier"].to_numpy(dtype=np.int64),
            price=price,
            capacity=cap,
            period_s=UNIT_SECONDS[history.unit],
            disk_price=extra[0],
            ip_price=extra[1],
        )

    @property
    def hourly(self) -> bool:
        return self.period_s == UNIT_SECONDS["hour"]

    def per_epoch(self) -> Market:
        """This market with prices per epoch (hourly prices × 24, exact), for the billing
        models that charge per epoch."""
        if self.period_s == UNIT_SECONDS["epoch"]:
            return self
        k = UNIT_SECONDS["epoch"] // self.period_s
        return replace(
            self,
            price=np.where(self.price >= 0, self.price * k, -1),
            period_s=86_400,
            _ffill=None,
            _integral=None,
        )

    def whole_vm(self, disk_gb: int, public_ip: bool) -> tuple[Market, str | None]:
        """(market, note): each offer's price plus `disk_gb` GB of boot disk and, with
        `public_ip`, a public IP, where the history records their hourly prices (scaled to
        the market's unit); the note says what was added, or None when nothing was known."""
        parts = []
        add = np.zeros_like(self.price)
        k = self.period_s // UNIT_SECONDS["hour"]
        if self.disk_price is not None and (self.disk_price >= 0).any():
            add += np.where(self.disk_price >= 0, self.disk_price * disk_gb * k, 0)
            parts.append(f"a {disk_gb} GB boot disk")
        if public_ip and self.ip_price is not None and (self.ip_price >= 0).any():
            add += np.where(self.ip_price >= 0, self.ip_price * k, 0)
            parts.append("a public IP")
        if not parts:
            return self, None
        price = np.where(self.price >= 0, self.price + add, -1)
        note = f"prices are whole VMs: the VM plus {' and '.join(parts)}"
        return replace(self, price=price, _ffill=None, _integral=None), note

    @property
    def n_steps(self) -> int:
        return len(self.times)

    @property
    def n_offers(self) -> int:
        return len(self.keys)

    def step_at(self, t: int) -> int:
        """Index of the last snapshot at or before POSIX second `t` (-1 if none)."""
        return int(np.searchsorted(self.times, t, side="right")) - 1

    @property
    def ffill_price(self) -> np.ndarray:
        """price with each offer's last listed price carried forward (-1 before first)."""
        if self._ffill is None:
            listed = self.price >= 0
            idx = np.where(listed, np.arange(self.n_steps)[:, None], 0)
            np.maximum.accumulate(idx, axis=0, out=idx)
            ff = np.take_along_axis(self.price, idx, axis=0)
            first = np.maximum.accumulate(listed, axis=0)
            self._ffill = np.where(first, ff, -1)
        return self._ffill

    @property
    def integral(self) -> np.ndarray:
        """(steps, offers) int64: each offer's price integrated over time from the first
        snapshot to snapshot s (price × seconds, the price being the last recorded one;
        0 before the offer was first listed). `cost_between` differences it."""
        if self._integral is None:
            ff = np.maximum(self.ffill_price, 0)
            dt = np.diff(self.times)[:, None]
            out = np.zeros_like(ff)
            np.cumsum(ff[:-1] * dt, axis=0, out=out[1:])
            self._integral = out
        return self._integral

    def integral_at(self, t: np.ndarray | int, offers: np.ndarray | int | slice) -> np.ndarray:
        """The integral (see `integral`) up to time(s) t >= times[0], for `offers`: t is a
        vector of times (→ (len(t), offers)) or one time (→ (offers,))."""
        tt = np.asarray(t, dtype=np.int64)
        s = np.searchsorted(self.times, tt, side="right") - 1
        ff = np.maximum(self.ffill_price[s][..., offers], 0)
        dt = tt - self.times[s]
        if ff.ndim > dt.ndim:
            dt = dt[..., None]
        out: np.ndarray = self.integral[s][..., offers] + ff * dt
        return out

    def cost_between(self, offer: int, a: int, b: int) -> int:
        """What `offer` costs from second a to second b (a <= b) at its recorded prices,
        in price × seconds (per-second billing)."""
        if b <= a:
            return 0
        return int(self.integral_at(b, offer)) - int(self.integral_at(a, offer))

    def price_asof(self, offer: int, t: int) -> int:
        """Offer's last known price at POSIX second t (micro-USD), -1 if never listed."""
        s = self.step_at(t)
        return -1 if s < 0 else int(self.ffill_price[s, offer])

    def subsample(self, steps: np.ndarray) -> Market:
        """A Market keeping only the given snapshot rows (e.g. one per epoch)."""
        return replace(
            self,
            times=self.times[steps],
            price=self.price[steps],
            capacity=self.capacity[steps],
            disk_price=None if self.disk_price is None else self.disk_price[steps],
            ip_price=None if self.ip_price is None else self.ip_price[steps],
            _ffill=None,
            _integral=None,
        )


def epoch_steps(times: np.ndarray, epoch_seconds: int) -> np.ndarray:
    """Indices of the first snapshot in each epoch bucket (UTC-aligned)."""
    buckets = times // epoch_seconds
    _, first = np.unique(buckets, return_index=True)
    return first


def micros_to_usd(micros: int) -> Decimal:
    return Decimal(int(micros)).scaleb(-6)
