"""The API key never appears in logs, exception texts or reprs, even when a server
echoes it back in error bodies."""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest
from structlog.testing import capture_logs

from optimizer.config import ApiConfig
from optimizer.errors import ApiError
from optimizer.fluence.client import build_client
from optimizer.fluence.retry import RetryPolicy

KEY = "sk-leak-canary-4b1d9e0f77"


def test_key_is_absent_from_logs_errors_and_reprs(caplog: pytest.LogCaptureFixture) -> None:
    def echo_server(request: httpx.Request) -> httpx.Response:
        auth = request.headers.get("authorization", "")
        return httpx.Response(503, json={"error": f"overloaded, your header was {auth}"})

    client = build_client(
        ApiConfig(base_url="https://api.example.test"),
        transport=httpx.MockTransport(echo_server),
        api_key=KEY,
        sleep=lambda s: None,
    )
    client.retries = RetryPolicy(max_retries=3, rand=lambda: 0.0)
    caplog.set_level(logging.DEBUG)
    with capture_logs() as logs, pytest.raises(ApiError) as info:
        client.list_vms()
    assert len(logs) == 3  # one warning per retry
    err = info.value
    texts = [
        str(err),
        repr(err),
        repr(err.args),
        repr(err.context),
        "".join(traceback.format_exception(err)),
        repr(logs),
        caplog.text,
        repr(client),
        repr(client.secret),
        repr(client.retries),
    ]
    for text in texts:
        assert KEY not in text
    assert "***" in str(err)
    assert client.secret is not None and client.secret.reveal() == KEY
