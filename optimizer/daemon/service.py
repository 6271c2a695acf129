"""Assembling a daemon: the one constructor used by `once`, `run` and `demo`.

Production passes nothing special; the demo and tests inject the simulator's
`transport`, `api_key` and `clock`. Nothing downstream can tell the difference.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING

import structlog

from optimizer.clock import Clock, SystemClock
from optimizer.config import Config
from optimizer.cycle import Runtime
from optimizer.daemon.leader import FencedClient, LeaderElector
from optimizer.daemon.lock import InstanceLock
from optimizer.daemon.logging import configure_logging, register_secret
from optimizer.daemon.loop import Daemon
from optimizer.daemon.metrics import Metrics
from optimizer.daemon.notify import Notifier
from optimizer.daemon.signals import Controller
from optimizer.store.fencing import set_fence
from optimizer.urls import is_loopback_host

if TYPE_CHECKING:
    import httpx

log = structlog.get_logger("optimizer.daemon")


@contextlib.contextmanager
def open_daemon(
    config: Config,
    *,
    reload: Callable[[], Config] | None = None,
    clock: Clock | None = None,
    transport: httpx.BaseTransport | None = None,
    api_key: str | None = None,
    install_signals: bool = True,
    notifier: Notifier | None = None,
    log_stream: IO[str] | None = None,
    log_json: bool | None = None,
    log_level: str = "info",
    seed: int | None = None,
    metrics: bool = True,
) -> Iterator[Daemon]:
    """Build a ready-to-run Daemon and clean it up afterwards.

    Order: logging (with the API key registered for redaction) → API client → database
    (`open_store`) → single-instance lock on SQLite (raises InstanceLocked when another
    daemon holds it) → leader elector (PostgreSQL replicas: only the leader plans and
    executes; its writes are fenced by its term) → metrics endpoint (when
    `metrics.listen` is set) → signal handlers.
    """
    from optimizer.fluence.generation import connect, log_generation
    from optimizer.store.engine import open_store

    clock = clock or SystemClock()
    configure_logging(stream=log_stream, json=log_json, level=log_level)
    with contextlib.ExitStack() as stack:
        if log_stream is not None:
            # the caller closes its stream after us: log to stderr again, not into it
            stack.callback(configure_logging, level=log_level)
        client = connect(
            config.api, transport=transport, api_key=api_key, sleep=clock.sleep, defer=True
        )
        stack.callback(client.close)
        secret = getattr(client, "secret", None) or getattr(client, "_secret", None)
        if secret is not None:
            register_secret(secret.reveal())
        engine = open_store(config.database.url)
        stack.callback(engine.dispose)
        if engine.dialect.name != "postgresql":
            # SQLite: one daemon per file; on PostgreSQL replicas elect a leader instead
            lock = InstanceLock(engine).acquire()
            stack.callback(lock.release)
        if client.generation != "auto":
            log_generation(client)  # configured; `auto` logs when the server has answered
        elector = LeaderElector(engine, clock=clock)
        stack.callback(elector.close)
        set_fence(engine, elector.fence)  # every shared-state write checks the term
        stack.callback(set_fence, engine, None)
        m = Metrics()
        elector.on_change = m.set_leader
        if metrics and config.metrics.listen:
            host, port = m.serve(config.metrics.listen)
            stack.callback(m.close)
            log.info("metrics endpoint listening", url=f"http://{host}:{port}/metrics")
            if not is_loopback_host(host):
                log.warning(
                    "the metrics endpoint has no authentication and listens beyond "
                    "loopback: bind it to 127.0.0.1 or put it behind a proxy",
                    listen=config.metrics.listen,
                )
        controller = Controller()
        if install_signals:
            controller.install()
            stack.callback(controller.uninstall)
        note = notifier if notifier is not None else Notifier()
        stack.callback(note.close)
        runtime = Runtime(
            config=config,
            client=FencedClient(client, elector),  # changes to the account need the term
            engine=engine,
            clock=clock,
            metrics=m,
        )
        yield Daemon(
            runtime,
            controller=controller,
            notifier=note,
            reload=reload,
            rng=random.Random(seed),
            elector=elector,
        )
