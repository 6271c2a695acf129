"""Sinks against real local receivers, and queued delivery that never blocks the tick."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine

from optimizer.alerts.delivery import deliver, enqueue, send_now
from optimizer.alerts.model import Alert
from optimizer.alerts.sinks import SinkError
from optimizer.alerts.sinks.command import CommandSink
from optimizer.alerts.sinks.email import EmailSink
from optimizer.alerts.sinks.webhook import WebhookSink
from tests.alerts.helpers import Recorder

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
ALERT = Alert(key="budget.forecast:web", severity="warning", title="Forecast at 80 %",
              text="on course to spend $90", fleet="web", data={"threshold": 0.8},
              fired_at=T0)  # fmt: skip


def test_webhook_posts_json_with_slack_text() -> None:
    with Recorder() as rec:
        WebhookSink("0:webhook", rec.url, 2).send(ALERT)
    (body,) = rec.received
    assert body["text"] == "[FIRING] Forecast at 80 %: on course to spend $90"
    assert body["key"] == "budget.forecast:web" and body["status"] == "firing"
    assert body["data"] == {"threshold": 0.8} and body["fleet"] == "web"
    assert rec.headers[0]["Content-Type"] == "application/json"


def test_webhook_error_status_is_a_failure_without_the_url_path() -> None:
    with Recorder(status=500) as rec, pytest.raises(SinkError) as err:
        WebhookSink("0:webhook", rec.url, 2).send(ALERT)
    assert "HTTP 500" in str(err.value) and "SECRET-TOKEN" not in str(err.value)


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append((envelope.mail_from, envelope.rcpt_tos,
                              envelope.content.decode()))  # fmt: skip
        return "250 OK"


def _cert(tmp: Path) -> tuple[Path, Path]:
    key, crt = tmp / "key.pem", tmp / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(crt), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return crt, key


@pytest.fixture
def smtp(tmp_path: Path):
    crt, key = _cert(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, key)
    inbox = _Inbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=ctx,
                     require_starttls=True)  # fmt: skip
    ctl.start()
    try:
        yield ctl, inbox, crt
    finally:
        ctl.stop()


def test_email_goes_out_over_starttls(smtp) -> None:
    ctl, inbox, crt = smtp
    sink = EmailSink("0:email", host="127.0.0.1", port=ctl.port, sender="opt@example.com",
                     to=["ops@example.com"], timeout=5, ca_file=crt)  # fmt: skip
    sink.send(ALERT)
    (mail_from, rcpt, content) = inbox.messages[0]
    assert mail_from == "opt@example.com" and rcpt == ["ops@example.com"]
    assert "Subject: [fluence-optimizer] [FIRING] Forecast at 80 %" in content
    assert '"key": "budget.forecast:web"' in content


def test_email_without_starttls_support_fails_clearly(smtp) -> None:
    ctl, _, _ = smtp
    sink = EmailSink(
        "0:email", host="127.0.0.1", port=ctl.port, sender="a@b.c", to=["d@e.f"], timeout=5
    )  # fmt: skip  — untrusted self-signed certificate
    with pytest.raises(SinkError, match="TLS failed"):
        sink.send(ALERT)


def test_email_password_file_must_be_private(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("hunter2\n")
    pw.chmod(0o644)
    sink = EmailSink("0:email", host="127.0.0.1", port=1, sender="a@b.c", to=["d@e.f"],
                     timeout=1, username="u", password_file=pw)  # fmt: skip
    with pytest.raises(SinkError, match="chmod 600") as err:
        sink.send(ALERT)
    assert "hunter2" not in str(err.value)


def test_command_gets_alert_json_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "got.json"
    script = f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())"
    CommandSink("0:command", [sys.executable, "-c", script], 10).send(ALERT)
    assert '"status": "firing"' in out.read_text()
    with pytest.raises(SinkError, match="exit 3: boom"):
        boom = "import sys; sys.stderr.write('boom'); sys.exit(3)"
        CommandSink("0:command", [sys.executable, "-c", boom], 10).send(ALERT)


class _Hang:
    """A sink that ignores its own timeout (the worst case for the tick)."""

    def __init__(self, name: str, timeout: float, hang: float) -> None:
        self.name, self.timeout, self.hang = name, timeout, hang
        self.calls = 0

    def send(self, alert: Alert) -> None:
        self.calls += 1
        time.sleep(self.hang)


def test_hung_sink_does_not_hold_the_tick_and_is_retried_with_backoff(engine: Engine) -> None:
    slow = _Hang("0:slow", timeout=0.3, hang=3)
    with Recorder() as rec:
        fast = WebhookSink("1:webhook", rec.url, 2)
        enqueue(engine, [slow, fast], [ALERT], T0)
        t = time.monotonic()
        report = deliver(engine, [slow, fast], T0)
        took = time.monotonic() - t
    assert took < 0.3 + 0.5 + 0.4  # its timeout + the join grace + bookkeeping
    assert report.sent == 1 and report.failed == 1 and len(rec.received) == 1
    assert "timed out" in report.errors[0]
    # not due again until the backoff has passed
    assert deliver(engine, [slow, fast], T0 + timedelta(seconds=10)).sent == 0
    assert slow.calls == 1
    slow.hang = 0
    assert deliver(engine, [slow, fast], T0 + timedelta(seconds=31)).sent == 1
    assert deliver(engine, [slow, fast], T0 + timedelta(hours=2)).pending == 0


def test_a_fast_receiver_gets_every_due_notification_in_one_tick(engine: Engine) -> None:
    """Regression: a sink used to get one notification per tick, because a second send was
    only started if it could finish within one timeout of the start, which after any first
    send it never could."""
    alerts = [
        Alert(
            key=f"fleet.degraded:f{i}",
            severity="warning",
            title=f"fleet f{i}",
            text="x",
            fleet=f"f{i}",
            fired_at=T0,
        )
        for i in range(5)
    ]
    with Recorder() as rec:
        sink = WebhookSink("0:webhook", rec.url, 2)
        enqueue(engine, [sink], alerts, T0)
        report = deliver(engine, [sink], T0)
    assert (report.sent, report.pending) == (5, 0)
    assert sorted(b["key"] for b in rec.received) == sorted(a.key for a in alerts)


def test_failing_webhook_is_retried_until_it_works(engine: Engine) -> None:
    with Recorder(status=503) as rec:
        sink = WebhookSink("0:webhook", rec.url, 2)
        enqueue(engine, [sink], [ALERT, ALERT.with_status("resolved")], T0)
        r1 = deliver(engine, [sink], T0)
        assert (r1.sent, r1.failed, r1.pending) == (0, 1, 2)  # resolved waits behind firing
        rec.status = 200
        deliver(engine, [sink], T0 + timedelta(seconds=30))
        deliver(engine, [sink], T0 + timedelta(seconds=31))
    assert [b["status"] for b in rec.received] == ["firing", "firing", "resolved"]


def test_send_now_reports_a_timeout() -> None:
    t = time.monotonic()
    err = send_now(_Hang("0:slow", timeout=0.2, hang=2), ALERT)
    assert err == "0:slow: timed out after 0.2s" and time.monotonic() - t < 1.5
