"""TOML configuration → validated models.

One schema validates everything and reports every error at once, one line each, naming
the file and the key path: `optimizer.toml: fleets[0].constraints.countries[1]: 'XX' is
not an ISO country code`. `load_config` raises `ConfigError` (exit 2) with those lines.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import tomllib
from datetime import time as dtime
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

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

from optimizer.clock import EPOCH_HOURS
from optimizer.countries import normalize_country
from optimizer.errors import ConfigError
from optimizer.fluence.models import NAME_RE, VM_TOKEN_CHARS, max_fleet_name
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
    """A table of the configuration file: unknown keys are errors, and each field's
    docstring is its description (docs/reference/configuration.md is generated from them)."""

    # not `use_attribute_docstrings`: pydantic would read and parse this file's source
    # once per class at import (about 0.1 s of every command's start); only the docs
    # need the docstrings, and `field_docs` reads them when asked
    model_config = ConfigDict(extra="forbid")

    @classmethod
    def field_docs(cls) -> dict[str, str]:
        """{field name: its description}: the docstring under the field (inherited ones
        too), or a `Field(description=...)`; fields with neither are left out."""
        docs: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            if issubclass(klass, Section):
                docs.update(_attribute_docstrings(klass.__module__).get(klass.__name__, {}))
        out = {}
        for name, field in cls.model_fields.items():
            if text := field.description or docs.get(name):
                out[name] = text
        return out


@functools.cache
def _attribute_docstrings(module: str) -> dict[str, dict[str, str]]:
    """{class name: {field: docstring}} for the top-level classes of `module`: a string
    statement right after an annotated assignment documents it (as pydantic's
    `use_attribute_docstrings` reads it)."""
    import ast
    import inspect
    import sys

    out: dict[str, dict[str, str]] = {}
    for node in ast.parse(inspect.getsource(sys.modules[module])).body:
        if not isinstance(node, ast.ClassDef):
            continue
        docs = out.setdefault(node.name, {})
        for stmt, after in itertools.pairwise(node.body):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[stmt.target.id] = inspect.cleandoc(after.value.value)
    return out


API_GENERATIONS = ("marketplace-v3", "cloud")


class ApiConfig(Section):
    base_url: str = DEFAULT_API_URL
    """API root. Must be `https://`; plain `http://` only to loopback (127.0.0.0/8, ::1,
    localhost), e.g. the simulator. The global `--api-url` option overrides it. Changing it
    needs a daemon restart."""
    generation: Literal["auto", "marketplace-v3", "cloud"] = "auto"
    """Which Fluence API the server speaks: `"marketplace-v3"` (the seeds' marketplace API),
    `"cloud"` (the published API: clusters, hourly prices, `/v2/vms`), or `"auto"`: ask the
    server once, before anything else (see the README). `--api-generation` overrides it."""
    auth_header: Literal["bearer", "x-api-key"] | None = None
    """How the API key is sent: `"bearer"` as `Authorization: Bearer <key>`, `"x-api-key"` as
    `X-API-KEY: <key>`. Unset: the generation's own (bearer on marketplace-v3; `X-API-KEY`
    and `Authorization: X-API-KEY <key>` on cloud)."""
    key_file: Path | None = None
    """File holding the API key (one token of visible ASCII), used when `$FLUENCE_API_KEY` is
    unset; refused if group or others can access it (`chmod 600`). Unset: the systemd
    credential `fluence-api-key` (`$CREDENTIALS_DIRECTORY`). Never put the key itself in the
    configuration."""
    timeout: Duration = timedelta(seconds=15)
    """Timeout of every API request (connecting takes at most 10 s of it)."""
    max_retries: int = Field(default=4, ge=0, le=10)
    """Retries (0-10) of reads, offer searches and estimates after 429, 5xx, timeouts or
    malformed answers, with exponential backoff and full jitter (0.5 s, 1 s, 2 s ... capped at
    30 s) or the server's `Retry-After` (capped at 120 s). Deploy, patch and delete are never
    retried."""


class DatabaseConfig(Section):
    url: str | None = None
    """SQLAlchemy URL of the state database, e.g. `postgresql+psycopg://optimizer@db/optimizer`
    for replicas sharing state. Unset: SQLite (WAL) at `$STATE_DIRECTORY/optimizer.db` under
    systemd, else `~/.local/state/fluence-optimizer/optimizer.db`. Changing it needs a daemon
    restart."""


class RetentionConfig(Section):
    raw_days: int = Field(default=35, ge=1)
    """Days every observed price is kept; older raw history is rolled up into per-epoch (UTC
    day) aggregates by the daemon or `db prune`."""
    epoch_days: int = Field(default=730, ge=1)
    """Days the per-epoch aggregates are kept before they are dropped."""


class DaemonConfig(Section):
    snapshot_interval: Duration = timedelta(minutes=15)
    """Time between market snapshots (one offer search and one VM list each); every cycle
    starts with one. Open actions advance every cycle."""
    plan_interval: Duration = timedelta(hours=1)
    """Time between planning passes (and, in `act` mode, executing them); a plan runs on the
    first snapshot cycle after it is due, so it always sees a fresh snapshot."""
    jitter: float = Field(default=0.1, ge=0, le=0.5)
    """Each interval is stretched or shrunk at random by up to this fraction (0-0.5; 0.1 means
    ±10 %), so replicas and many daemons do not call the API in step."""
    analysis_interval: Duration = timedelta(hours=6)
    """How often the (pandas) price analysis used for planning is recomputed; plans in between
    reuse the last result, since per-epoch statistics move slowly."""
    alerts_interval: Duration = timedelta(0)
    """How often the alerts stage (budget, price spikes, VM statuses) runs; `0s` = every cycle.
    A cycle that planned or had an expected failure always runs it."""
    reaper_grace: Duration = timedelta(minutes=5)
    """In `act` mode, how long a disk or public IP the optimizer created may outlive its VM
    (cloud API generation, where both bill until deleted): once its VM has been terminated
    (or is seen gone) this long and it is detached, the reaper stage deletes it. Disks and
    IPs the optimizer did not create are never deleted, only reported."""


class MetricsConfig(Section):
    listen: str | None = None
    """`host:port` of the Prometheus `/metrics` endpoint, e.g. `127.0.0.1:9464`; unset = no
    endpoint. It has no authentication: keep it on loopback or behind a proxy (a warning is
    logged otherwise)."""


class PortSpec(Section):
    port: int = Field(ge=1, le=65535)
    """Port number to open on the fleet's VMs (1-65535; 10250 is reserved by Fluence)."""
    protocol: Literal["tcp", "udp"] = "tcp"
    """`"tcp"` or `"udp"`."""

    @field_validator("port")
    @classmethod
    def _not_reserved(cls, v: int) -> int:
        if v == 10250:
            raise ValueError("port 10250 is reserved by Fluence")
        return v


