"""Issue 19, finding 8 and "Also": a malformed API key and where key files may live.

A key with a newline used to leak whole into the CLI error and into `snapshot.error`
(redaction missed its repr). Now it is refused at load time, naming its source and
never the key; redaction covers escaped renderings; and a key file is checked itself,
wherever it lives (only systemd's kind of ACL excuses group bits).
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest
import sqlalchemy as sa

from optimizer.cli.main import main
from optimizer.errors import ConfigError
from optimizer.fluence.credentials import Secret, read_key_file, redact, resolve_api_key
from optimizer.sim import SimClock, Simulator, start_server

BAD_KEY = "sk-live-4f1b\nX-Injected: yes"


def _run(capsys, *args: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out = capsys.readouterr()
    return code, out.out + out.err


def test_key_with_a_newline_is_refused_before_any_request(
    tmp_path: Path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    sim = Simulator(seed=5, offers=5, clock=SimClock.stepped())
    db = tmp_path / "o.db"
    monkeypatch.setenv("FLUENCE_API_KEY", BAD_KEY)
    with start_server(sim) as server:
        code, printed = _run(capsys, "--api-url", server.url, "--database", f"sqlite:///{db}",
                             "snapshot")  # fmt: skip
    assert code == 2
    assert "FLUENCE_API_KEY: the key must be a single line" in printed
    assert "sk-live" not in printed and "Injected" not in printed
    assert len(printed.strip().splitlines()) == 1  # one line, no traceback
    assert not sim.requests  # nothing was sent
    if db.exists():  # nothing about the key in the database either
        engine = sa.create_engine(f"sqlite:///{db}")
        with engine.connect() as conn:
            errors = conn.exec_driver_sql("SELECT error FROM snapshot").scalars().all()
        engine.dispose()
        assert not any("sk-live" in (e or "") for e in errors)


@pytest.mark.parametrize("key", [BAD_KEY, "tab\tkey", "esc\x1bkey", "nul\x00key", "kéy"])
def test_every_source_refuses_a_key_that_is_not_one_visible_token(
    tmp_path: Path, monkeypatch, key: str
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as err:
        resolve_api_key(key)
    assert key not in str(err.value)
    if "\x00" not in key:  # (an environment variable cannot hold NUL)
        monkeypatch.setenv("FLUENCE_API_KEY", key)
        with pytest.raises(ConfigError):
            resolve_api_key()
        monkeypatch.delenv("FLUENCE_API_KEY")
    path = tmp_path / "key"
    path.write_bytes(key.encode())
    path.chmod(0o600)
    with pytest.raises(ConfigError) as err:
        read_key_file(path)
    assert key not in str(err.value)


def test_redaction_covers_repr_bytes_and_json_renderings() -> None:
    key = 'sk-"quoted"\\slash\nline'
    for rendering in (key, repr(key), json.dumps(key), repr(key.encode()), str([key])):
        out = redact(f"Invalid header value {rendering}!", Secret(key))
        assert "quoted" not in out and "slash" not in out, out


# -- "Also": the file itself is checked -----------------------------------------------------

_USER_OBJ, _USER, _GROUP_OBJ, _GROUP, _MASK, _OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
_ANY = 0xFFFFFFFF


def _set_acl(path: Path, entries: list[tuple[int, int, int]]) -> None:
    """Write a POSIX access ACL (the kernel's xattr format) like setfacl would."""
    entries = sorted(entries, key=lambda e: (e[0], e[2]))  # the kernel wants tag, id order
    data = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)
    try:
        os.setxattr(path, "system.posix_acl_access", data)
    except OSError as err:  # a file system without ACLs
        pytest.skip(f"no POSIX ACLs here: {err.strerror}")


def _key(path: Path) -> Path:
    path.write_text("sk-acl-test\n")
    path.chmod(0o600)
    return path


def test_systemd_style_acl_for_this_user_alone_is_accepted(tmp_path: Path) -> None:
    """systemd hands a credential as a root-owned 0400 file plus an ACL entry granting
    the service user read; `ls -l` then shows the ACL mask as group bits (0440)."""
    path = _key(tmp_path / "fluence-api-key")
    me = os.getuid()
    _set_acl(path, [(_USER_OBJ, 4, _ANY), (_USER, 4, me), (_GROUP_OBJ, 0, _ANY),
                    (_MASK, 4, _ANY), (_OTHER, 0, _ANY)])  # fmt: skip
    assert path.stat().st_mode & 0o040  # group bits show
    assert read_key_file(path).reveal() == "sk-acl-test"


@pytest.mark.parametrize(
    "extra",
    [[(_GROUP, 4, 100)], [(_USER, 4, 4242)]],
    ids=["a group", "another user"],
)
def test_acl_granting_anyone_else_is_refused(tmp_path: Path, extra: list) -> None:  # type: ignore[type-arg]
    path = _key(tmp_path / "fluence-api-key")
    me = os.getuid()
    _set_acl(path, [(_USER_OBJ, 6, _ANY), (_USER, 4, me), *extra, (_GROUP_OBJ, 0, _ANY),
                    (_MASK, 4, _ANY), (_OTHER, 0, _ANY)])  # fmt: skip
    with pytest.raises(ConfigError, match="chmod 600"):
        read_key_file(path)
