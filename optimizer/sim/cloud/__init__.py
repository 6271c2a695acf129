"""The simulator's second face: the cloud generation of the Fluence API (shared/fluence-cloud-api).

One world, two faces: `sim.cloud` is a `CloudWorld` over the same seed, clock, account,
faults and datacenters as the v3 face. Serve it with `sim.transport(api="cloud")`,
`sim.http_client(api="cloud")` or `start_server(sim, api="cloud")`; pick the spec
version whose wire shapes it speaks with `Simulator(cloud=CloudConfig(spec="0.8.210"))`.
"""

from optimizer.sim.cloud.catalog import SPEC_0_8, SPEC_0_10, SPECS, Catalog, Cluster, Configuration
from optimizer.sim.cloud.errors import CloudError
from optimizer.sim.cloud.resources import CloudPublicIp, CloudSshKey, CloudStorage, CloudVm
from optimizer.sim.cloud.rules import CloudConfig, CloudRules
from optimizer.sim.cloud.world import CloudWorld

__all__ = [
    "SPECS",
    "SPEC_0_8",
    "SPEC_0_10",
    "Catalog",
    "CloudConfig",
    "CloudError",
    "CloudPublicIp",
    "CloudRules",
    "CloudSshKey",
    "CloudStorage",
    "CloudVm",
    "CloudWorld",
    "Cluster",
    "Configuration",
]