class HardwareConstraints(Section):
    cpu_manufacturers: list[str] = Field(default_factory=list)
    """Allowed CPU manufacturers, e.g. `["AMD"]`; empty = any. Matched case-insensitively."""
    cpu_architectures: list[str] = Field(default_factory=list)
    """Allowed CPU architectures, e.g. `["Zen"]`; empty = any."""
    memory_types: list[str] = Field(default_factory=list)
    """Allowed memory types, e.g. `["DDR"]`; empty = any."""
    memory_generations: list[str] = Field(default_factory=list)
    """Allowed memory generations, e.g. `["5"]`; empty = any."""
    storage_types: list[Literal["HDD", "SSD", "NVMe"]] = Field(default_factory=list)
    """Allowed storage types (`HDD`, `SSD`, `NVMe`); empty = any. Set to the
    `additional_storage` type when that is given and this is empty (the API requires it)."""


class AdditionalStorage(Section):
    type: Literal["HDD", "SSD", "NVMe"]
    """Kind of the extra disk: `HDD`, `SSD` or `NVMe`."""
    size_gib: int = Field(ge=1)
    """Size of the extra disk in GiB (at least 1)."""


class FleetConstraints(Section):
    configurations: list[str] = Field(default_factory=list)
    """Allowed configuration slugs, e.g. `cpu-2-ram-4gb-storage-25gb`; empty = any. Required
    for a fleet sized by `capacity` (the cheapest mix of them wins)."""
    countries: list[Country] = Field(default_factory=list)
    """Allowed countries as ISO 3166 codes (`DE`, `FR`); empty = any."""
    hardware: HardwareConstraints = Field(default_factory=HardwareConstraints)
    """Hardware filters (CPU, memory, storage); each empty list allows anything."""
    max_price_per_epoch_usd: NonNegativeUsd | None = None
    """Most a VM of this fleet may cost per epoch (24 h), in USD as a string (`"1.20"`); dearer
    offers are not used. Unset = no per-VM cap. The seeds' API prices per epoch; on the cloud
    API (hourly prices) this is compared with 24 × the hourly price."""
    max_price_per_hour_usd: NonNegativeUsd | None = None
    """Most a VM of this fleet may cost per hour, its boot disk and public IP included, in
    USD as a string (`"0.05"`): the cloud API's unit. Unset = no hourly cap. With both caps
    set the tighter one holds (an epoch is 24 h)."""
    additional_storage: AdditionalStorage | None = None
    """An extra disk each VM gets at deploy, e.g. `{ type = "NVMe", size_gib = 50 }`; unset =
    none."""
    min_tier: int | None = Field(default=None, ge=1, le=4)
    """Lowest datacenter tier (1-4) allowed; unset = any. Checked by the planner (the API
    cannot filter on it); a datacenter of unknown tier is refused."""
    certifications: list[str] = Field(default_factory=list)
    """Certifications every datacenter must hold, e.g. `["ISO/IEC 27001:2022"]`
    (case-insensitive); empty = none required. Checked by the planner."""
    exclude_datacenters: list[str] = Field(default_factory=list)
    """Datacenters never used, by label, e.g. `["FR-PAR-1"]`. Checked by the planner."""

    @property
    def price_cap_per_epoch(self) -> Decimal | None:
        """The per-VM price cap in the planner's unit (USD per 24 h): the tighter of
        `max_price_per_epoch_usd` and 24 × `max_price_per_hour_usd` (None: no cap)."""
        hourly = self.max_price_per_hour_usd
        caps = [self.max_price_per_epoch_usd, None if hourly is None else hourly * EPOCH_HOURS]
        return min((c for c in caps if c is not None), default=None)

    @model_validator(mode="after")
    def _storage_needs_type(self) -> FleetConstraints:
        if self.additional_storage and not self.hardware.storage_types:
            # the API accepts additionalResources only with hardware.storage
            self.hardware.storage_types = [self.additional_storage.type]
        return self


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class MaintenanceWindow(Section):
    """Daily UTC window in which disruptive actions may run, e.g. start 02:00, end 05:00."""

    start: dtime
    """Start of the daily window, UTC (`02:00`)."""
    end: dtime
    """End of the daily window, UTC (exclusive); earlier than `start` = the window crosses
    midnight and belongs to the day it started."""
    days: list[Weekday] = Field(default_factory=lambda: list(get_args(Weekday)))
    """Days (`mon` ... `sun`) the window opens on; default every day."""


