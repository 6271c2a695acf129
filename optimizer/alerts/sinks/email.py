"""The email sink: SMTP with STARTTLS (on by default; port 465 uses implicit TLS),
optional login. A login without TLS to a host other than loopback is refused unless
`insecure_plaintext_login = true` (then every such login logs a warning).

The password comes from `password_file`, else from the systemd credential
`$CREDENTIALS_DIRECTORY/smtp-password`; either file must be private to this user (as for
the API key file: `optimizer.fluence.credentials.private_file_problem`). It is read at
send time and never logged.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

import structlog

from optimizer.alerts.model import Alert
from optimizer.alerts.sinks import SinkError
from optimizer.config import AlertSink
from optimizer.fluence.credentials import private_file_problem
from optimizer.untrusted import one_line, printable
from optimizer.urls import is_loopback_host

log = structlog.get_logger("optimizer.alerts")

CREDENTIAL_NAME = "smtp-password"


def read_password(path: Path | None) -> str:
    """The SMTP password from `path` or `$CREDENTIALS_DIRECTORY/smtp-password`.

    Raise SinkError (naming the file, never the content) when there is none or the file
    is unsafe."""
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if path is None:
        if not cred_dir or not (Path(cred_dir) / CREDENTIAL_NAME).exists():
            raise SinkError(
                "email: `username` is set but there is no password "
                f"(set password_file or a systemd credential {CREDENTIAL_NAME})"
            )
        path = Path(cred_dir) / CREDENTIAL_NAME
    try:
        st = path.stat()
        if problem := private_file_problem(path, st):  # wherever it lives
            raise SinkError(f"email: password file {problem}")
        text = path.read_text(encoding="utf-8").strip("\r\n")
    except OSError as e:
        raise SinkError(f"email: password file {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise SinkError(f"email: password file {path}: not UTF-8 text") from None
    if not text:
        raise SinkError(f"email: password file {path} is empty")
    return text


class EmailSink:
    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        sender: str,
        to: list[str],
        timeout: float,
        starttls: bool = True,
        username: str | None = None,
        password_file: Path | None = None,
        ca_file: Path | None = None,
        insecure_plaintext_login: bool = False,
    ) -> None:
        self.name = name
        self.host, self.port = host, port
        self.sender, self.to = sender, list(to)
        self.timeout = timeout
        self.starttls = starttls
        self.username = username
        self.password_file = password_file
        self.ca_file = ca_file
        self.insecure_plaintext_login = insecure_plaintext_login

    @property
    def plaintext_login(self) -> bool:
        """Whether a login would cross the network unencrypted (no STARTTLS, no implicit
        TLS, a host other than loopback)."""
        return not self.starttls and self.port != 465 and not is_loopback_host(self.host)

    @classmethod
    def from_spec(cls, name: str, spec: AlertSink) -> EmailSink:
        assert spec.smtp_host and spec.sender
        return cls(
            name,
            host=spec.smtp_host,
            port=spec.smtp_port,
            sender=spec.sender,
            to=spec.to,
            timeout=spec.timeout.total_seconds(),
            starttls=spec.starttls,
            username=spec.username,
            password_file=spec.password_file,
            ca_file=spec.ca_file,
            insecure_plaintext_login=spec.insecure_plaintext_login,
        )

    def message(self, alert: Alert) -> EmailMessage:
        """The mail for `alert`. Its text holds API strings: the subject is one line with
        every control character removed (no header injection, no terminal escapes), the
        body's lines are made printable, and the JSON part escapes them."""
        msg = EmailMessage()
        msg["Subject"] = one_line(f"[fluence-optimizer] {alert.summary()}")[:200]
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to)
        lines = [alert.summary(), ""]
        lines += [f"key: {alert.key}", f"severity: {alert.severity}"]
        if alert.fleet:
            lines.append(f"fleet: {alert.fleet}")
        if alert.fired_at:
            lines.append(f"fired at: {alert.fired_at.isoformat()}")
        body = "\n".join(printable(line) for line in lines)
        msg.set_content(body + "\n\n" + alert.to_json())  # json.dumps escapes controls
        return msg

    def send(self, alert: Alert) -> None:
        """Send one mail; raise SinkError on any SMTP, TLS or network failure."""
        where = f"email {self.host}:{self.port}"
        if self.username and self.plaintext_login and not self.insecure_plaintext_login:
            raise SinkError(
                f"{where}: refusing to send the SMTP password without TLS "
                "(starttls = false; see insecure_plaintext_login)"
            )
        password = read_password(self.password_file) if self.username else None
        try:
            ctx = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
            if self.port == 465:  # implicit TLS ("SMTPS")
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=ctx
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                smtp.ehlo()
                if self.starttls and self.port != 465:
                    smtp.starttls(context=ctx)
                    smtp.ehlo()
                if self.username and password is not None:
                    if self.plaintext_login:
                        log.warning(
                            "SMTP login without TLS: the password crosses the network "
                            "in clear text (insecure_plaintext_login = true)",
                            sink=self.name,
                            host=self.host,
                        )
                    smtp.login(self.username, password)
                smtp.send_message(self.message(alert))
        except TimeoutError:
            raise SinkError(f"{where}: timed out after {self.timeout:g}s") from None
        except smtplib.SMTPAuthenticationError as e:
            raise SinkError(f"{where}: login refused ({e.smtp_code})") from None
        except smtplib.SMTPNotSupportedError:
            raise SinkError(f"{where}: the server does not offer STARTTLS") from None
        except smtplib.SMTPException as e:
            raise SinkError(f"{where}: {type(e).__name__}: {str(e)[:160]}") from None
        except ssl.SSLError as e:
            raise SinkError(f"{where}: TLS failed: {e.reason or e}") from None
        except OSError as e:
            raise SinkError(f"{where}: {e.strerror or type(e).__name__}") from None
