"""Issue 19, findings 2, 3, 6, 7 and 13: what alert sinks hand on, against real local
receivers (a child process, an HTTP listener, an SMTP server on loopback)."""

from __future__ import annotations

import ast
import email
import email.policy
import os
import sys
import time
from pathlib import Path

import pytest

from optimizer.alerts.model import Alert
from optimizer.alerts.sinks import SinkError, build_sink
from optimizer.alerts.sinks.command import CommandSink
from optimizer.alerts.sinks.email import EmailSink
from optimizer.alerts.sinks.webhook import WebhookSink
from optimizer.config import AlertSink, parse_config
from optimizer.errors import ConfigError
from tests.alerts.helpers import Recorder

HOSTILE_NAME = "<!channel> <https://evil.example/login|Fluence: re-enter your API key>"
ALERT = Alert(
    key="vm.terminated:0xabc",
    severity="warning",
    title=f"VM {HOSTILE_NAME} ended",
    text=f"VM {HOSTILE_NAME} \x1b]0;pwned\x07\x1b[2J@here [click](https://evil.example) & co",
    fleet="web",
    data={"vm_name": HOSTILE_NAME},
)


# -- finding 2: the command sink's environment ------------------------------------------


def test_command_sink_child_gets_no_daemon_secrets(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    creds = tmp_path / "creds"
    creds.mkdir()
    monkeypatch.setenv("FLUENCE_API_KEY", "sk-live-should-not-leak")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    monkeypatch.setenv("PAGER_TEAM", "infra")
    monkeypatch.setenv("UNRELATED", "x")
    out = tmp_path / "env.txt"
    script = f"import os; open({str(out)!r}, 'w').write(repr(sorted(os.environ.items())))"
    command = [sys.executable, "-c", script]
    build_sink(0, AlertSink(kind="command", command=command, pass_env=["PAGER_TEAM"])).send(ALERT)
    env = dict(ast.literal_eval(out.read_text()))
    # Python may add LC_CTYPE for itself in the child; nothing else
    assert set(env) - {"LC_CTYPE"} == {"PATH", "LANG", "PAGER_TEAM"}
    assert env["PAGER_TEAM"] == "infra" and env["PATH"] == os.environ["PATH"]
    assert "sk-live-should-not-leak" not in out.read_text()


@pytest.mark.parametrize("name", ["FLUENCE_API_KEY", "CREDENTIALS_DIRECTORY", "BAD-NAME"])
def test_config_refuses_to_pass_secrets_to_a_command(name: str) -> None:
    sink = {"kind": "command", "command": ["/bin/true"], "pass_env": [name]}
    with pytest.raises(ConfigError, match=r"alerts\.sinks\.0\.pass_env|alerts\.sinks\[0\]"):
        parse_config({"alerts": {"sinks": [sink]}}, "t.toml")


# -- finding 13: a timed-out command's children are killed too ---------------------------


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie waiting for init to reap it is dead


def test_command_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = f"sleep 60 & echo $! > {pidfile}; wait"
    sink = CommandSink("0:command", ["/bin/sh", "-c", script], timeout=1)
    t0 = time.monotonic()
    with pytest.raises(SinkError, match="timed out after 1s"):
        sink.send(ALERT)
    assert time.monotonic() - t0 < 10
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), f"the script's child {child} outlived the timeout"


# -- finding 3: injection into chat and mail --------------------------------------------


def test_webhook_text_cannot_mention_or_spoof_links() -> None:
    with Recorder() as rec:
        WebhookSink("0:webhook", rec.url, 2).send(ALERT)
    (body,) = rec.received
    for field in ("text", "title"):
        shown = body[field]
        assert "<" not in shown and ">" not in shown, shown
        assert "&lt;!channel&gt; &lt;https://evil.example/login|Fluence" in shown
        assert "\x1b" not in shown and "\x07" not in shown
        assert "@here" not in shown and "](" not in shown
    assert "&amp; co" in body["text"]
    # the raw values stay in the structured fields, for programs
    assert body["data"] == {"vm_name": HOSTILE_NAME}
    assert HOSTILE_NAME in body["message"]


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[str] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        self.messages.append(envelope.content.decode())
        return "250 OK"


@pytest.fixture
def plain_smtp():  # type: ignore[no-untyped-def]
    """An SMTP server on loopback without TLS that accepts any login."""
    import socket

    from aiosmtpd.controller import Controller

    inbox = _Inbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        auth_require_tls=False,
        authenticator=lambda *a: __import__("aiosmtpd.smtp").smtp.AuthResult(success=True),
    )
    ctl.start()
    try:
        yield ctl, inbox
    finally:
        ctl.stop()


