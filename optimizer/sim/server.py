"""The simulator as a real HTTP server (stdlib ThreadingHTTPServer), meant for loopback.

`serve(sim, host, port)` blocks until `shutdown()` (the CLI wires Ctrl-C/SIGTERM to it);
`start_server(sim)` runs one in a background thread for tests and returns a handle with
its `url`. Faults: "timeout" sleeps `faults.config.timeout_sleep` seconds then closes the
connection without an answer; "reset" closes it at once.
"""

from __future__ import annotations

import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from optimizer.sim.simulator import Simulator


def _handler_class(sim: Simulator, api: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "fluence-sim/1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: request lines would only clutter test output."""

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            url = urlsplit(self.path)
            resp = sim.handle(self.command, url.path, query=url.query,
                              headers=dict(self.headers.items()), body=body,
                              api=api)  # fmt: skip
            if resp.drop is not None:
                if resp.drop == "timeout":
                    time.sleep(sim.faults.config.timeout_sleep)
                self.close_connection = True
                return
            self.send_response(resp.status)
            for k, v in resp.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(resp.body)))
            self.end_headers()
            if resp.body and self.command != "HEAD":
                self.wfile.write(resp.body)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-request (killed, timed out) is normal here; anything
        else is a simulator bug and keeps the stdlib's traceback."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class SimServer:
    """A running simulator HTTP server (context manager; `close()` stops it)."""

    def __init__(
        self, sim: Simulator, host: str = "127.0.0.1", port: int = 0, api: str = "marketplace-v3"
    ) -> None:
        self.sim = sim
        self.api = api
        self.httpd = _Server((host, port), _handler_class(sim, api))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        host = self.httpd.server_address[0]
        if isinstance(host, bytes):  # typeshed allows bytes (AF_UNIX); ours is AF_INET
            host = host.decode()
        return f"http://{host}:{self.port}"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def start(self) -> SimServer:
        self._thread = threading.Thread(target=self.serve_forever, name="fluence-sim", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop serving (safe to call from another thread or a signal handler thread)."""
        self.httpd.shutdown()

    def close(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.httpd.server_close()

    def __enter__(self) -> SimServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_server(
    sim: Simulator, host: str = "127.0.0.1", port: int = 0, api: str = "marketplace-v3"
) -> SimServer:
    """Serve `sim`'s `api` face in a background thread; port 0 picks a free port (`.url`)."""
    return SimServer(sim, host, port, api).start()


def serve(
    sim: Simulator, host: str = "127.0.0.1", port: int = 8787, api: str = "marketplace-v3"
) -> None:
    """Serve `sim`'s `api` face in this thread until interrupted."""
    server = SimServer(sim, host, port, api)
    try:
        server.serve_forever()
    finally:
        server.httpd.server_close()
