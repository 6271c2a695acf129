"""TOML configuration → validated models.

One schema validates everything and reports every error at once, one line each, naming
the file and the key path: `optimizer.toml: fleets[0].constraints.countries[1]: 'XX' is
not an ISO country code`. `load_config` raises `ConfigError` (exit 2) with those lines.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import time as dtime
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from optimizer.countries import normalize_country
from optimizer.errors import ConfigError
from optimizer.fluence.models import NAME_RE
from optimizer.money import Usd
from optimizer.urls import http_url_problem, is_loopback_host

DEFAULT_API_URL = "https://api.fluence.dev"
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> timedelta:
    """`30s`, `15m`, `1h`, `2d` (or a number of seconds) → timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str) and (m := _DURATION_RE.match(value)):
        return timedelta(seconds=float(m[1]) * _UNIT[m[2]])
    raise ValueError(f"{value!r} is not a duration (write it like 30s, 15m, 1h or 2d)")


def _not_negative(d: Decimal) -> Decimal:
    if d < 0:
        raise ValueError("must not be negative")
    return d


def _fractions(v: list[float]) -> list[float]:
    if any(not 0 < t <= 2 for t in v):
        raise ValueError("thresholds are fractions of the budget, like 0.5 or 1.0")
    return sorted(v)


#: Amounts a config sets (caps, budgets, savings): never negative.
NonNegativeUsd = Annotated[Usd, AfterValidator(_not_negative)]
#: Budget alert thresholds: fractions of the budget, ascending.
Thresholds = Annotated[list[float], AfterValidator(_fractions)]
#: What the daemon may do: snapshot and report, also plan and alert, also execute.
Mode = Literal["observe", "recommend", "act"]
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Country = Annotated[str, BeforeValidator(normalize_country)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApiConfig(Section):
    base_url: str = DEFAULT_API_URL
    auth_header: Literal["bearer", "x-api-key"] = "bearer"
    key_file: Path | None = None
    timeout: Duration = timedelta(seconds=15)
    max_retries: int = Field(default=4, ge=0, le=10)


class DatabaseConfig(Section):
    url: str | None = None  # None: $STATE_DIRECTORY/optimizer.db or ~/.local/state/...


class RetentionConfig(Section):
    raw_days: int = Field(default=35, ge=1)
    epoch_days: int = Field(default=730, ge=1)


class DaemonConfig(Section):
    snapshot_interval: Duration = timedelta(minutes=15)
    plan_interval: Duration = timedelta(hours=1)
    jitter: float = Field(default=0.1, ge=0, le=0.5)
    # how often the (pandas) price analysis is recomputed for planning; plans in between
    # reuse the last result (per-epoch statistics move slowly)
    analysis_interval: Duration = timedelta(hours=6)
    # how often the alerts stage (budget, spikes, VM statuses) runs; a tick with an
    # expected failure always runs it. 0 = every tick
    alerts_interval: Duration = timedelta(0)


class MetricsConfig(Section):
    listen: str | None = None  # "127.0.0.1:9464"


class PortSpec(Section):
    port: int = Field(ge=1, le=65535)
    protocol: Literal["tcp", "udp"] = "tcp"

    @field_validator("port")
    @classmethod
    def _not_reserved(cls, v: int) -> int:
        if v == 10250:
            raise ValueError("port 10250 is reserved by Fluence")
        return v


class HardwareConstraints(Section):
    cpu_manufacturers: list[str] = Field(default_factory=list)
    cpu_architectures: list[str] = Field(default_factory=list)
    memory_types: list[str] = Field(default_factory=list)
    memory_generations: list[str] = Field(default_factory=list)
    storage_types: list[Literal["HDD", "SSD", "NVMe"]] = Field(default_factory=list)


class AdditionalStorage(Section):
    type: Literal["HDD", "SSD", "NVMe"]
    size_gib: int = Field(ge=1)


class FleetConstraints(Section):
    configurations: list[str] = Field(default_factory=list)
    countries: list[Country] = Field(default_factory=list)
    hardware: HardwareConstraints = Field(default_factory=HardwareConstraints)
    max_price_per_epoch_usd: NonNegativeUsd | None = None
    additional_storage: AdditionalStorage | None = None
    # client-side filters the API lacks
    min_tier: int | None = Field(default=None, ge=1, le=4)
    certifications: list[str] = Field(default_factory=list)
    exclude_datacenters: list[str] = Field(default_factory=list)  # "FR-PAR-1"

    @model_validator(mode="after")
    def _storage_needs_type(self) -> FleetConstraints:
        if self.additional_storage and not self.hardware.storage_types:
            # the API accepts additionalResources only with hardware.storage
            self.hardware.storage_types = [self.additional_storage.type]
        return self


class MaintenanceWindow(Section):
    """Daily UTC window in which disruptive actions may run, e.g. start 02:00, end 05:00."""

    start: dtime
    end: dtime
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    )


