"""CLI commands: `ssh-keys list|add|remove` (keys stored in the Fluence account)."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from optimizer.cli.render import JSON_OPTION_HELP, print_json, print_line, print_table, safe
from optimizer.errors import ConfigError

ssh_keys = typer.Typer(
    name="ssh-keys", help="Manage the SSH keys stored in the Fluence account.", no_args_is_help=True
)

_PUBLIC_KEY_RE = re.compile(
    r"^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-[a-z0-9@.-]+) [A-Za-z0-9+/=]+( .*)?$"
)


def is_public_key(text: str) -> bool:
    """True when `text` is one line shaped like an OpenSSH public key."""
    return "\n" not in text.strip() and bool(_PUBLIC_KEY_RE.match(text.strip()))


def read_public_key(key: str | None, file: Path | None) -> str:
    """The public key from `--key` or `--file`; ConfigError (exit 2) when it is missing,
    unreadable, or does not look like an OpenSSH public key (a private key is refused)."""
    if (key is None) == (file is None):
        raise ConfigError("ssh-keys add: give exactly one of --key or --file")
    if file is not None:
        try:
            key = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            reason = getattr(e, "strerror", None) or "not UTF-8 text"
            raise ConfigError(f"ssh-keys add: {file}: cannot read: {reason}") from None
        where = str(file)
    else:
        where = "--key"
    assert key is not None
    text = key.strip()
    if "PRIVATE KEY" in text:
        raise ConfigError(f"ssh-keys add: {where} is a PRIVATE key; give the .pub file")
    if not is_public_key(text):
        raise ConfigError(
            f"ssh-keys add: {where} is not an OpenSSH public key (like 'ssh-ed25519 AAAA... me')"
        )
    return text


@ssh_keys.command("list")
def list_cmd(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=JSON_OPTION_HELP)
) -> None:
    """List the stored SSH keys (name, fingerprint, algorithm, comment)."""
    keys = ctx.obj.client().ssh_keys()
    if as_json:
        print_json(keys)
        return
    print_table(
        ["Name", "Fingerprint", "Algorithm", "Comment", "Active"],
        (
            [k.name, k.fingerprint, k.algorithm, k.comment, "yes" if k.active else "no"]
            for k in keys
        ),
        empty="no SSH keys",
    )


@ssh_keys.command("add")
def add_cmd(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Name to store the key under (letters, digits, -)."),
    key: str | None = typer.Option(None, "--key", help="The public key text."),
    file: Path | None = typer.Option(
        None, "--file", help="A public key file (e.g. ~/.ssh/id_ed25519.pub)."
    ),
) -> None:
    """Store a public key in the account; fleets can then refer to it by name."""
    from optimizer.fluence.models import NAME_RE

    if not NAME_RE.match(name):
        raise ConfigError(f"ssh-keys add: {name!r} is not a valid name (letters, digits, hyphens)")
    public_key = read_public_key(key, file)
    stored = ctx.obj.client().add_ssh_key(name, public_key)
    if stored is not None:
        print_line(f"added SSH key {stored.name} ({stored.fingerprint})")
    else:
        print_line(f"added SSH key {name}")


@ssh_keys.command("remove")
def remove_cmd(
    ctx: typer.Context,
    fingerprint: str = typer.Argument(..., help="Fingerprint (SHA256:...) or the key's name."),
) -> None:
    """Remove a stored key, by fingerprint or by name."""
    client = ctx.obj.client()
    target = fingerprint
    if not fingerprint.startswith("SHA256:") and not fingerprint.startswith("MD5:"):
        matches = [k for k in client.ssh_keys() if k.name == fingerprint]
        if not matches:
            raise ConfigError(f"ssh-keys remove: no stored key named {safe(fingerprint)!r}")
        target = matches[0].fingerprint
    client.remove_ssh_key(target)
    print_line(f"removed SSH key {target}")


def register(app: typer.Typer) -> None:
    """Add this group's commands to the main app."""
    app.add_typer(ssh_keys)
