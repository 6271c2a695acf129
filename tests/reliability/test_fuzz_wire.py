"""Fuzzing the wire edge: whatever JSON a 200 answer carries, every read call of the client
either returns models or raises the client's own BadResponse — never a KeyError,
TypeError, ValidationError or decimal error escaping into the daemon.

Two generators: arbitrary JSON, and real simulator answers with one value replaced by
arbitrary JSON at a random place (reaches the deep parsing that arbitrary JSON rarely does).
The planner's properties (budget cap, minimum, foreign VMs, determinism) live in
tests/planner/test_planner_properties.py.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.config import ApiConfig
from optimizer.errors import BadResponse
from optimizer.fluence.client import build_client
from optimizer.fluence.models import Constraints
from optimizer.sim import Simulator

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)

CALLS = {
    "list_offers": lambda c: c.list_offers(None),
    "list_vms": lambda c: c.list_vms(),
    "estimate": lambda c: c.estimate(Constraints(), 1),
    "hardware": lambda c: c.hardware(),
    "datacenters": lambda c: c.datacenters(),
    "countries": lambda c: c.countries(),
    "basic_configurations": lambda c: c.basic_configurations(),
    "default_images": lambda c: c.default_images(),
    "ssh_keys": lambda c: c.ssh_keys(),
    "vm_status": lambda c: c.vm_status(["0xabc"]),
}


def _client(body: bytes):  # type: ignore[no-untyped-def]
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    return build_client(
        ApiConfig(base_url="https://api.fluence.dev", max_retries=0),
        transport=httpx.MockTransport(answer),
        api_key="fuzz-key",
        sleep=lambda s: None,
    )


def _call(name: str, body: bytes) -> None:
    client = _client(body)
    try:
        CALLS[name](client)
    except BadResponse:
        pass
    finally:
        client.close()


@pytest.mark.parametrize("name", sorted(CALLS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=JSON)
def test_any_json_parses_or_is_a_bad_response(name: str, doc: Any) -> None:
    _call(name, json.dumps(doc).encode())


def _real_answers() -> dict[str, Any]:
    sim = Simulator(seed=3, offers=5)
    sim.add_foreign_vm("manual")
    out = {}
    for name, (method, path, body) in {
        "list_offers": ("POST", "/marketplace/offers", b"{}"),
        "list_vms": ("GET", "/vms/v3", b""),
        "estimate": ("POST", "/vms/v3/estimate", b'{"constraints": {}, "instances": 1}'),
        "hardware": ("GET", "/marketplace/hardware", b""),
        "datacenters": ("GET", "/v1/marketplace/datacenters", b""),
        "default_images": ("GET", "/vms/v3/default_images", b""),
    }.items():
        resp = sim.handle(method, path, headers={"authorization": f"Bearer {sim.api_key}"},
                          body=body)  # fmt: skip
        if resp.status == 200:
            out[name] = json.loads(resp.body)
    return out


REAL = _real_answers()


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:2]):
            out += _paths(v, (*prefix, i))
    return out


def _replace(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        return {**doc, head: _replace(doc[head], rest, value)}
    copy = list(doc)
    copy[head] = _replace(doc[head], rest, value)
    return copy


@pytest.mark.parametrize("name", sorted(REAL))
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), value=JSON)
def test_real_answers_with_one_value_replaced_parse_or_are_bad_responses(
    name: str, data: st.DataObject, value: Any
) -> None:
    doc = REAL[name]
    path = data.draw(st.sampled_from(_paths(doc)))
    _call(name, json.dumps(_replace(doc, path, value)).encode())


def test_the_real_answers_were_captured() -> None:
    assert {"list_offers", "list_vms", "estimate", "datacenters", "hardware"} <= set(REAL)
