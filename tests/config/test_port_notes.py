"""`check-config` says when a fleet's `open_ports` cannot be applied: the cloud API
generation has no per-VM port setting, so the ports would silently stay as the VM has them."""

from __future__ import annotations

import pytest

from tests.config.check_cli import check_one_fleet

PORTS = 'open_ports = [{ port = 443, protocol = "tcp" }]'


def test_cloud_fleet_with_open_ports_gets_a_note(tmp_path, capsys) -> None:
    code, out = check_one_fleet(tmp_path, capsys, "cloud", PORTS)
    assert code == 0 and out.startswith("ok: ")
    assert "note: fleets[0].open_ports is not applied: cloud has no per-VM port setting" in out


@pytest.mark.parametrize(
    ("generation", "ports"),
    [("marketplace-v3", PORTS), ("auto", PORTS), ("cloud", "")],
)
def test_no_note_where_ports_are_applied_or_none_are_asked(
    tmp_path, capsys, generation: str, ports: str
) -> None:
    code, out = check_one_fleet(tmp_path, capsys, generation, ports)
    assert code == 0 and "open_ports" not in out
