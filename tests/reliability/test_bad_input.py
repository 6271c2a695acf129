"""Bad input: invalid config fields, unsafe key files, a database from a newer version or
read-only, hostile strings from the API. Each ends in one clear line (or is neutralized),
never a traceback, never a corrupted database."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from optimizer.cli.main import main
from optimizer.errors import ConfigError, StoreError
from optimizer.executor import journal as jr
from optimizer.fluence.credentials import read_key_file
from optimizer.fluence.models import Vm
from optimizer.store.engine import open_store
from tests.executor.conftest import IMAGE, KEY

BASE = f"""mode = "act"
[api]
base_url = "https://api.fluence.dev"
timeout = "15s"
max_retries = 3
[database]
url = "sqlite:///x.db"
[daemon]
snapshot_interval = "15m"
plan_interval = "1h"
jitter = 0.1
[budget]
max_usd_per_epoch = "5.00"
monthly_usd = "120"
thresholds = [0.5, 0.8, 1.0]
[[fleets]]
name = "web"
instances = 2
os_image = "{IMAGE}"
ssh_keys = ["{KEY}"]
open_ports = [{{ port = 80, protocol = "tcp" }}]
[fleets.constraints]
configurations = ["cpu-2-ram-4gb-storage-25gb"]
countries = ["DE", "FR"]
max_price_per_epoch_usd = "1.20"
[fleets.policy]
min_savings_pct = 10
min_savings_usd_per_epoch = "0.05"
payback_epochs = 3
max_migrations_per_epoch = 1
cooldown_epochs = 2
max_surge = 1
launch_timeout = "20m"
"""

#: (what to replace, replacement, the key path the error must name)
INVALID = [
    ('mode = "act"', 'mode = "yolo"', "mode"),
    ('timeout = "15s"', 'timeout = "soon"', "api.timeout"),
    ("max_retries = 3", "max_retries = 99", "api.max_retries"),
    ('base_url = "https://api.fluence.dev"', "base_url = 42", "api.base_url"),
    ('snapshot_interval = "15m"', 'snapshot_interval = "15 parsecs"', "daemon.snapshot_interval"),
    ("jitter = 0.1", "jitter = 3", "daemon.jitter"),
    ('max_usd_per_epoch = "5.00"', 'max_usd_per_epoch = "-5"', "budget.max_usd_per_epoch"),
    ('monthly_usd = "120"', 'monthly_usd = "lots"', "budget.monthly_usd"),
    ("instances = 2", "instances = -1", "fleets[0].instances"),
    ('name = "web"', 'name = ""', "fleets[0].name"),
    ("port = 80", "port = 70000", "fleets[0].open_ports[0].port"),
    ('protocol = "tcp"', 'protocol = "icmp"', "fleets[0].open_ports[0].protocol"),
    ('countries = ["DE", "FR"]', 'countries = ["DE", "xx"]', "fleets[0].constraints.countries"),
    ('max_price_per_epoch_usd = "1.20"', 'max_price_per_epoch_usd = "1.2.0"',
     "fleets[0].constraints.max_price_per_epoch_usd"),
    ("min_savings_pct = 10", "min_savings_pct = 150", "fleets[0].policy.min_savings_pct"),
    ("payback_epochs = 3", "payback_epochs = 0", "fleets[0].policy.payback_epochs"),
    ("max_surge = 1", "max_surge = -1", "fleets[0].policy.max_surge"),
    ('launch_timeout = "20m"', 'launch_timeout = "never"', "fleets[0].policy.launch_timeout"),
    ("cooldown_epochs = 2", "cooldown_epochs = 2\nsurprise = true", "fleets[0].policy.surprise"),
]  # fmt: skip


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 1), out, err


def test_the_base_config_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "ok.toml"
    cfg.write_text(BASE)
    code, out, _ = _cli(capsys, "-c", str(cfg), "check-config")
    assert code == 0, out


@pytest.mark.parametrize(("old", "new", "path"), INVALID, ids=[c[2] for c in INVALID])
def test_each_invalid_field_is_one_line_naming_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, path: str
) -> None:
    assert old in BASE
    cfg = tmp_path / "bad.toml"
    cfg.write_text(BASE.replace(old, new, 1))
    code, out, err = _cli(capsys, "-c", str(cfg), "check-config")
    assert code == 2, (out, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert str(cfg) in lines[0] and path in lines[0], lines[0]
    assert "Traceback" not in err


def test_broken_toml_is_one_line_with_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "broken.toml"
    cfg.write_text(BASE + "\n[[fleets]\n")
    code, _, err = _cli(capsys, "-c", str(cfg), "check-config")
    assert code == 2 and str(cfg) in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    key = tmp_path / "key"
    key.write_text("secret-api-key-123\n")
    key.chmod(mode)
    with pytest.raises(ConfigError) as exc:
        read_key_file(key)
    msg = str(exc.value)
    assert str(key) in msg and "secret-api-key-123" not in msg
    key.chmod(0o600)
    assert read_key_file(key).reveal() == "secret-api-key-123"


def test_database_from_a_newer_version_is_refused_and_untouched(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    open_store(f"sqlite:///{db}").dispose()
    with sqlite3.connect(db) as con:
        con.execute("UPDATE alembic_version SET version_num = '9999'")
    before = db.read_bytes()
    with pytest.raises(StoreError) as exc:
        open_store(f"sqlite:///{db}")
    assert "newer" in str(exc.value) and "9999" in str(exc.value)
    assert db.read_bytes() == before


def test_read_only_database_gives_a_clear_error_and_stays_intact(tmp_path: Path) -> None:
    """Root ignores file permissions, so the database is opened read-only through SQLite's
    own URI mode (what a read-only mount looks like to SQLite): a journal write fails with
    one StoreError line, and the file still passes integrity_check afterwards."""
    db = tmp_path / "ro.db"
    open_store(f"sqlite:///{db}").dispose()
    ro = sa.create_engine(f"sqlite:///file:{db}?mode=ro&uri=true")
    vm = Vm.model_validate(
        {"id": "0xabc", "vmName": "manual", "status": "Active", "resources": [], "ports": []}
    )
    try:
        with pytest.raises(StoreError) as exc:
            jr.adopt(ro, "web", [vm], ["0xabc"], datetime.now(UTC))
    finally:
        ro.dispose()
    msg = str(exc.value)
    assert "read" in msg.lower() and "\n" not in msg, msg
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("SELECT count(*) FROM fleet_vm").fetchone()[0] == 0


HOSTILE = 'evil\x1b[2J\x07\r\n{"level": "critical"}\u202e<script>x</script>' + "é" * 5000


def test_hostile_vm_names_from_the_api_never_break_logs_or_the_store(tmp_path: Path) -> None:
    """A foreign VM whose name carries terminal escapes, a fake JSON log line, markup and
    5,000 more characters goes through a whole daemon cycle (snapshot, plan, execute,
    alerts): every log line stays one valid JSON object, the tick succeeds, the VM is
    untouched."""
    from optimizer.daemon.service import open_daemon
    from optimizer.sim import SimClock, Simulator
    from tests.daemon.helpers import LogBuffer, make_config

    sim = Simulator(seed=4, clock=SimClock.stepped(), offers=30)
    vm = sim.add_foreign_vm("manual")
    vm.name = HOSTILE
    vm.hostname = HOSTILE
    config = make_config(f"sqlite:///{tmp_path / 'h.db'}")
    buf = LogBuffer()
    with open_daemon(config, clock=sim.clock, transport=sim.transport(), api_key=sim.api_key,
                     install_signals=False, log_stream=buf, log_json=True,
                     metrics=False) as daemon:  # fmt: skip
        result = daemon.once()
    assert not result.failures, result.failures
    lines = [ln for ln in buf.getvalue().splitlines() if ln.strip()]
    assert lines and all(ln.startswith("{") for ln in lines), lines[:3]
    events = buf.events()
    assert len(events) == len(lines)
    assert not any(e.get("level") == "critical" for e in events)
    assert "\x1b" not in buf.getvalue() and "\x07" not in buf.getvalue()
    assert sim.vms[vm.id].status == "Active" and sim.requests.get("delete_vms", 0) == 0
