"""E-mail through SMTP: :class:`EmailChannel` (``smtplib`` and ``email.message``).

One SMTP session per message (plain text + HTML alternative, optional PNG attachments). SMTP
answers, TLS failures, timeouts and dropped connections are translated into
:class:`~bot.errors.TemporaryError` (retried) or :class:`~bot.errors.ConfigError` (not retried;
``field`` names the setting). The module is named ``smtp`` so it does not shadow the stdlib
``email`` package. Test hook: any SMTP host/port.
"""

from __future__ import annotations

import html as html_lib
import logging
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from bot.errors import ConfigError, TemporaryError
from bot.notify.channels.base import Channel, Message, Redactor, RetryPolicy

log = logging.getLogger(__name__)


class EmailChannel(Channel):
    """E-mail through SMTP (``smtplib``): plain text + HTML alternative, optional PNG attachments.

    Args:
        host, port: the SMTP server (587 for STARTTLS, 465 for SSL, 25 for none).
        security: ``"starttls"`` (upgrade after EHLO), ``"ssl"`` (implicit TLS) or ``"none"``.
        user, password: login, when ``user`` is set (password is secret).
        from_addr: sender address (default: ``user``).
        to_addrs: recipients.
        ssl_context: TLS settings (default: ``ssl.create_default_context()``, which verifies the
            server certificate and host name).

    One SMTP session per message, to all recipients. A missing attachment file is skipped with a
    warning (the e-mail still goes out).
    """

    name = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        to_addrs: Sequence[str],
        from_addr: str = "",
        security: str = "starttls",
        user: str = "",
        password: str = "",
        ssl_context: ssl.SSLContext | None = None,
        retry: RetryPolicy | None = None,
        redact: Redactor | None = None,
    ) -> None:
        super().__init__(retry=retry, redact=redact)
        if security not in ("starttls", "ssl", "none"):
            detail = f"SMTP_SECURITY {security!r} is not starttls, ssl or none"
            raise ConfigError(detail, field="SMTP_SECURITY")
        if not to_addrs:
            raise ConfigError("SMTP_TO: no recipient", field="SMTP_TO")
        self.host = host
        self.port = port
        self.security = security
        self.user = user
        self._password = password
        self.from_addr = from_addr or user
        if not self.from_addr:
            raise ConfigError("SMTP_FROM: no sender address (set SMTP_FROM or SMTP_USER)", field="SMTP_FROM")
        self.to_addrs = tuple(to_addrs)
        self.ssl_context = ssl_context

    def describe(self) -> str:
        """``"email: smtp.example.com:587 (starttls) to 1 address(es)"``."""
        return f"email: {self.host}:{self.port} ({self.security}) to {len(self.to_addrs)} address(es)"

    def build(self, message: Message) -> EmailMessage:
        """The MIME message: multipart/alternative (text, HTML), wrapped in multipart/mixed with PNGs."""
        mail = EmailMessage()
        mail["Subject"] = f"[trading bot] {message.subject}" if message.subject else "[trading bot]"
        mail["From"] = self.from_addr
        mail["To"] = ", ".join(self.to_addrs)
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = make_msgid(domain=self.from_addr.rpartition("@")[2] or None)
        mail.set_content(message.text)
        body_html = message.html or f"<p>{html_lib.escape(message.text).replace(chr(10), '<br>')}</p>"
        mail.add_alternative(f"<html><body>{body_html}</body></html>", subtype="html")
        for path in message.attachments:
            try:
                data = Path(path).read_bytes()
            except OSError as exc:
                log.warning("email: attachment %s skipped (%s)", Path(path).name, type(exc).__name__)
                continue
            mail.add_attachment(data, maintype="image", subtype="png", filename=Path(path).name)
        return mail

    def _send(self, message: Message) -> None:
        mail = self.build(message)
        self._call(lambda: self._deliver(mail), "SMTP send")

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def _deliver(self, mail: EmailMessage) -> None:
        """One SMTP session sending ``mail``; SMTP, TLS and socket errors translated by :func:`_smtp_error`."""
        try:
            self._session(mail)
        except OSError as exc:  # smtplib.SMTPException, ssl.SSLError and TimeoutError are OSErrors
            raise _smtp_error(exc, self.retry.timeout_seconds) from None

    def _session(self, mail: EmailMessage) -> None:
        timeout = self.retry.timeout_seconds
        smtp: smtplib.SMTP
        if self.security == "ssl":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=timeout, context=self._context())
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=timeout)
        with smtp:
            if self.security == "starttls":
                smtp.starttls(context=self._context())
            if self.user:
                smtp.login(self.user, self._password)
            refused = smtp.send_message(mail)
        if refused:
            log.warning("email: %d recipient(s) refused: %s", len(refused), ", ".join(sorted(refused)))


def _smtp_error(exc: OSError, timeout: float) -> ConfigError | TemporaryError:
    """The bot's error for an SMTP session failure (most specific exception class first).

    Args:
        exc: what smtplib, ssl or the socket raised.
        timeout: the session's timeout in seconds (named in the message).

    Returns:
        :class:`~bot.errors.TemporaryError` for 4xx answers, a dropped connection, a timeout or no
        connection; :class:`~bot.errors.ConfigError` (``field`` = the setting to check) otherwise.
    """
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return ConfigError(f"SMTP login refused ({exc.smtp_code})", field="SMTP_PASSWORD")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return ConfigError("SMTP server does not offer STARTTLS or AUTH", field="SMTP_SECURITY")
    if isinstance(exc, (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException)):
        return _smtp_refusal(exc)
    if isinstance(exc, ssl.SSLError):
        return ConfigError(f"TLS with the SMTP server failed ({exc.reason or type(exc).__name__})",
                           field="SMTP_SECURITY")  # fmt: skip
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TemporaryError("SMTP server closed the connection")
    if isinstance(exc, smtplib.SMTPException):  # before OSError: SMTPException is an OSError
        return ConfigError(f"SMTP error ({type(exc).__name__}: {exc})", field="SMTP_HOST")
    if isinstance(exc, TimeoutError):
        return TemporaryError(f"SMTP server did not answer within {timeout:g} s")
    return TemporaryError(f"cannot reach the SMTP server ({type(exc).__name__})")


def _smtp_refusal(
    exc: smtplib.SMTPRecipientsRefused | smtplib.SMTPResponseException,
) -> ConfigError | TemporaryError:
    """A refused recipient list or an SMTP error answer: temporary for 4xx codes, a config error otherwise."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = f"SMTP refused every recipient (codes {sorted(set(codes))})"
        if codes and all(400 <= code < 500 for code in codes):
            return TemporaryError(detail)
        return ConfigError(detail, field="SMTP_TO")
    detail = f"SMTP server answered {exc.smtp_code}"
    if 400 <= exc.smtp_code < 500:
        return TemporaryError(detail)
    return ConfigError(detail, field="SMTP_FROM")
