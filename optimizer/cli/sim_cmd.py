"""CLI commands: `sim serve` — the simulated Fluence API over HTTP on loopback."""

from __future__ import annotations

import ipaddress
import signal
import threading
from datetime import UTC, datetime
from types import FrameType

import typer

from optimizer.errors import ConfigError

sim_app = typer.Typer(
    name="sim",
    help="The embedded Fluence marketplace simulator.",
    no_args_is_help=True,
)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@sim_app.command("serve")
def serve_cmd(
    port: int = typer.Option(8787, "--port", help="TCP port to listen on (0 = any free port)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Loopback address to bind."),
    seed: int = typer.Option(7, "--seed", help="Seed of the synthetic market."),
    offers: int = typer.Option(80, "--offers", help="Number of offers on the market."),
    speed: float = typer.Option(
        1.0, "--speed", help="Simulated seconds per real second (1 = real time)."
    ),
    faults: float = typer.Option(
        0.0, "--faults", help="Probability that a request meets an injected fault (0-1)."
    ),
    key: str | None = typer.Option(
        None, "--key", help="API key to accept (default: derived from the seed, printed)."
    ),
    api: str = typer.Option(
        "marketplace-v3",
        "--api",
        help="API generation to serve: marketplace-v3 (the seeds' API) or cloud (today's).",
    ),
    cloud_spec: str = typer.Option(
        "0.10.0", "--cloud-spec", help="With --api cloud: spec version to speak (0.10.0, 0.8.210)."
    ),
) -> None:
    """Serve the simulated API until Ctrl-C or SIGTERM; print the URL and the key it accepts."""
    from optimizer.sim import FaultConfig, SimClock, SimServer, Simulator
    from optimizer.sim.cloud import SPECS, CloudConfig
    from optimizer.sim.simulator import APIS

    if not _is_loopback(host):
        raise ConfigError(f"--host {host!r}: the simulator only listens on loopback addresses")
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port}: not a TCP port")
    if offers < 1:
        raise ConfigError(f"--offers {offers}: must be at least 1")
    if speed <= 0:
        raise ConfigError(f"--speed {speed:g}: must be > 0")
    if not 0.0 <= faults <= 1.0:
        raise ConfigError(f"--faults {faults:g}: must be a probability between 0 and 1")
    if api not in APIS:
        raise ConfigError(f"--api {api!r}: expected one of {', '.join(APIS)}")
    if cloud_spec not in SPECS:
        raise ConfigError(f"--cloud-spec {cloud_spec!r}: expected one of {', '.join(SPECS)}")
    start = datetime.now(UTC).replace(microsecond=0)
    clock = SimClock.real(start) if speed == 1.0 else SimClock.accelerated(speed, start)
    sim = Simulator(seed=seed, clock=clock, offers=offers, faults=FaultConfig(rate=faults),
                    api_key=key, cloud=CloudConfig(spec=cloud_spec))  # fmt: skip
    try:
        server = SimServer(sim, host, port, api=api)
    except OSError as err:
        raise ConfigError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None

    def _stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = signal.signal(signal.SIGTERM, _stop)
    if api == "cloud":
        points = len(sim.cloud.price_points())
        what = f"cloud API {cloud_spec}, {len(sim.cloud.catalog.clusters)} clusters, "
        what += f"{points} price points"
    else:
        what = f"{len(sim.market.listed())} offers"
    typer.echo(
        f"fluence simulator listening on {server.url} "
        f"(seed {seed}, {what}, speed {speed:g}x, faults {faults:g})"
    )
    typer.echo(f"API key: {sim.api_key}")
    typer.echo(f"try: FLUENCE_API_KEY={sim.api_key} fluence-optimizer --api-url {server.url} "
               "market offers")  # fmt: skip
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.httpd.server_close()
    typer.echo("simulator stopped")


def register(app: typer.Typer) -> None:
    """Add this group's commands to the main app."""
    app.add_typer(sim_app, name="sim")