def test_email_subject_and_body_carry_no_control_characters(plain_smtp) -> None:  # type: ignore[no-untyped-def]
    ctl, inbox = plain_smtp
    sink = EmailSink("0:email", host="127.0.0.1", port=ctl.port, sender="o@example.com",
                     to=["ops@example.com"], timeout=5, starttls=False)  # fmt: skip
    sink.send(ALERT)
    (content,) = inbox.messages
    mail = email.message_from_string(content, policy=email.policy.default)
    subject = str(mail["Subject"])
    assert "\x1b" not in content and "\x07" not in content
    assert "pwned" in subject and "\n" not in subject  # text kept, control characters gone
    assert set(mail.keys()) == {"Subject", "From", "To", "Content-Type",
                                "Content-Transfer-Encoding", "MIME-Version"}  # fmt: skip


# -- finding 6: SMTP login in clear text ------------------------------------------------


def _email(**kw: object) -> dict[str, object]:
    return {"kind": "email", "smtp_host": "smtp.example.com", "sender": "a@b.c",
            "to": ["d@e.f"], "username": "u", **kw}  # fmt: skip


def test_plaintext_smtp_login_to_a_remote_host_is_refused_by_the_config() -> None:
    with pytest.raises(ConfigError, match=r"clear text to smtp\.example\.com"):
        parse_config({"alerts": {"sinks": [_email(starttls=False)]}}, "t.toml")
    # explicit consent, implicit TLS, loopback relays and STARTTLS are accepted
    for ok in (_email(starttls=False, insecure_plaintext_login=True),
               _email(starttls=False, smtp_port=465), _email(starttls=False,
               smtp_host="127.0.0.1"), _email()):  # fmt: skip
        parse_config({"alerts": {"sinks": [ok]}}, "t.toml")


def test_plaintext_login_sink_refuses_before_reading_the_password(tmp_path: Path) -> None:
    """The sink checks too (a sink built without the config's validation)."""
    pw = tmp_path / "pw"
    pw.write_text("hunter2")
    pw.chmod(0o600)
    sink = EmailSink("0:email", host="192.0.2.1", port=25, sender="a@b.c", to=["d@e.f"],
                     timeout=1, starttls=False, username="u", password_file=pw)  # fmt: skip
    with pytest.raises(SinkError, match="refusing to send the SMTP password without TLS"):
        sink.send(ALERT)


class _SeenAsRemote(EmailSink):
    """An email sink that takes its (loopback) relay for a remote host, so the consented
    clear-text path runs against the local test server."""

    plaintext_login = True  # type: ignore[assignment]


def test_consented_plaintext_login_warns_at_every_send(plain_smtp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from structlog.testing import capture_logs

    ctl, inbox = plain_smtp
    pw = tmp_path / "pw"
    pw.write_text("hunter2")
    pw.chmod(0o600)
    sink = _SeenAsRemote("0:email", host="127.0.0.1", port=ctl.port, sender="a@b.c",
                         to=["d@e.f"], timeout=5, starttls=False, username="u",
                         password_file=pw, insecure_plaintext_login=True)  # fmt: skip
    with capture_logs() as logs:
        sink.send(ALERT)
        sink.send(ALERT)
    assert len(inbox.messages) == 2
    assert len([e for e in logs if "clear text" in e["event"]]) == 2
    assert "hunter2" not in str(logs)


# -- finding 7: webhook URLs ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["ftp://hooks.example.com/x", "http://hooks.example.com/T000/B000",
     "https://user:pw@hooks.example.com/x", "not a url", "file:///etc/passwd"],
)  # fmt: skip
def test_webhook_url_must_be_https_except_to_loopback(url: str) -> None:
    with pytest.raises(ConfigError, match=r"url") as err:
        parse_config({"alerts": {"sinks": [{"kind": "webhook", "url": url}]}}, "t.toml")
    assert "B000" not in str(err.value) and "pw@" not in str(err.value)


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/T000/B000", "http://127.0.0.1:8080/hook",
            "http://localhost/hook", "http://[::1]:9000/x"],
)  # fmt: skip
def test_https_and_loopback_webhooks_are_accepted(url: str) -> None:
    parse_config({"alerts": {"sinks": [{"kind": "webhook", "url": url}]}}, "t.toml")
