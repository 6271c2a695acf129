"""Files the daemon writes for its owner alone: the SQLite database, logs, reports.

Under systemd the unit's `UMask=0077` keeps them private; run by hand under the usual
umask 022 they would be readable by every local user. So directories are created 0700
and files 0600 explicitly, whatever the umask, and a file is never written through a
symbolic link planted where it goes: streams refuse the link (`O_NOFOLLOW`), whole files
are written to a fresh temporary file and renamed over the path (which replaces a link
rather than following it, and never leaves a half-written file).
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path
from typing import TextIO

DIR_MODE = 0o700
FILE_MODE = 0o600
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def make_private_dir(path: Path) -> None:
    """Create `path` and its missing parents with mode 0700 (existing ones are left as
    they are). Raise OSError."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(d, DIR_MODE)  # the umask may have taken bits off


def _refuse_special(path: Path) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise OSError(errno.ELOOP, "is a symbolic link; refusing to write through it", str(path))
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, "is not a regular file", str(path))


def open_private(path: Path, *, append: bool = False) -> TextIO:
    """Open `path` for writing text (truncated, or appended to), mode 0600, never through
    a symbolic link nor into a device or pipe. Raise OSError (strerror says why)."""
    _refuse_special(path)
    flags = os.O_WRONLY | os.O_CREAT | _NOFOLLOW | _CLOEXEC
    flags |= os.O_APPEND if append else os.O_TRUNC
    try:
        fd = os.open(path, flags, FILE_MODE)
    except OSError as err:
        if err.errno == errno.ELOOP:  # a link planted between the check and the open
            raise OSError(errno.ELOOP, "is a symbolic link; refusing to write through it") from None
        raise
    try:
        os.fchmod(fd, FILE_MODE)  # an existing file keeps no wider mode
        return os.fdopen(fd, "a" if append else "w", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


def write_private_text(path: Path, text: str) -> None:
    """Write `text` to `path` (mode 0600) atomically: a fresh temporary file next to it,
    renamed over it. A symbolic link at `path` is replaced, its target left untouched.
    Raise OSError; on failure `path` is unchanged."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def create_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 unless something exists there already (so a
    program that opens it next, such as SQLite, inherits the mode). Raise OSError."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)
