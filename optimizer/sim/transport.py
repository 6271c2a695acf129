"""In-process httpx transport: the fastest way for tests to talk to the simulator."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from optimizer.sim.simulator import Simulator


class SimTransport(httpx.BaseTransport):
    """Serve httpx requests from a Simulator without sockets.

    A "timeout" fault raises httpx.ReadTimeout and a "reset" fault httpx.ReadError, the
    exceptions a real connection would raise.
    """

    def __init__(self, sim: Simulator, api: str = "marketplace-v3") -> None:
        self.sim = sim
        self.api = api

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        resp = self.sim.handle(
            request.method,
            request.url.path,
            query=request.url.query.decode("ascii", "replace"),
            headers=dict(request.headers.items()),
            body=body,
            api=self.api,
        )
        if resp.drop == "timeout":
            raise httpx.ReadTimeout("simulated timeout: no response", request=request)
        if resp.drop == "reset":
            raise httpx.ReadError("simulated connection reset by peer", request=request)
        return httpx.Response(resp.status, headers=resp.headers, content=resp.body,
                              request=request)  # fmt: skip
