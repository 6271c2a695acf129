"""market / vms / ssh-keys commands end to end: the real CLI entry point against the
simulator served over loopback HTTP (in a thread, or `sim serve` in a subprocess)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from optimizer.cli.main import main
from optimizer.fluence.models import Offer
from optimizer.sim import SimServer, Simulator, start_server

pytestmark = pytest.mark.http

PUBKEY = "ssh-ed25519 " + base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519" + bytes(32)).decode()


@pytest.fixture
def sim() -> Simulator:
    return Simulator(seed=5, offers=60)


@pytest.fixture
def server(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimServer]:
    monkeypatch.setenv("FLUENCE_API_KEY", sim.api_key)
    monkeypatch.setenv("COLUMNS", "250")  # wide tables: no cell is cut with an ellipsis
    with start_server(sim) as srv:
        yield srv


def run(server: SimServer, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(["--api-url", server.url, *args])
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    else:
        code = 0
    out = capsys.readouterr()
    return code, out.out, out.err


def test_market_offers_json_is_the_documented_wire_shape_sorted_by_price(
    server: SimServer, sim: Simulator, capsys
) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(server, capsys, "market", "offers", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert isinstance(data, list) and len(data) == len(sim.offers(None))
    for item in data:
        assert {"configuration", "resources", "datacenter", "servers"} <= set(item)
        assert isinstance(item["configuration"]["price"], str)  # money stays a decimal string
        assert "countryCode" in item["datacenter"]
    prices = [Decimal(o["configuration"]["price"]) for o in data]
    assert prices == sorted(prices)
    offers = [Offer.model_validate(o) for o in data]
    assert {o.offer_key for o in offers} == {
        Offer.model_validate(o).offer_key for o in sim.offers(None)
    }


def test_market_offers_filters(server: SimServer, sim: Simulator, capsys) -> None:  # type: ignore[no-untyped-def]
    everything = [Offer.model_validate(o) for o in sim.offers(None)]
    slug = everything[0].configuration.slug
    countries = sorted({o.datacenter.country_code or "" for o in everything})[:2]
    same = sorted(o.price for o in everything if o.configuration.slug == slug)
    cap = same[-1]
    code, out, err = run(
        server, capsys, "market", "offers", "--json", "--configuration", slug,
        "--country", countries[0], "--country", countries[1].lower(), "--max-price", str(cap),
    )  # fmt: skip
    assert code == 0, err
    got = [Offer.model_validate(o) for o in json.loads(out)]
    expected = [
        o for o in everything
        if o.configuration.slug == slug and o.datacenter.country_code in countries
        and o.price <= cap
    ]  # fmt: skip
    assert {o.offer_key for o in got} == {o.offer_key for o in expected}

    hw = sim.market.hardware()
    manufacturer = hw["cpu"][0]["manufacturer"]
    storage = hw["storage"][0]["type"]
    code, out, _ = run(
        server, capsys, "market", "offers", "--json",
        "--cpu-manufacturer", manufacturer, "--storage-type", storage.lower(),
    )  # fmt: skip
    got = [Offer.model_validate(o) for o in json.loads(out)]
    assert code == 0 and got
    for o in got:
        cpu = o.resource("VCPU")
        assert cpu is not None and cpu.metadata.get("manufacturer") == manufacturer


def test_market_offers_table(server: SimServer, sim: Simulator, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(server, capsys, "market", "offers")
    assert code == 0, err
    first = min((Offer.model_validate(o) for o in sim.offers(None)), key=lambda o: o.price)
    assert "USD/epoch" in out and first.configuration.slug in out and first.offer_key in out
    assert f"{len(sim.offers(None))} offer(s)" in err


def test_no_matching_offers_says_so_and_exits_1_as_documented(server: SimServer, capsys) -> None:  # type: ignore[no-untyped-def]
    """README: exit 1 for "no matching offers" (issue 20: it used to exit 0)."""
    code, out, err = run(server, capsys, "market", "offers", "--max-price", "0.000001")
    assert code == 1 and "no offers match" in err and out == ""
    code, out, err = run(server, capsys, "market", "offers", "--country", "AQ", "--json")
    assert code == 1 and json.loads(out) == [] and "no offers match" in err


def test_country_codes_are_case_insensitive(server: SimServer, sim: Simulator, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(server, capsys, "market", "offers", "--country", "de", "--json")
    assert code == 0, err
    assert {o["datacenter"]["countryCode"] for o in json.loads(out)} == {"DE"}


@pytest.mark.parametrize(
    ("command", "expect"),
    [
        ("configurations", lambda sim: sim.market.configurations()),
        ("countries", lambda sim: sim.market.countries()),
        ("datacenters", lambda sim: [d["countryCode"] for d in sim.market.datacenters_wire()]),
        ("hardware", lambda sim: [c["manufacturer"] for c in sim.market.hardware()["cpu"]]),
        ("images", lambda sim: ["Ubuntu 22.04 LTS", "Debian 12"]),
    ],
)
def test_market_discovery_commands(
    server: SimServer, sim: Simulator, capsys, command, expect
) -> None:  # type: ignore[no-untyped-def]
    code, table, err = run(server, capsys, "market", command)
    assert code == 0, err
    code, js, err = run(server, capsys, "market", command, "--json")
    assert code == 0, err
    json.loads(js)
    for text in expect(sim):
        assert text in table and text in js


def test_vms_list_and_status(server: SimServer, sim: Simulator, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(server, capsys, "vms", "list")
    assert code == 0 and "no VMs" in out
    vm = sim.add_foreign_vm("manual-1")
    code, out, _ = run(server, capsys, "vms", "list")
    assert code == 0 and "manual-1" in out and vm.id in out and "Active" in out
    code, out, _ = run(server, capsys, "vms", "list", "--json")
    [item] = json.loads(out)
    assert item["id"] == vm.id and item["vmName"] == "manual-1" and item["status"] == "Active"
    code, out, _ = run(server, capsys, "vms", "list", "--status", "Stopped")
    assert "no VMs" in out
    code, out, _ = run(server, capsys, "vms", "status", vm.id, "--json")
    [st] = json.loads(out)
    assert st["id"] == vm.id and st["status"] == "Active" and st["publicIp"]
    code, out, _ = run(server, capsys, "vms", "status", vm.id)
    assert code == 0 and st["publicIp"] in out


def test_hostile_strings_from_the_api_are_printed_inert(
    server: SimServer, sim: Simulator, capsys
) -> None:  # type: ignore[no-untyped-def]
    """A VM name with rich markup and terminal escapes prints as text, not as styles."""
    vm = sim.add_foreign_vm("manual-2")
    vm.name = "[bold red]pwn[/] [link=http://evil]x[/link]\x1b[2J\x1b]0;title\x07\u202e"
    sim.advance(timedelta(seconds=1))
    code, out, err = run(server, capsys, "vms", "list")
    assert code == 0, err
    assert "[bold red]pwn[/]" in out and "[link=http://evil]x[/link]" in out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    code, out, _ = run(server, capsys, "vms", "list", "--json")
    assert "\x1b" not in out and json.loads(out)[0]["vmName"] == vm.name


def test_ssh_keys_add_list_remove(server: SimServer, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    pub = tmp_path / "id_ed25519.pub"
    pub.write_text(PUBKEY + " ops@laptop\n")
    code, out, err = run(server, capsys, "ssh-keys", "add", "ops", "--file", str(pub))
    assert code == 0, err
    assert out.startswith("added SSH key ops (SHA256:")
    code, out, _ = run(server, capsys, "ssh-keys", "list", "--json")
    [key] = json.loads(out)
    assert key["name"] == "ops" and key["publicKey"].startswith("ssh-ed25519 ")
    code, out, _ = run(server, capsys, "ssh-keys", "list")
    assert "ops" in out and key["fingerprint"] in out
    code, out, err = run(server, capsys, "ssh-keys", "add", "ops2", "--key", PUBKEY)
    assert code == 1 and "already exists" in err  # the API refuses a duplicate (400)
    code, out, _ = run(server, capsys, "ssh-keys", "remove", "ops")  # by name
    assert code == 0 and key["fingerprint"] in out
    code, out, _ = run(server, capsys, "ssh-keys", "list")
    assert "no SSH keys" in out
    code, _, err = run(server, capsys, "ssh-keys", "remove", "ops")
    assert code == 2 and "no stored key named 'ops'" in err


def test_wrong_key_exits_3_with_one_line(server: SimServer, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FLUENCE_API_KEY", "sk-wrong-wrong-wrong")
    code, out, err = run(server, capsys, "market", "offers", "--json")
    assert code == 3 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: Fluence API rejected the API key (403)")


def test_key_never_appears_in_cli_output(
    server: SimServer, sim: Simulator, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "optimizer.toml"
    cfg.write_text("[api]\nmax_retries = 1\n")  # keep the real backoff sleeps short
    sim.add_foreign_vm("manual-3")
    sim.faults.force_next("countries", "server_error", times=10)
    outputs = []
    for args in (
        ["market", "offers"], ["market", "offers", "--json"], ["vms", "list", "--json"],
        ["market", "countries"], ["ssh-keys", "list"],
    ):  # fmt: skip
        outputs.append(run(server, capsys, "--config", str(cfg), *args))
    assert outputs[3][0] == 4  # the 5xx after retries: API unavailable
    for _, out, err in outputs:
        assert sim.api_key not in out + err


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "optimizer", *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_done_when_offers_json_from_sim_serve_subprocess(tmp_path: Path) -> None:
    """`fluence-optimizer sim serve` in one process, the client CLI in another: the
    offers come back as a JSON array; a wrong key exits 3 with one line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "optimizer", "sim", "serve", "--port", "0", "--seed", "7"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = key = None
        for _ in range(10):
            line = proc.stdout.readline()
            if "listening on " in line:
                url = line.split("listening on ", 1)[1].split()[0]
            if line.startswith("API key: "):
                key = line.split(": ", 1)[1].strip()
                break
        assert url and key, "sim serve did not print its URL and key"
        ok = _cli("--api-url", url, "market", "offers", "--json", env={"FLUENCE_API_KEY": key})
        assert ok.returncode == 0, ok.stderr
        offers = [Offer.model_validate(o) for o in json.loads(ok.stdout)]
        assert len(offers) > 10
        assert [o.price for o in offers] == sorted(o.price for o in offers)
        assert key not in ok.stdout + ok.stderr

        bad = _cli(
            "--api-url", url, "market", "offers", "--json", env={"FLUENCE_API_KEY": "nope-123"}
        )
        assert bad.returncode == 3
        assert bad.stdout == ""
        assert bad.stderr.count("\n") == 1 and bad.stderr.startswith("error: ")
        assert "Traceback" not in bad.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_retry_logs_go_to_stderr_never_into_json_stdout(
    server: SimServer, sim: Simulator, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    from optimizer.daemon.logging import is_configured

    fresh = not is_configured()  # the CLI configures logging only when nobody did before
    cfg = tmp_path / "optimizer.toml"
    cfg.write_text('[api]\nmax_retries = 2\ntimeout = "5s"\n')
    sim.faults.force_next("offers", "server_error")
    code, out, err = run(server, capsys, "--config", str(cfg), "market", "offers", "--json")
    assert code == 0, err
    assert len(json.loads(out)) == len(sim.offers(None))
    assert "fluence.retry" not in out
    if fresh:
        assert "fluence.retry" in err and sim.api_key not in err


def test_tables_fit_80_columns_by_leaving_out_columns_and_say_so(
    server: SimServer, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Issue 20: at 80 columns the headers were cut (`USD/epo…`) and CPU names wrapped
    over five lines. Now every line fits, headers are whole, one row per offer, and the
    left-out columns are named (with --json having them all)."""
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = run(server, capsys, "market", "offers")
    assert code == 0, err
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    header = lines[0]
    for name in ("USD/epoch", "Configuration", "Datacenter", "CPU", "Avail"):
        assert name in header, header
    assert "…" not in header
    n_offers = int(err.strip().splitlines()[-1].split()[0])
    assert len(lines) == 2 + n_offers  # header, rule, one line per offer: nothing wraps
    assert "Offer key, RAM, Storage, Tier left out to fit 80 columns" in err
    monkeypatch.setenv("COLUMNS", "250")
    code, out, err = run(server, capsys, "market", "offers")
    assert "Offer key" in out.splitlines()[0] and "left out" not in err
