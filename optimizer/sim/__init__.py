"""The simulated Fluence marketplace: a faithful fake of the API in shared/fluence-api.md.

sim = Simulator(seed=7, clock=SimClock.stepped(), offers=80, faults=FaultConfig())
client = httpx.Client(base_url="http://sim", transport=sim.transport(), ...)
with start_server(sim) as server: ...        # real HTTP on loopback, server.url
sim.advance(timedelta(hours=1))               # prices move, VMs launch, billing runs
"""

from optimizer.sim.clock import DEFAULT_START, SimClock
from optimizer.sim.faults import FaultConfig, FaultInjector
from optimizer.sim.market import Dynamics, SimMarket, SimOffer
from optimizer.sim.server import SimServer, serve, start_server
from optimizer.sim.simulator import SimConfig, SimError, Simulator
from optimizer.sim.transport import SimTransport
from optimizer.sim.vms import Account, LedgerEntry, SimVm

__all__ = [
    "DEFAULT_START",
    "Account",
    "Dynamics",
    "FaultConfig",
    "FaultInjector",
    "LedgerEntry",
    "SimClock",
    "SimConfig",
    "SimError",
    "SimMarket",
    "SimOffer",
    "SimServer",
    "SimTransport",
    "SimVm",
    "Simulator",
    "serve",
    "start_server",
]
