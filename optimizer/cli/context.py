"""What every command needs, loaded lazily and once: config, API client, database."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from optimizer.config import Config
    from optimizer.fluence.api import FluenceApi


LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("auto", "json", "console")


def check_log_level(value: str) -> str:
    """`--log-level` value → itself (lowercase); ConfigError (exit 2) naming the choices."""
    from optimizer.errors import ConfigError

    if value.lower() not in LOG_LEVELS:
        raise ConfigError(f"--log-level {value!r}: use one of {', '.join(LOG_LEVELS)}")
    return value.lower()


def check_log_format(value: str) -> str:
    """`--log-format` value → itself (lowercase); ConfigError (exit 2) naming the choices."""
    from optimizer.errors import ConfigError

    if value.lower() not in LOG_FORMATS:
        raise ConfigError(f"--log-format {value!r}: use one of {', '.join(LOG_FORMATS)}")
    return value.lower()


def database_url(value: str) -> str:
    """`--database` value → an SQLAlchemy URL: a URL (`scheme://...`) as given, a plain
    path as the SQLite file it names (`/srv/my.db` → `sqlite:////srv/my.db`)."""
    if "://" in value:
        return value
    return "sqlite:///" + str(Path(value).expanduser().absolute())


def refuse_foreign_sqlite(url: str | None) -> None:
    """As root, refuse to open an SQLite database that belongs to another user (the
    service's): the WAL and lock files root would create there stop the service from
    writing. ConfigError naming the way to run the command as the service."""
    import os

    from optimizer.errors import ConfigError
    from optimizer.store.engine import default_url

    url = url or default_url()
    if not url.startswith("sqlite:///") or os.geteuid() != 0:
        return
    path = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
    try:
        owner = path.stat().st_uid
    except OSError:
        return
    if owner != 0:
        raise ConfigError(
            f"{path} belongs to uid {owner} (the service's user) and this command runs as "
            "root, which would leave root-owned files in the daemon's state; run it as the "
            "service: `fluence-optimizer-cli ...` (systemd/fluence-optimizer-cli)"
        )


@dataclass
class AppContext:
    config_path: Path | None = None
    api_url: str | None = None
    database_url: str | None = None
    log_level: str | None = None  # global --log-level (None: the command's default)
    log_format: str | None = None  # global --log-format
    api_generation: str | None = None  # global --api-generation (None: api.generation)
    _config: Config | None = field(default=None, repr=False)
    _client: FluenceApi | None = field(default=None, repr=False)
    _engine: Engine | None = field(default=None, repr=False)

    def resolved_config_path(self) -> Path | None:
        """The file the configuration comes from (None: none found, defaults apply)."""
        from optimizer.config import default_config_path

        return self.config_path or default_config_path()

    def config(self) -> Config:
        if self._config is None:
            from optimizer.config import load_config

            path = self.resolved_config_path()
            cfg = load_config(path)
            if self.api_url:
                cfg.api.base_url = self.api_url
            if self.database_url:
                cfg.database.url = self.database_url
            if self.api_generation:
                cfg.api.generation = self.api_generation  # type: ignore[assignment]
            self._config = cfg
        return self._config

    def client(self) -> FluenceApi:
        """The API client for the generation configured or detected (`--verbose` or
        `--log-level info` logs which)."""
        if self._client is None:
            from optimizer.daemon.logging import (
                configure_logging,
                is_configured,
                register_secret,
            )
            from optimizer.fluence.credentials import resolve_api_key
            from optimizer.fluence.generation import connect, log_generation
            from optimizer.fluence.http import validate_base_url

            api = self.config().api
            validate_base_url(api.base_url)
            # CLI commands log (e.g. API retries) to stderr, never into stdout where
            # `--json` output goes; the key is registered for redaction before any request
            key = resolve_api_key(None, api.key_file)
            if not is_configured():
                configure_logging(
                    level=self.log_level or "warning",
                    stream=_Stderr(),
                    json=self.log_format == "json",
                    secrets=[key.reveal()],
                )
            else:
                register_secret(key.reveal())
            client = connect(api, api_key=key)
            log_generation(client)
            self._client = client
        return self._client

    def close(self) -> None:
        """Release what was built (HTTP connections, database pool); called once when the
        command finishes (registered in `optimizer.cli.main`)."""
        client, self._client = self._client, None
        if client is not None:
            client.close()
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()

    def engine(self) -> Engine:
        if self._engine is None:
            from optimizer.store.engine import open_store

            refuse_foreign_sqlite(self.config().database.url)
            self._engine = open_store(self.config().database.url)
        return self._engine


class _Stderr:
    """Writes to whatever `sys.stderr` is at write time (so output capture keeps working
    when logging was configured earlier in the same process)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()