#: how the provider bills a running VM: "deal" — the price at deploy for its whole life
#: (the API's `pricePerEpoch`); "market" — its offer's current price at each charge
PriceModel = Literal["deal", "market"]


class FleetPolicy(Section):
    """Defaults measured by tests/benchmarks/bench_policy_quality.py (README "Backtests"):
    small thresholds and loose limits catch the market's short dips; the planner's payback
    check and billing alignment keep the number of moves low."""

    min_savings_pct: float = Field(default=3, ge=0, le=100)
    """A move must make the VM at least this many percent cheaper per epoch (0-100) — and clear
    `min_savings_usd_per_epoch` too."""
    min_savings_usd_per_epoch: NonNegativeUsd = Decimal("0.005")
    """A move must save at least this many USD per epoch (a string, `"0.005"`) — and clear
    `min_savings_pct` too."""
    payback_epochs: float = Field(default=5, gt=0)
    """A move is made only when its saving pays back, within this many epochs (24 h each),
    the overlap (time both VMs are paid) plus `disruption_cost_usd`."""
    disruption_cost_usd: NonNegativeUsd = Decimal("0")
    """What one restart of a VM costs you, in USD; added to each move's cost in the payback
    check. `"0"` = moves are free apart from the overlap."""
    max_migrations_per_epoch: int = Field(default=5, ge=0)
    """Most migrations this fleet starts in any 24 hours; 0 = never migrate (deploys and
    removals still happen)."""
    cooldown_epochs: float = Field(default=0, ge=0)
    """Epochs after a VM was created or last migrated before it may be moved again; 0 = no
    cooldown."""
    max_surge: int = Field(default=5, ge=0)
    """Most extra VMs running beyond the fleet's size while migrations are under way (new VMs
    started before their old ones go); it also limits concurrent migrations."""
    max_unavailable: int = Field(default=0, ge=0)
    """How many VMs the fleet may drop below its `instances` count while changing; 0 = make
    before break (a new VM is Active before an old one is deleted)."""
    do_not_disrupt: list[str] = Field(default_factory=list)
    """VM ids or names that are never migrated or removed."""
    maintenance_windows: list[MaintenanceWindow] = Field(default_factory=list)
    """Daily UTC windows in which cutovers and scale-downs may happen, e.g. `[{ start =
    "02:00", end = "05:00", days = ["mon", "tue"] }]`; empty = any time."""
    align_to_billing: bool = True
    """Cut over just before the old VM's next charge (`nextBillingAt`) and start the new VM a
    launch lead time earlier, so the overlap costs minutes; `false` = cut over as soon as the
    new VM is Active. No effect on per-second billing (the cloud API): there is no charge
    to wait for, every move cuts over as soon as the new VM is up."""
    launch_timeout: Duration = timedelta(minutes=20)
    """A new VM not Active this long after deploy is deleted and the next plan tries another
    datacenter; so is a migration's new VM that is not serving (neither Active, SmallBalance
    nor InsufficientFunds, nor ended) this long after its cutover was due: the old VM is
    kept."""
    cutover_health_wait: Duration = timedelta(0)
    """How long a migration's new VM must have been seen Active before the old VM is
    deleted (both are billed meanwhile); a new VM that ends before the cutover fails the
    move and the old VM keeps serving. 0 = cut over on the first tick that sees it Active. A
    billing-aligned cutover still happens at its billing time, which is normally long after
    Active; only when the VM came up later than that time less the wait does it wait too
    (and, if the old VM is charged again meanwhile, until just before its next charge)."""
    min_reliability: float = Field(default=0.0, ge=0, le=1)
    """Datacenters whose reliability score (0-1, from the price analysis, else the offer) is
    below this are avoided; 0 = no minimum. Ties between equal prices go to the more reliable
    datacenter anyway."""
    price_model: PriceModel = "deal"
    """How the provider bills a running VM: `"deal"` — the price at deploy for its whole life;
    `"market"` — its offer's current price at each charge, so a move is judged on the offers'
    recent price levels and their spread and never started early to catch a dip. On
    per-second billing (the cloud API) VMs always pay the price of the moment, so moves are
    judged as `"market"` there whatever this says."""