#: how the provider bills a running VM: "deal" — the price at deploy for its whole life
#: (the API's `pricePerEpoch`); "market" — its offer's current price at each charge
PriceModel = Literal["deal", "market"]


class FleetPolicy(Section):
    # defaults measured by tests/benchmarks/bench_policy_quality.py (README "Backtests"):
    # small thresholds and loose limits catch the market's short dips; the planner's
    # payback check and billing alignment keep the number of moves low
    min_savings_pct: float = Field(default=3, ge=0, le=100)
    min_savings_usd_per_epoch: NonNegativeUsd = Decimal("0.005")
    payback_epochs: float = Field(default=5, gt=0)
    disruption_cost_usd: NonNegativeUsd = Decimal("0")
    max_migrations_per_epoch: int = Field(default=5, ge=0)
    cooldown_epochs: float = Field(default=0, ge=0)
    max_surge: int = Field(default=5, ge=0)
    max_unavailable: int = Field(default=0, ge=0)
    do_not_disrupt: list[str] = Field(default_factory=list)  # VM ids or names
    maintenance_windows: list[MaintenanceWindow] = Field(default_factory=list)
    align_to_billing: bool = True
    launch_timeout: Duration = timedelta(minutes=20)
    min_reliability: float = Field(default=0.0, ge=0, le=1)
    # "market": a move is judged on the offers' recent price levels and their spread
    # (a dip's price would not last), never started early to catch a dip
    price_model: PriceModel = "deal"


class Diversification(Section):
    max_per_datacenter: int | None = Field(default=None, ge=1)
    min_countries: int | None = Field(default=None, ge=1)


class CapacityTarget(Section):
    vcpu: int | None = Field(default=None, ge=1)
    ram_gb: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _something(self) -> CapacityTarget:
        if self.vcpu is None and self.ram_gb is None:
            raise ValueError("give vcpu, ram_gb or both")
        return self


class FleetBudget(Section):
    max_usd_per_epoch: NonNegativeUsd | None = None
    monthly_usd: NonNegativeUsd | None = None
    thresholds: Thresholds | None = None  # None: the global budget.thresholds


