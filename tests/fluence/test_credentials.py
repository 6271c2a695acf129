"""Where the API key comes from, and that it is refused when stored unsafely."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from optimizer.errors import AuthError, ConfigError
from optimizer.fluence.credentials import Secret, read_key_file, redact, resolve_api_key

KEY = "sk-cred-test-5e6f7a8b"


def _key_file(path: Path, content: str = KEY + "\n", mode: int = 0o600) -> Path:
    path.write_text(content)
    os.chmod(path, mode)
    return path


def test_precedence_explicit_env_file_credential(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    creds = tmp_path / "creds"
    creds.mkdir()
    _key_file(creds / "fluence-api-key", "from-systemd")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert resolve_api_key().reveal() == "from-systemd"

    key_file = _key_file(tmp_path / "key", "from-file\n")
    assert resolve_api_key(key_file=key_file).reveal() == "from-file"

    monkeypatch.setenv("FLUENCE_API_KEY", " from-env ")
    assert resolve_api_key(key_file=key_file).reveal() == "from-env"

    assert resolve_api_key("explicit", key_file=key_file).reveal() == "explicit"


def test_missing_key_is_a_clear_auth_error() -> None:
    with pytest.raises(AuthError) as info:
        resolve_api_key()
    assert str(info.value) == (
        "no API key: set FLUENCE_API_KEY, api.key_file, or a systemd credential fluence-api-key"
    )
    assert info.value.exit_code == 3


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = _key_file(tmp_path / "key", mode=mode)
    with pytest.raises(ConfigError) as info:
        resolve_api_key(key_file=path)
    msg = str(info.value)
    assert str(path) in msg and f"chmod 600 {path}" in msg
    assert KEY not in msg


def test_credentials_directory_exempts_nothing(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Issue 19: `CREDENTIALS_DIRECTORY` pointing anywhere used to exempt key files from
    the check; now the file itself is checked, in and out of that directory."""
    creds = tmp_path / "creds"
    creds.mkdir()
    path = _key_file(creds / "fluence-api-key", mode=0o644)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    with pytest.raises(ConfigError, match="chmod 600"):
        resolve_api_key()
    with pytest.raises(ConfigError, match="chmod 600"):
        resolve_api_key(key_file=path)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", "/")
    with pytest.raises(ConfigError, match="chmod 600"):
        resolve_api_key(key_file=_key_file(tmp_path / "anywhere", mode=0o640))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "file is empty"),
        ("  \n", "file is empty"),
        ("a b", "single line"),
        ("abc\ndef", "single line"),
        ("abc\x1b[2Jdef", "control characters"),
    ],
)
def test_bad_key_file_contents(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        read_key_file(_key_file(tmp_path / "key", content))


def test_missing_key_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"api.key_file: .*nope: file not found"):
        resolve_api_key(key_file=tmp_path / "nope")


def test_secret_never_shows_itself() -> None:
    s = Secret(KEY)
    for text in (repr(s), str(s), f"{s}", f"{s!r}", f"{s:>40}", repr([s]), repr({"k": s})):
        assert KEY not in text
    assert s.reveal() == KEY
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(s)


def test_redact_replaces_every_occurrence() -> None:
    assert redact(f"a {KEY} b {KEY}", Secret(KEY)) == "a *** b ***"
    assert redact("nothing here", Secret(KEY)) == "nothing here"
    assert redact("x", None) == "x"