class Diversification(Section):
    max_per_datacenter: int | None = Field(default=None, ge=1)
    """Most VMs of this fleet in one datacenter; unset = no limit."""
    min_countries: int | None = Field(default=None, ge=1)
    """Fewest distinct countries the fleet's VMs must span; unset = no minimum."""


class CapacityTarget(Section):
    vcpu: int | None = Field(default=None, ge=1)
    """Total vCPUs the fleet must provide; give this, `ram_gb`, or both."""
    ram_gb: int | None = Field(default=None, ge=1)
    """Total RAM in GB the fleet must provide; give this, `vcpu`, or both."""

    @model_validator(mode="after")
    def _something(self) -> CapacityTarget:
        if self.vcpu is None and self.ram_gb is None:
            raise ValueError("give vcpu, ram_gb or both")
        return self


class FleetBudget(Section):
    max_usd_per_epoch: NonNegativeUsd | None = None
    """This fleet's own cap on its VMs' cost per epoch, in USD: the plan deploys fewer VMs
    rather than exceed it, and `budget.epoch:<fleet>` alerts when the running VMs cost more.
    The global `[budget]` applies too. Unset = no fleet cap."""
    monthly_usd: NonNegativeUsd | None = None
    """This fleet's monthly budget in USD; alerts at `thresholds` of its actual and forecast
    spend. Unset = no fleet budget alerts."""
    thresholds: Thresholds | None = None
    """Fractions of `monthly_usd` that alert for this fleet; unset = the global
    `budget.thresholds`."""


