"""Send messages through an SMTP server named by a URL: the standard library's smtplib.

`smtp://user:password@host:port` (plain, port 25), `smtp+starttls://…` (upgraded with
STARTTLS, port 587) and `smtps://…` (TLS from the start, port 465). Certificates are
checked against the system's trust store (SSL_CERT_FILE points elsewhere).
Error texts never carry an address: servers quote recipients in their replies.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
URL_EXPECTED = ("expected smtp://user:password@host:port, smtp+starttls://… or smtps://…; "
                "user and password percent-encoded")
TIMEOUT = 30.0  # seconds for each connection and each command
ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>]+>?")


class MailError(Exception):
    """A message was not accepted; the text says why, without any address.

    `server_down` when the server could not be reached or refused the login: the
    messages after it would fail the same way.
    """

    def __init__(self, text: str, server_down: bool = False) -> None:
        super().__init__(text)
        self.server_down = server_down


@dataclass(frozen=True)
class Server:
    """Where and how to send: parsed from CALFEED_SMTP_URL."""

    scheme: str
    host: str
    port: int
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        """The server as a log may show it: no password."""
        return f"{self.scheme}://{self.host}:{self.port}"


def parse_url(url: str) -> Server:
    """A Server from CALFEED_SMTP_URL, or ValueError with a one-line reason (no password in it)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as err:
        raise ValueError(f"CALFEED_SMTP_URL: {err} ({URL_EXPECTED})") from None
    if parts.scheme not in SCHEMES:
        raise ValueError(f"CALFEED_SMTP_URL: unknown scheme {parts.scheme!r} ({URL_EXPECTED})")
    if not parts.hostname:
        raise ValueError(f"CALFEED_SMTP_URL: no host ({URL_EXPECTED})")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"CALFEED_SMTP_URL: a path or query after the host ({URL_EXPECTED})")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return Server(parts.scheme, parts.hostname, port or SCHEMES[parts.scheme], user, password)


def scrub(text: str) -> str:
    """A server's reply with every address in it replaced, fit for one log line."""
    return " ".join(ADDRESS.sub("<address>", text).split())


class Mailer:
    """One SMTP connection for a run, opened on the first message and again after a drop."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        """Connect, upgrade to TLS if asked, and log in if the URL has a user."""
        server = self.server
        context = ssl.create_default_context()
        if server.scheme == "smtps":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(server.host, server.port, timeout=TIMEOUT,
                                                  context=context)
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT)
        try:
            smtp.ehlo()
            if server.scheme == "smtp+starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if server.user is not None:
                smtp.login(server.user, server.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: EmailMessage) -> None:
        """Hand one message to the server, or raise MailError saying why it was not taken."""
        for attempt in (1, 2):
            try:
                if self._smtp is None:
                    self._smtp = self._connect()
                refused = self._smtp.send_message(message)
            except smtplib.SMTPServerDisconnected as err:
                # A server that closed an idle connection: connect again, once.
                self._drop()
                if attempt == 2:
                    raise MailError(f"{self.server}: disconnected: {scrub(str(err))}",
                                    server_down=True) from None
                continue
            except smtplib.SMTPRecipientsRefused as err:
                code, reply = next(iter(err.recipients.values()))
                self._reset()
                raise MailError(f"{self.server}: recipient refused: {code} "
                                f"{scrub(_text(reply))}") from None
            except smtplib.SMTPAuthenticationError as err:
                self._drop()
                raise MailError(f"{self.server}: login refused: {err.smtp_code} "
                                f"{scrub(_text(err.smtp_error))}", server_down=True) from None
            except smtplib.SMTPResponseException as err:
                # 421: the server is closing this connection (many close after so many
                # messages): try once more on a new one. A greeting or EHLO refused, or a
                # second 421: no server to talk to.
                if err.smtp_code == 421 and attempt == 1:
                    self._drop()
                    continue
                down = err.smtp_code == 421 or isinstance(
                    err, (smtplib.SMTPConnectError, smtplib.SMTPHeloError))
                self._drop() if down else self._reset()
                raise MailError(f"{self.server}: refused: {err.smtp_code} "
                                f"{scrub(_text(err.smtp_error))}", server_down=down) from None
            except (OSError, smtplib.SMTPException) as err:  # refused, timed out, TLS, DNS
                self._drop()
                reason = err.strerror if isinstance(err, OSError) and err.strerror else err
                raise MailError(f"{self.server}: {scrub(str(reason)) or type(err).__name__}",
                                server_down=True) from None
            if refused:  # only with several recipients; calfeed sends to one
                raise MailError(f"{self.server}: recipient refused")
            return

    def _reset(self) -> None:
        """After a refused message, make the connection ready for the next one."""
        try:
            if self._smtp is not None:
                self._smtp.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def _drop(self) -> None:
        """Forget a broken connection."""
        if self._smtp is not None:
            try:
                self._smtp.close()
            except OSError:
                pass
            self._smtp = None

    def close(self) -> None:
        """Say QUIT and close."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._drop()


def _text(reply: bytes | str) -> str:
    """A server reply as text."""
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)

