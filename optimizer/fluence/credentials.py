"""Where the API key comes from, and how it is kept out of logs, reprs and errors.

Order of precedence (first one that yields a key wins):
1. an explicit key passed by the caller (tests, `build_client(api_key=...)`);
2. the environment variable `FLUENCE_API_KEY`;
3. the file named by `api.key_file`;
4. the systemd credential `$CREDENTIALS_DIRECTORY/fluence-api-key`.

A key file that group or others can read is refused (ConfigError naming the file and the
fix), except under `$CREDENTIALS_DIRECTORY`, whose permissions systemd manages.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from optimizer.errors import AuthError, ConfigError

ENV_VAR = "FLUENCE_API_KEY"
CREDENTIAL_NAME = "fluence-api-key"
MISSING_KEY_MESSAGE = (
    "no API key: set FLUENCE_API_KEY, api.key_file, or a systemd credential fluence-api-key"
)


class Secret:
    """A string that never shows itself: `repr` and `str` are `***`.

    Call `reveal()` at the single place that needs the value (the auth header).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value. Only the HTTP auth header should call this."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> object:  # pickling would leak the value into files
        raise TypeError("Secret cannot be pickled")


def _credentials_dir() -> Path | None:
    d = os.environ.get("CREDENTIALS_DIRECTORY")
    return Path(d) if d else None


def _under(path: Path, directory: Path | None) -> bool:
    if directory is None:
        return False
    try:
        path.resolve().relative_to(directory.resolve())
    except (ValueError, OSError):
        return False
    return True


def read_key_file(path: Path | str, *, check_mode: bool = True) -> Secret:
    """Read a key file (whitespace stripped) into a Secret.

    Raise ConfigError when the file is missing, unreadable, empty, or (with `check_mode`
    and outside $CREDENTIALS_DIRECTORY) readable by group or others.
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ConfigError(f"api.key_file: {p}: file not found") from None
    except OSError as e:
        raise ConfigError(f"api.key_file: {p}: cannot read: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"api.key_file: {p}: not a regular file")
    if check_mode and (st.st_mode & 0o077) and not _under(p, _credentials_dir()):
        raise ConfigError(
            f"api.key_file: {p} is accessible by group or others "
            f"(mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {p}"
        )
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"api.key_file: {p}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"api.key_file: {p}: not UTF-8 text") from None
    key = text.strip()
    if not key:
        raise ConfigError(f"api.key_file: {p}: file is empty")
    if any(c.isspace() for c in key):
        raise ConfigError(f"api.key_file: {p}: the key must be a single line without spaces")
    return Secret(key)


def resolve_api_key(explicit: str | Secret | None = None, key_file: Path | None = None) -> Secret:
    """Return the API key from the first source that has one (see module docstring).

    Raise ConfigError for an unsafe or unreadable key file, AuthError when no source has
    a key at all.
    """
    if isinstance(explicit, Secret):
        return explicit
    if explicit:
        return Secret(explicit.strip())
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Secret(env)
    if key_file is not None:
        return read_key_file(key_file)
    cred_dir = _credentials_dir()
    if cred_dir is not None:
        cred = cred_dir / CREDENTIAL_NAME
        if cred.exists():
            return read_key_file(cred, check_mode=False)
    raise AuthError(MISSING_KEY_MESSAGE)


def redact(text: str, secret: Secret | str | None) -> str:
    """Replace every occurrence of the secret in `text` with `***` (for log processors)."""
    if secret is None:
        return text
    value = secret.reveal() if isinstance(secret, Secret) else secret
    if not value:
        return text
    return text.replace(value, "***")