class FleetConfig(Section):
    name: str
    instances: int | None = Field(default=None, ge=0)
    capacity: CapacityTarget | None = None
    os_image: str | None = None
    image: str | None = None  # slug of a default image, resolved through the API
    ssh_keys: list[str] = Field(min_length=1)
    open_ports: list[PortSpec] = Field(default_factory=list)
    keep_ssh_open: bool = True
    hostname: str | None = None
    constraints: FleetConstraints = Field(default_factory=FleetConstraints)
    policy: FleetPolicy = Field(default_factory=FleetPolicy)
    diversification: Diversification = Field(default_factory=Diversification)
    budget: FleetBudget = Field(default_factory=FleetBudget)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9]{0,29}(-[a-z0-9]+)*", v) or len(v) > 40:
            raise ValueError(
                f"{v!r} is not a fleet name (lowercase letters, digits and hyphens, "
                "starting with a letter, at most 40 characters)"
            )
        return v

    @field_validator("hostname")
    @classmethod
    def _hostname(cls, v: str | None) -> str | None:
        if v is not None and not NAME_RE.match(v):
            raise ValueError(f"{v!r} is not a hostname (letters, digits and hyphens)")
        return v

    @field_validator("os_image")
    @classmethod
    def _image(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not re.match(r"^https?://", v):
            raise ValueError("os_image must be a download URL (https://...)")
        exts = (".qcow2", ".img", ".raw", ".raw.xz", ".raw.gz", ".img.xz", ".img.gz")
        if not v.endswith(exts):
            raise ValueError(f"os_image must end with one of {', '.join(exts)}")
        return v

    @model_validator(mode="after")
    def _size_and_image(self) -> FleetConfig:
        if (self.instances is None) == (self.capacity is None):
            raise ValueError("declare exactly one of `instances` or `capacity`")
        if self.capacity is not None and not self.constraints.configurations:
            raise ValueError("a `capacity` fleet must list constraints.configurations")
        if self.os_image is None and self.image is None:
            raise ValueError("give `os_image` (a URL) or `image` (a default image slug)")
        return self


class BudgetConfig(Section):
    max_usd_per_epoch: NonNegativeUsd | None = None
    monthly_usd: NonNegativeUsd | None = None
    thresholds: Thresholds = Field(default_factory=lambda: [0.5, 0.8, 1.0])


#: What a command sink may never be handed, whatever `pass_env` says: the API key and
#: the directory of systemd credentials (API key, SMTP password).
SECRET_ENV = frozenset({"FLUENCE_API_KEY", "CREDENTIALS_DIRECTORY"})
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class AlertSink(Section):
    kind: Literal["log", "webhook", "command", "email"]
    url: str | None = None
    command: list[str] | None = None
    # environment variables handed to the command besides PATH and LANG (names only; the
    # values are the daemon's)
    pass_env: list[str] = Field(default_factory=list)
    smtp_host: str | None = None
    smtp_port: int = 587
    starttls: bool = True
    # allow a login without TLS to a host other than loopback: the password travels in
    # clear text. Off unless set, and every such send logs a warning.
    insecure_plaintext_login: bool = False
    username: str | None = None
    password_file: Path | None = None
    ca_file: Path | None = None  # extra CA bundle to trust for STARTTLS (private relays)
    sender: str | None = None
    to: list[str] = Field(default_factory=list)
    timeout: Duration = timedelta(seconds=5)

    @field_validator("url")
    @classmethod
    def _safe_url(cls, v: str | None) -> str | None:
        if v is not None and (problem := http_url_problem(v)):
            raise ValueError(problem)
        return v

    @field_validator("pass_env")
    @classmethod
    def _env_names(cls, v: list[str]) -> list[str]:
        for name in v:
            if not _ENV_NAME_RE.match(name):
                raise ValueError(f"{name!r} is not an environment variable name")
            if name in SECRET_ENV:
                raise ValueError(f"{name} holds the daemon's secrets and is never passed on")
        return v

    @model_validator(mode="after")
    def _needs(self) -> AlertSink:
        need = {"webhook": "url", "command": "command", "email": "smtp_host"}.get(self.kind)
        if need and not getattr(self, need):
            raise ValueError(f"a {self.kind} sink needs `{need}`")
        if self.kind == "email" and (not self.to or not self.sender):
            raise ValueError("an email sink needs `sender` and `to`")
        if self.plaintext_login and not self.insecure_plaintext_login:
            raise ValueError(
                f"starttls = false would send the SMTP password in clear text to "
                f"{self.smtp_host}; keep starttls on, use port 465, or set "
                "insecure_plaintext_login = true if you accept that"
            )
        return self

    @property
    def plaintext_login(self) -> bool:
        """Whether this email sink would log in without TLS to a host other than loopback."""
        return (
            self.kind == "email"
            and self.username is not None
            and not self.starttls
            and self.smtp_port != 465
            and not is_loopback_host(self.smtp_host or "")
        )


class AlertsConfig(Section):
    sinks: list[AlertSink] = Field(default_factory=list)
    renotify: Duration | None = None
    price_spike_pct: float = Field(default=25, gt=0)
    price_spike_epochs: int = Field(default=3, ge=1)
    snapshot_failures: int = Field(default=3, ge=1)


class Config(Section):
    mode: Mode = "recommend"
    api: ApiConfig = Field(default_factory=ApiConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    fleets: list[FleetConfig] = Field(default_factory=list)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)

    @model_validator(mode="after")
    def _unique_fleets(self) -> Config:
        names = [f.name for f in self.fleets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"fleet names must be unique; repeated: {', '.join(dupes)}")
        return self

    def fleet(self, name: str) -> FleetConfig:
        for f in self.fleets:
            if f.name == name:
                return f
        raise ConfigError(f"no fleet named {name!r} in the configuration")


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def format_validation_error(source: str, err: ValidationError) -> str:
    """Every error of `err` as `source: key.path: message`, one per line."""
    lines = []
    for e in err.errors():
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see config/optimizer.example.toml)"
        lines.append(f"{source}: {_loc(e['loc'])}: {msg}")
    return "\n".join(lines)


def parse_config(data: dict[str, Any], source: str = "<config>") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(source, err)) from None


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """Given TOML text, return its table; raise ConfigError `<source>: not valid TOML: …`."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: not valid TOML: {e}") from None


def read_toml(path: Path, what: str = "configuration file") -> dict[str, Any]:
    """Read the TOML file at `path`; raise ConfigError naming the file and `what` it is
    (`<path>: policy file not found`) when it is missing, unreadable or not TOML."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read {what}: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return parse_toml(text, str(path))


def load_config(path: Path | str | None) -> Config:
    """Read and validate a TOML file; None gives the defaults (no fleets, recommend mode)."""
    if path is None:
        return Config()
    p = Path(path)
    return parse_config(read_toml(p), str(p))


def config_search_note() -> str:
    """Where `default_config_path` looked, for a message when it found nothing."""
    return (
        "no configuration file: --config not given, $FLUENCE_OPTIMIZER_CONFIG and "
        "$CONFIGURATION_DIRECTORY unset, /etc/fluence-optimizer/optimizer.toml does not exist"
    )


def default_config_path() -> Path | None:
    """$FLUENCE_OPTIMIZER_CONFIG, else $CONFIGURATION_DIRECTORY/optimizer.toml (systemd),
    else /etc/fluence-optimizer/optimizer.toml when it exists, else None."""
    if env := os.environ.get("FLUENCE_OPTIMIZER_CONFIG"):
        return Path(env)
    if cfg_dir := os.environ.get("CONFIGURATION_DIRECTORY"):
        return Path(cfg_dir.split(":")[0]) / "optimizer.toml"
    etc = Path("/etc/fluence-optimizer/optimizer.toml")
    return etc if etc.exists() else None
