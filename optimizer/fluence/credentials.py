"""Where the API key comes from, and how it is kept out of logs, reprs and errors.

Order of precedence (first one that yields a key wins):
1. an explicit key passed by the caller (tests, `build_client(api_key=...)`);
2. the environment variable `FLUENCE_API_KEY`;
3. the file named by `api.key_file`;
4. the systemd credential `$CREDENTIALS_DIRECTORY/fluence-api-key`.

A key file that group or others can access is refused (ConfigError naming the file and
the fix), wherever it lives: the file itself is checked, not the directory it is in.
Group bits are accepted only when they are the mask of a POSIX ACL granting read access
to this process's user alone, which is how systemd hands a credential to a service
(`LoadCredential=`, `DynamicUser=`). A key that is not one line of visible ASCII (a
newline, a control character, a space) is refused at load time, from any source, so it
can never reach an HTTP header, an error message or the database.
"""

from __future__ import annotations

import json
import os
import re
import stat
import struct
from pathlib import Path
from typing import NoReturn

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

    def __reduce__(self) -> NoReturn:  # pickling would leak the value into files
        raise TypeError("Secret cannot be pickled")


def _credentials_dir() -> Path | None:
    d = os.environ.get("CREDENTIALS_DIRECTORY")
    return Path(d) if d else None


_KEY_RE = re.compile(r"^[\x21-\x7e]+$")  # one token of visible ASCII
_ACL_XATTR = "system.posix_acl_access"
_ACL_USER, _ACL_GROUP_OBJ, _ACL_GROUP = 0x02, 0x04, 0x08


def checked_key(key: str, source: str) -> Secret:
    """`key` (surrounding whitespace stripped) as a Secret; raise ConfigError naming
    `source`, never the key, unless it is one token of visible ASCII."""
    key = key.strip()
    if not key:
        raise ConfigError(f"{source}: the API key is empty")
    if not _KEY_RE.match(key):
        raise ConfigError(
            f"{source}: the key must be a single line of visible ASCII characters "
            "(no spaces, newlines or control characters)"
        )
    return Secret(key)


def private_file_problem(path: Path, st: os.stat_result) -> str | None:
    """Why the file `path` (stat `st`) may be read by someone other than this process's
    user, or None. Others' bits always count; group bits count unless they are only the
    mask of an ACL that grants read access to this user and nobody else (see
    `_acl_grants_only_me`)."""
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o007 or (mode & 0o070 and not _acl_grants_only_me(path)):
        return f"{path} is accessible by group or others (mode {mode:04o}); run: chmod 600 {path}"
    return None


def _acl_grants_only_me(path: Path) -> bool:
    """Whether `path` has a POSIX access ACL whose only grants beyond the owner are to
    this process's user: no group entry, no other user. systemd gives credentials to a
    service that way, and `ls -l` then shows the ACL mask as group bits."""
    try:
        raw = os.getxattr(path, _ACL_XATTR)
    except (OSError, AttributeError):  # no ACL, or no xattr support on this system
        return False
    if len(raw) < 4 or (len(raw) - 4) % 8:
        return False
    me = os.getuid()
    for off in range(4, len(raw), 8):
        tag, perm, ident = struct.unpack_from("<HHI", raw, off)
        if perm and (tag in (_ACL_GROUP_OBJ, _ACL_GROUP) or (tag == _ACL_USER and ident != me)):
            return False
    return True


def read_key_file(path: Path | str, *, check_mode: bool = True) -> Secret:
    """Read a key file (whitespace stripped) into a Secret.

    Raise ConfigError when the file is missing, unreadable, empty, not one token of
    visible ASCII, or (with `check_mode`) accessible by group or others.
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
    if check_mode and (problem := private_file_problem(p, st)):
        raise ConfigError(f"api.key_file: {problem}")
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"api.key_file: {p}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"api.key_file: {p}: not UTF-8 text") from None
    if not text.strip():
        raise ConfigError(f"api.key_file: {p}: file is empty")
    return checked_key(text, f"api.key_file: {p}")


def resolve_api_key(explicit: str | Secret | None = None, key_file: Path | None = None) -> Secret:
    """Return the API key from the first source that has one (see module docstring).

    Raise ConfigError for an unsafe or unreadable key file, AuthError when no source has
    a key at all.
    """
    if isinstance(explicit, Secret):
        return explicit
    if explicit:
        return checked_key(explicit, "the API key given")
    env = os.environ.get(ENV_VAR, "")
    if env.strip():
        return checked_key(env, ENV_VAR)
    if key_file is not None:
        return read_key_file(key_file)
    cred_dir = _credentials_dir()
    if cred_dir is not None:
        cred = cred_dir / CREDENTIAL_NAME
        if cred.exists():
            return read_key_file(cred)  # the file itself is checked, not its directory
    raise AuthError(MISSING_KEY_MESSAGE)


def redact(text: str, secret: Secret | str | None) -> str:
    """Replace every occurrence of the secret in `text` with `***` (for log processors):
    as is, and as rendered inside a Python `repr`, a bytes `repr` or a JSON string (where a
    newline or quote in it is escaped)."""
    if secret is None:
        return text
    value = secret.reveal() if isinstance(secret, Secret) else secret
    if not value:
        return text
    forms = {value, repr(value)[1:-1], json.dumps(value)[1:-1]}
    forms.add(repr(value.encode("utf-8", "backslashreplace"))[2:-1])
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text