class FleetConfig(Section):
    name: str
    """The fleet's name: lowercase letters, digits and hyphens, starting with a letter, at most
    40 characters (14 with `api.generation = "cloud"`, whose names have at most 25), unique.
    Its VMs are named `<name>-<token>` (a 10-character token)."""
    instances: int | None = Field(default=None, ge=0)
    """How many VMs the fleet runs. Give exactly one of `instances` and `capacity`."""
    capacity: CapacityTarget | None = None
    """Size the fleet by total vCPU and/or RAM instead of a VM count: the cheapest mix of
    `constraints.configurations` wins. Give exactly one of `instances` and `capacity`."""
    os_image: str | None = None
    """Download URL (`https://...`) of the OS image, ending in `.qcow2`, `.img`, `.raw`
    (optionally `.xz`/`.gz`). Give this or `image`."""
    image: str | None = None
    """Slug of one of the provider's default images (e.g. `"debian-12"`), resolved through the
    API. Give this or `os_image`."""
    disk_gb: int = Field(default=25, ge=1)
    """Size in GB of the boot disk each VM gets on the cloud API generation (created with the
    VM, billed per GB-hour until deleted); its price counts in the VM's whole price. Ignored on
    marketplace-v3, where the configuration fixes the disk."""
    public_ip: bool = True
    """Give each VM a public IPv4 on the cloud API generation (billed per hour until deleted;
    its price counts in the VM's whole price); `false` = no public IP. Ignored on
    marketplace-v3, where every VM has one."""
    ssh_keys: list[str] = Field(min_length=1)
    """SSH public keys (raw) or names of keys stored in the account, installed on each VM; at
    least one."""
    open_ports: list[PortSpec] = Field(default_factory=list)
    """Ports opened on each VM, e.g. `[{ port = 443, protocol = "tcp" }]`; set at deploy and
    corrected with PATCH on marketplace-v3. The cloud generation has no per-VM port setting:
    there they are not applied (`check-config` notes it), open them in the VM itself."""
    keep_ssh_open: bool = True
    """Keep 22/tcp open besides `open_ports` (the API replaces the whole port set)."""
    hostname: str | None = None
    """Hostname given to the VMs (letters, digits and hyphens); unset = the API's default, the
    VM's name."""
    constraints: FleetConstraints = Field(default_factory=FleetConstraints)
    """Which offers the fleet may use."""
    policy: FleetPolicy = Field(default_factory=FleetPolicy)
    """When and how the fleet's VMs move."""
    diversification: Diversification = Field(default_factory=Diversification)
    """Spread limits across datacenters and countries."""
    budget: FleetBudget = Field(default_factory=FleetBudget)
    """This fleet's own budget and alert thresholds."""

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
    """Cap on the account's cost per epoch (all VMs together), in USD: every plan deploys fewer
    VMs rather than exceed it, and `budget.epoch:total` alerts when the running VMs cost more.
    Unset = no cap."""
    monthly_usd: NonNegativeUsd | None = None
    """Monthly budget of the whole account (all VMs) in USD; alerts at `thresholds` of the
    actual and the forecast spend. Unset = no budget alerts."""
    thresholds: Thresholds = Field(default_factory=lambda: [0.5, 0.8, 1.0])
    """Fractions of `monthly_usd` (each in (0, 2]) that alert, on actual and on forecast spend;
    only the highest one crossed is active."""


