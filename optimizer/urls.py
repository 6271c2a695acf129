"""Which URLs the daemon may talk to: https anywhere, plain http only to loopback.

The same rule for the API base URL and for alert webhooks: an http:// request to another
host can be read and rewritten on the way (webhook paths often embed a token).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback_host(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    h = host.strip("[]").lower().rstrip(".")
    if h in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def http_url_problem(url: str) -> str | None:
    """Why `url` may not be used (not an http(s) URL, credentials in it, plain http to a
    host that is not loopback), or None. The reason never repeats the URL (its path or
    user part may hold a secret)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "is not a URL"
    if parts.scheme not in ("http", "https") or not host:
        return "is not an http(s) URL (write it like https://hooks.example.com/...)"
    if parts.username is not None or parts.password is not None:
        return "must not contain a user name or password"
    if parts.scheme == "http" and not is_loopback_host(host):
        return "plain http:// is only allowed to loopback hosts; use https://"
    return None
