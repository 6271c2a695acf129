"""Text from outside the daemon (API strings such as VM names, offer fields, error
messages): the one definition of which characters are unsafe to show or store.

Control characters (C0, DEL, C1: terminal escapes start with ESC or CSI), line and
paragraph separators, zero-width characters and bidi overrides/isolates can rewrite a
terminal, forge log lines, hide text or reorder it. `printable` replaces them (for
tables and files), `one_line` turns them into spaces and collapses whitespace (for mail
subjects and single log-like lines).
"""

from __future__ import annotations

import re

UNSAFE_CHARS = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]"
)


def printable(value: object, replacement: str = "\ufffd") -> str:
    """`value` as text with every unsafe character replaced (None → "")."""
    if value is None:
        return ""
    return UNSAFE_CHARS.sub(replacement, str(value))


def one_line(value: object, limit: int | None = None) -> str:
    """`value` on one line: unsafe characters become spaces, runs of whitespace one space,
    cut to `limit` characters (with an ellipsis) when given."""
    s = " ".join(printable(value, " ").split())
    if limit is not None and len(s) > limit:
        s = s[: limit - 1] + "…"
    return s
