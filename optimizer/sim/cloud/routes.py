"""The cloud generation's routes: method, path, endpoint name, and the spec versions that
have them. Endpoint names ("cloud.*") are what fault injection and request counts use.

Kept free of heavy imports: the fault injector imports it to know the endpoint names.
"""

from __future__ import annotations

import re

from optimizer.sim.cloud.catalog import SPEC_0_8, SPEC_0_10

UUID = r"(?P<id>[^/]+)"
BOTH = (SPEC_0_8, SPEC_0_10)
NEW = (SPEC_0_10,)


class Route:
    """One route; `{id}` in the path is the resource id."""

    def __init__(self, method: str, path: str, endpoint: str, specs: tuple[str, ...] = BOTH):
        self.method = method
        self.path = path
        self.regex = re.compile("^" + path.replace("{id}", UUID) + "$")
        self.endpoint = endpoint
        self.specs = specs


ROUTES: tuple[Route, ...] = (
    Route("GET", "/v1/service/status", "cloud.service_status"),
    Route("GET", "/v1/clusters", "cloud.clusters"),
    Route("GET", "/v1/clusters/resources", "cloud.clusters_resources", NEW),
    Route("GET", "/v1/clusters/{id}/resources", "cloud.cluster_resources"),
    Route("GET", "/v1/datacenters", "cloud.datacenters"),
    Route("GET", "/v1/configurations/virtual_machines", "cloud.configurations"),
    Route("GET", "/v1/prices/vm", "cloud.prices_vm"),
    Route("GET", "/v1/prices/storage", "cloud.prices_storage"),
    Route("GET", "/v1/prices/public-ip", "cloud.prices_public_ip"),
    Route("POST", "/v1/prices/cost", "cloud.prices_cost"),
    Route("GET", "/v1/storages/default_images", "cloud.default_images"),
    Route("GET", "/v1/storages/types", "cloud.storage_types"),
    Route("GET", "/v2/vms", "cloud.list_vms"),
    Route("POST", "/v2/vms", "cloud.create_vm"),
    Route("GET", "/v2/vms/{id}", "cloud.get_vm", NEW),
    Route("PATCH", "/v2/vms/{id}", "cloud.patch_vm"),
    Route("POST", "/v2/vms/{id}/terminate", "cloud.terminate_vm"),
    Route("POST", "/v2/vms/{id}/restart", "cloud.restart_vm"),
    Route("POST", "/v2/vms/{id}/softreboot", "cloud.softreboot_vm"),
    Route("POST", "/v2/vms/{id}/public_ip/add", "cloud.vm_add_public_ip"),
    Route("POST", "/v2/vms/{id}/public_ip/remove", "cloud.vm_remove_public_ip"),
    Route("POST", "/v2/vms/{id}/storages/add", "cloud.vm_add_storages"),
    Route("POST", "/v2/vms/{id}/storages/remove", "cloud.vm_remove_storages"),
    Route("GET", "/v1/storages", "cloud.list_storages"),
    Route("POST", "/v1/storages", "cloud.create_storage"),
    Route("POST", "/v1/storages/delete", "cloud.delete_storages"),
    Route("GET", "/v1/storages/{id}", "cloud.get_storage", NEW),
    Route("PATCH", "/v1/storages/{id}", "cloud.patch_storage"),
    Route("DELETE", "/v1/storages/{id}", "cloud.delete_storage", NEW),
    Route("GET", "/v1/public_ips", "cloud.list_public_ips"),
    Route("POST", "/v1/public_ips", "cloud.create_public_ip"),
    Route("POST", "/v1/public_ips/delete", "cloud.delete_public_ips"),
    Route("PATCH", "/v1/public_ips/{id}", "cloud.patch_public_ip"),
    Route("DELETE", "/v1/public_ips/{id}", "cloud.delete_public_ip", NEW),
    Route("GET", "/v1/ssh_keys", "cloud.list_ssh_keys"),
    Route("POST", "/v1/ssh_keys", "cloud.add_ssh_key"),
    Route("POST", "/v1/ssh_keys/delete", "cloud.delete_ssh_keys"),
    Route("DELETE", "/v1/ssh_keys/{id}", "cloud.delete_ssh_key", NEW),
    Route("GET", "/v2/users/balances", "cloud.balances"),
    Route("GET", "/v1/billing/charges/total", "cloud.charges_total"),
    Route("GET", "/v1/billing/charges/aggregated", "cloud.charges_aggregated"),
)
ENDPOINTS = tuple(r.endpoint for r in ROUTES)
#: endpoints that change state (a read-only key gets 403; "lost_response" faults apply)
MUTATING = frozenset(
    r.endpoint for r in ROUTES if r.method != "GET" and r.endpoint != "cloud.prices_cost"
)
#: the one route whose spec entry declares no security
NO_AUTH = frozenset({"cloud.service_status"})
