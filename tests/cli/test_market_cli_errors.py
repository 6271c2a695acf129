"""CLI failures that need no server: bad option values, missing or unsafe keys, unsafe
URLs. Each prints ONE `error:` line and exits with the documented code."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from optimizer.cli.main import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    else:
        code = 0
    out = capsys.readouterr()
    return code, out.out, out.err


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    return lines[0]


def test_missing_key_exits_3_with_one_line(capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(["--api-url", "http://127.0.0.1:9", "market", "countries"], capsys)
    assert code == 3
    assert out == ""
    assert "no API key" in _one_error_line(err)


def test_insecure_key_file_exits_2_naming_the_fix(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    key = tmp_path / "key"
    key.write_text("sk-cli-secret-key-123\n")
    os.chmod(key, 0o644)
    cfg = tmp_path / "optimizer.toml"
    cfg.write_text(f'[api]\nbase_url = "http://127.0.0.1:9"\nkey_file = "{key}"\n')
    code, out, err = run(["--config", str(cfg), "market", "countries"], capsys)
    assert code == 2
    line = _one_error_line(err)
    assert f"chmod 600 {key}" in line
    assert "sk-cli-secret-key-123" not in out + err


def test_plain_http_to_a_remote_host_exits_2(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FLUENCE_API_KEY", "sk-remote-123")
    code, _, err = run(["--api-url", "http://api.fluence.dev", "market", "countries"], capsys)
    assert code == 2
    assert "plain http:// is only allowed for loopback hosts" in _one_error_line(err)


def test_unreachable_api_exits_4(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FLUENCE_API_KEY", "sk-unreachable-123")
    with socket.socket() as s:  # a free loopback port that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp_path / "optimizer.toml"
    cfg.write_text(f'[api]\nbase_url = "http://127.0.0.1:{port}"\nmax_retries = 0\n')
    code, _, err = run(["--config", str(cfg), "market", "countries"], capsys)
    assert code == 4
    line = _one_error_line(err)
    assert "cannot reach the Fluence API" in line and "GET /marketplace/countries" in line


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--max-price", "cheap"], "--max-price: 'cheap' is not an amount in USD"),
        (["--max-price", "-1"], "--max-price: must be greater than 0"),
        (["--country", "FRA"], "--country: 'FRA' is not an ISO 3166-1 country code (use FR)"),
        (["--country", "UK"], "--country: 'UK' is not an ISO 3166-1 country code (use GB)"),
        (["--country", "XX"], "--country: 'XX' is not an ISO 3166-1 alpha-2 country code"),
        (["--configuration", "big"], "--configuration: 'big' is not a configuration slug"),
        (["--storage-type", "tape"], "--storage-type: 'tape' is not one of HDD, SSD, NVMe"),
    ],
)
def test_bad_filter_values_exit_2_before_any_request(args, needle, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FLUENCE_API_KEY", "sk-x")
    code, _, err = run(["--api-url", "http://127.0.0.1:9", "market", "offers", *args], capsys)
    assert code == 2
    assert needle in _one_error_line(err)


def test_ssh_key_add_refuses_private_keys(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FLUENCE_API_KEY", "sk-x")
    priv = tmp_path / "id_ed25519"
    priv.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n")
    code, _, err = run(
        ["--api-url", "http://127.0.0.1:9", "ssh-keys", "add", "ops", "--file", str(priv)], capsys
    )
    assert code == 2
    assert "PRIVATE key" in _one_error_line(err)