#: What a command sink may never be handed, whatever `pass_env` says: the API key and
#: the directory of systemd credentials (API key, SMTP password).
SECRET_ENV = frozenset({"FLUENCE_API_KEY", "CREDENTIALS_DIRECTORY"})
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class AlertSink(Section):
    kind: Literal["log", "webhook", "command", "email"]
    """Where alerts go: `log` (the daemon's log), `webhook` (POST of the alert as JSON to
    `url`), `command` (runs `command` with the alert JSON on stdin) or `email` (SMTP)."""
    url: str | None = None
    """Webhook URL (`https://`; plain `http://` only to loopback). Required for `webhook`."""
    command: list[str] | None = None
    """Program and arguments to run (argv list, no shell), e.g. `["/usr/local/bin/page-oncall",
    "--team", "infra"]`; non-zero exit = failed delivery. Required for `command`."""
    pass_env: list[str] = Field(default_factory=list)
    """Environment variables handed to a `command` sink besides `PATH` and `LANG` (names only;
    the values are the daemon's). `FLUENCE_API_KEY` and `CREDENTIALS_DIRECTORY` are refused."""
    smtp_host: str | None = None
    """SMTP server of an `email` sink. Required for `email`."""
    smtp_port: int = 587
    """SMTP port; 465 = implicit TLS, otherwise STARTTLS when `starttls` is on."""
    starttls: bool = True
    """Upgrade the SMTP connection with STARTTLS (ignored on port 465, which is TLS from the
    start)."""
    insecure_plaintext_login: bool = False
    """Allow an SMTP login without TLS to a host other than loopback: the password travels in
    clear text. Off unless set, and every such send logs a warning."""
    username: str | None = None
    """SMTP login name; unset = no login. The password comes from `password_file` or the
    systemd credential `smtp-password`."""
    password_file: Path | None = None
    """File holding the SMTP password (must be `chmod 600`); unset = the systemd credential
    `smtp-password`."""
    ca_file: Path | None = None
    """Extra CA bundle to trust for the SMTP TLS connection (a private relay); unset = the
    system CAs."""
    sender: str | None = None
    """From address of an `email` sink. Required for `email`."""
    to: list[str] = Field(default_factory=list)
    """Recipient addresses of an `email` sink; at least one for `email`."""
    timeout: Duration = timedelta(seconds=5)
    """Longest one delivery may take; a cycle waits at most the slowest sink's timeout + 0.5 s.
    A failed delivery is queued and retried in later cycles."""

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
    """Where alerts are sent besides the log; each `[[alerts.sinks]]` entry adds one."""
    renotify: Duration | None = None
    """Repeat a still-active alert after this long (`12h`, `1d`); unset = never (an alert is
    sent again only when it escalates)."""
    price_spike_pct: float = Field(default=25, gt=0)
    """A fleet's segment median price up more than this many percent against
    `price_spike_epochs` epochs earlier raises `price.spike:<fleet>`."""
    price_spike_epochs: int = Field(default=3, ge=1)
    """How many epochs back the price spike rule compares with."""
    snapshot_failures: int = Field(default=3, ge=1)
    """Failed snapshots in a row tolerated; one more raises `snapshot.failing:api`."""
    runway_hours: float = Field(default=72, gt=0)
    """Where the API reports the account's balance (the cloud generation): a balance that
    lasts fewer hours than this at the current burn rate (every billed VM, disk and IP)
    raises `balance.runway:account` (warning); it turns critical when the balance is
    about to fall under what the API demands before it creates anything (6 hours of
    everything, one more VM included), within one `daemon.plan_interval`."""


class Config(Section):
    mode: Mode = "recommend"
    """What the daemon may do: `observe` snapshots the market and reports, never plans;
    `recommend` also plans and alerts but changes nothing; `act` executes plans (deploys,
    migrates and deletes the fleets' own VMs)."""
    api: ApiConfig = Field(default_factory=ApiConfig)
    """How to reach the Fluence API."""
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    """Where the state (price history, journal, alerts) is stored."""
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    """How long price history is kept."""
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    """The daemon's cycle timings."""
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    """The Prometheus endpoint."""
    fleets: list[FleetConfig] = Field(default_factory=list)
    """The fleets to keep on the cheapest offers; each `[[fleets]]` entry is one."""
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    """The account-wide budget."""
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    """Alert rules and where alerts go."""

    @model_validator(mode="after")
    def _unique_fleets(self) -> Config:
        names = [f.name for f in self.fleets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"fleet names must be unique; repeated: {', '.join(dupes)}")
        limit = max_fleet_name(self.api.generation)
        for i, f in enumerate(self.fleets):
            if limit is not None and len(f.name) > limit:
                raise ValueError(
                    f"fleets[{i}].name: {f.name!r} is too long for the {self.api.generation} "
                    f"API generation: its VMs are named <name>-<token> in at most "
                    f"{limit + 1 + VM_TOKEN_CHARS} characters, so a fleet name has at most {limit}"
                )
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
