"""`fluence-optimizer sim serve --api cloud`: the cloud face over loopback HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.http
def test_sim_serve_api_cloud_speaks_the_chosen_spec() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "optimizer", "sim", "serve", "--port", "0", "--seed", "3",
         "--key", "k-cloud-1", "--api", "cloud", "--cloud-spec", "0.8.210"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "cloud API 0.8.210" in first and "clusters" in first
        assert proc.stdout.readline().strip() == "API key: k-cloud-1"
        url = first.split("listening on ")[1].split()[0]
        with httpx.Client(base_url=url, headers={"X-API-KEY": "k-cloud-1"}) as client:
            clusters = client.get("/v1/clusters").json()
            assert isinstance(clusters, list) and "dc_id" in clusters[0]  # 0.8.210's shape
            assert client.get("/marketplace/countries").status_code == 404
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "simulator stopped" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--api", "v4"], "error: --api 'v4'"),
        (["--api", "cloud", "--cloud-spec", "1.0"], "error: --cloud-spec '1.0'"),
    ],
)
def test_sim_serve_rejects_an_unknown_api_or_spec(args: list[str], message: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "optimizer", "sim", "serve", "--port", "0", *args],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.strip().startswith(message)
    assert len(out.stderr.strip().splitlines()) == 1
