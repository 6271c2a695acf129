"""What the cloud executor tests share: a fleet of 2 on one configuration in act mode
(`max_surge = 1`), and a client of the cloud simulator's HTTP server that does not retry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from optimizer.config import ApiConfig, Config, parse_config
from optimizer.fluence.api import FluenceApi
from optimizer.fluence.generation import connect
from optimizer.sim import Simulator
from optimizer.sim.server import SimServer

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops"
IMAGE = "https://images.example/ubuntu.img"
SLUG = "cpu-regular-2vcpu-4gb"


def act_config(**daemon: Any) -> Config:
    """Act mode on the cloud generation, fleet `web` of 2 VMs of `SLUG`, one at a time."""
    return parse_config(
        {
            "mode": "act",
            "api": {"generation": "cloud"},
            "daemon": daemon,
            "fleets": [
                {
                    "name": "web",
                    "instances": 2,
                    "os_image": IMAGE,
                    "ssh_keys": [KEY],
                    "constraints": {"configurations": [SLUG]},
                    "policy": {"max_surge": 1, "cooldown_epochs": 0},
                }
            ],
        }
    )


def cloud_client(sim: Simulator, srv: SimServer) -> FluenceApi:
    return connect(
        ApiConfig(base_url=srv.url, generation="cloud", max_retries=0),
        api_key=sim.api_key,
        sleep=lambda s: None,
    )


def cloud_toml(path: Path, url: str, db: str, *, mode: str, instances: int) -> Path:
    """A config file for the CLI: fleet `web` of `instances` VMs on the cloud face at
    `url`, store `db`, in `mode`."""
    path.write_text(
        f"""
mode = "{mode}"
[api]
base_url = "{url}"
generation = "cloud"
[database]
url = "{db}"
[[fleets]]
name = "web"
instances = {instances}
os_image = "{IMAGE}"
ssh_keys = ["{KEY}"]
"""
    )
    return path
