"""Send messages through an SMTP server named by a URL: the standard library's smtplib.

`smtp://user:password@host:port` (plain, port 25), `smtp+starttls://…` (upgraded with
STARTTLS, port 587) and `smtps://…` (TLS from the start, port 465). Certificates are
checked against the system's trust store (SSL_CERT_FILE points elsewhere).
Error texts never carry an address: servers quote recipients in their replies.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
URL_EXPECTED = ("expected smtp://user:password@host:port, smtp+starttls://… or smtps://…; "
                "user and password percent-encoded")
TIMEOUT = 30.0  # seconds for each connection and each read
# The whole conversation of one message (connecting, greeting, login, sending) must end
# within this: smtplib's timeout is per read, so a server that answers a line every few
# seconds and never finishes would otherwise hold a run forever.
MESSAGE_SECONDS = 120.0
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


class _Watchdog:
    """Shuts a connection's socket when a deadline passes, ending any read blocked on it.

    smtplib reads a reply line by line, each read with its own timeout; shutting the
    socket down from another thread is what bounds the conversation as a whole.
    """

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []
        self.expired = False
        self._lock = threading.Lock()

    def watch(self, sock: socket.socket) -> None:
        """Shut this socket too when the deadline passes."""
        with self._lock:
            if self.expired:
                _shut(sock)
            self.sockets.append(sock)

    def expire(self) -> None:
        """The deadline passed: shut every watched socket."""
        with self._lock:
            self.expired = True
            for sock in self.sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    """Shut a socket down both ways, so a blocked recv returns at once."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


class _Watched:
    """Makes smtplib hand the socket it opens (before it reads the greeting) to a watchdog."""

    watchdog: _Watchdog | None = None
    _host: str  # smtplib.SMTP sets it in __init__; typeshed leaves the private name out

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = super()._get_socket(host, port, timeout)  # type: ignore[misc]  # private: not in typeshed
        if self.watchdog is not None:
            self.watchdog.watch(sock)
        return sock


class _SMTP(_Watched, smtplib.SMTP):
    """smtplib.SMTP whose socket a watchdog can shut."""


class _SMTPSSL(_Watched, smtplib.SMTP_SSL):
    """smtplib.SMTP_SSL whose socket a watchdog can shut."""


class Mailer:
    """One SMTP connection for a run, opened on the first message and again after a drop.

    Each message's whole conversation ends within `message_seconds`, and none goes on
    past `until` (a time.monotonic() instant: the run's own deadline), whichever is first.
    """

    def __init__(self, server: Server, message_seconds: float = MESSAGE_SECONDS,
                 until: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.server = server
        self.message_seconds = message_seconds
        self.until = until
        self.clock = clock
        self._smtp: smtplib.SMTP | None = None
        self._watchdog: _Watchdog | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        """Connect, upgrade to TLS if asked, and log in if the URL has a user."""
        server = self.server
        context = ssl.create_default_context()
        smtp: _SMTP | _SMTPSSL
        if server.scheme == "smtps":
            smtp = _SMTPSSL(timeout=TIMEOUT, context=context)
        else:
            smtp = _SMTP(timeout=TIMEOUT)
        smtp.watchdog = self._watchdog
        # What SMTP(host) sets before connecting: TLS checks the certificate against it.
        smtp._host = server.host
        try:
            smtp.connect(server.host, server.port)
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
        """Hand one message to the server within the time limits, or raise MailError saying why not."""
        limit = self.message_seconds
        if self.until is not None:
            limit = min(limit, self.until - self.clock())
        if limit <= 0:
            raise MailError(f"{self.server}: not tried: the run's time limit has passed",
                            server_down=True)
        with self._deadline(limit) as watchdog:
            try:
                self._send(message)
            except MailError:
                if watchdog.expired:
                    raise MailError(f"{self.server}: no complete answer within {limit:.0f} s "
                                    f"(the time limit of one message)", server_down=True) from None
                raise

    @contextmanager
    def _deadline(self, seconds: float) -> Iterator[_Watchdog]:
        """Shut the connection if the conversation inside takes longer than `seconds`."""
        watchdog = _Watchdog()
        self._watchdog = watchdog
        if self._smtp is not None and self._smtp.sock is not None:
            watchdog.watch(self._smtp.sock)
        timer = threading.Timer(seconds, watchdog.expire)
        timer.daemon = True
        timer.start()
        try:
            yield watchdog
        finally:
            timer.cancel()
            self._watchdog = None
            if watchdog.expired:
                self._drop()  # its socket is shut: never reuse it

    def _send(self, message: EmailMessage) -> None:
        """One message over the current (or a new) connection; MailError if it is not taken."""
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

