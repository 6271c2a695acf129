"""A deploy the API rejects for good (a 4xx such as an unknown SSH key name) fails at once,
with the API's message in the journal, the tick line, the alert and `fleets status`; the
tick is "degraded" and `once` exits 6. `check-config` catches the same key beforehand.

The real CLI against the simulator over loopback HTTP (issue 20, item 1)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from optimizer.cli.main import main
from optimizer.errors import ApiError
from optimizer.sim import SimServer, Simulator, start_server
from tests.daemon.helpers import IMAGE, SSH_KEY, LogBuffer

pytestmark = pytest.mark.http

API_SAYS = "is neither a public key nor a stored key name"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """`once` configures process-wide logging onto the captured stderr; undo that so
    later tests do not write to a closed stream."""
    yield
    import logging

    import structlog

    import optimizer.daemon.logging as optimizer_logging

    structlog.reset_defaults()
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_fluence_optimizer", False):
            root.removeHandler(h)
    optimizer_logging._configured = False


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Simulator, SimServer]]:
    sim = Simulator(seed=7, offers=40)
    monkeypatch.setenv("FLUENCE_API_KEY", sim.api_key)
    monkeypatch.setenv("COLUMNS", "250")
    with start_server(sim) as srv:
        yield sim, srv


def _config(tmp_path: Path, url: str, key: str = "ops-ed25519") -> Path:
    p = tmp_path / "optimizer.toml"
    p.write_text(
        f"""mode = "act"
[api]
base_url = "{url}"
max_retries = 0
[database]
url = "sqlite:///{tmp_path / "o.db"}"
[[fleets]]
name = "web"
instances = 2
os_image = "{IMAGE}"
ssh_keys = ["{key}"]
[fleets.constraints]
configurations = ["cpu-2-ram-4gb-storage-25gb"]
"""
    )
    return p


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def test_permanent_means_a_4xx_that_is_not_try_again_later() -> None:
    assert ApiError("x", status=400).permanent and ApiError("x", status=404).permanent
    for status in (408, 409, 425, 429, 500, 503, None):
        assert not ApiError("x", status=status).permanent, status


def test_rejected_deploy_fails_at_once_with_the_api_message_and_once_exits_6(
    server: tuple[Simulator, SimServer], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim, srv = server
    cfg = str(_config(tmp_path, srv.url))
    code, _out, err = _run(capsys, "-c", cfg, "once", "--log-format", "json")
    assert code == 6, err
    lines = LogBuffer(err).events()
    tick = next(e for e in lines if e.get("event") == "tick")
    assert tick["outcome"] == "degraded"
    assert any(API_SAYS in f and f.startswith("execute/web") for f in tick["degraded"])
    # failed at once: one deploy request per action, no redeploys, no VM
    assert sim.requests.get("deploy") == 2
    assert not sim.vms
    alerts = [e for e in lines if e.get("event") == "alert"]
    assert alerts and all(API_SAYS in a["text"] for a in alerts)

    code, out, _ = _run(capsys, "-c", cfg, "fleets", "status")
    assert code == 0
    assert "failed action #1 (deploy" in out and API_SAYS in out

    code, out, _ = _run(capsys, "-c", cfg, "alerts", "list", "--json")
    assert code == 0
    texts = [a.get("text", "") for a in json.loads(out)]
    assert sum(API_SAYS in t for t in texts) == 2, texts


def test_check_config_says_what_each_ssh_key_entry_is(
    server: tuple[Simulator, SimServer],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim, srv = server
    cfg = str(_config(tmp_path, srv.url))
    code, out, err = _run(capsys, "-c", cfg, "check-config")
    assert code == 2
    assert "'ops-ed25519' is neither a public key nor a key name stored in the account" in err
    assert "fleets[0].ssh_keys[0]" in err and "ssh-keys add ops-ed25519" in err
    assert out.startswith("invalid:")

    sim.add_ssh_key("ops-ed25519", SSH_KEY)
    code, out, err = _run(capsys, "-c", cfg, "check-config")
    assert code == 0, err
    assert "a key name stored in the account" in out

    monkeypatch.delenv("FLUENCE_API_KEY")
    code, out, err = _run(capsys, "-c", cfg, "check-config")
    assert code == 0, err
    assert "no API key, so not looked up in the account" in out

    cfg = str(_config(tmp_path, srv.url, key=SSH_KEY))
    code, out, err = _run(capsys, "-c", cfg, "check-config")
    assert code == 0 and "a public key (ssh-ed25519)" in out, err
