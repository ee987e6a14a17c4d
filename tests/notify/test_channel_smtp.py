"""E-mail (:mod:`bot.notify.channels.smtp`) through smtplib to aiosmtpd: HTML, attachments, STARTTLS and SSL."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from support.channels import Inbox
from support.notify_helpers import FAST, SMTP_PASSWORD, plain_body
from support.server import free_port

from bot.errors import ConfigError
from bot.notify import events
from bot.notify.channels.base import Message
from bot.notify.channels.smtp import EmailChannel
from bot.notify.events import EventKind
from bot.notify.notifier import Notifier, send_test

PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


def test_email_has_plain_html_and_png_attachment(smtp: tuple[Controller, Inbox], tmp_path: Path) -> None:
    controller, inbox = smtp
    chart = tmp_path / "equity.png"
    chart.write_bytes(PNG_BYTES)
    channel = EmailChannel(host="127.0.0.1", port=controller.port, to_addrs=["a@example.com", "b@example.com"],
                           from_addr="bot@example.com", security="none", retry=FAST)  # fmt: skip
    notifier = Notifier([channel])
    notifier.publish(events.daily_summary(text="P&L +10 USD", html="<h1>P&amp;L +10 USD</h1>",
                                          attachments=[chart, tmp_path / "missing.png"]))  # fmt: skip
    assert notifier.close(timeout=5)
    (message,) = inbox.messages
    assert message["Subject"] == "[trading bot] DAILY SUMMARY"
    assert inbox.envelopes == [("bot@example.com", ["a@example.com", "b@example.com"])]
    assert plain_body(message).strip() == "P&L +10 USD"
    html = message.get_body(preferencelist=("html",))
    assert html is not None and "<h1>P&amp;L +10 USD</h1>" in html.get_content()
    attachments = list(message.iter_attachments())
    assert [(a.get_content_type(), a.get_filename()) for a in attachments] == [("image/png", "equity.png")]
    assert attachments[0].get_content() == PNG_BYTES


def _self_signed_cert(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class _Login:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (self.user, self.password)
        return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_email_over_tls_with_login(security: str, tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    inbox = Inbox()
    port = free_port()
    tls_args: dict[str, Any] = (
        {"tls_context": server_ctx, "require_starttls": True} if security == "starttls"
        else {"ssl_context": server_ctx, "auth_require_tls": False}
    )  # fmt: skip
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=_Login("bot", SMTP_PASSWORD),
                            auth_required=True, **tls_args)  # fmt: skip
    controller.start()
    try:

        def channel(password: str) -> EmailChannel:
            return EmailChannel(host="127.0.0.1", port=port, security=security, user="bot", password=password,
                                from_addr="bot@example.com", to_addrs=["t@example.com"], ssl_context=client_ctx,
                                retry=FAST)  # fmt: skip

        good = channel(SMTP_PASSWORD)
        good.send(Message(EventKind.TEST, "TEST", "over tls"))
        assert [plain_body(m).strip() for m in inbox.messages] == ["over tls"]
        assert SMTP_PASSWORD.encode() not in inbox.raw[0]
        assert send_test([channel("wrong-password")]) == {"email": "SMTP login refused (535) (check SMTP_PASSWORD)"}
        # An unverifiable certificate is a configuration problem, not something to retry.
        untrusting = EmailChannel(host="127.0.0.1", port=port, security=security, user="bot",
                                  password=SMTP_PASSWORD, from_addr="bot@example.com", to_addrs=["t@example.com"],
                                  retry=FAST)  # fmt: skip
        with pytest.raises(ConfigError, match="TLS"):
            untrusting.send(Message(EventKind.TEST, "TEST", "x"))
    finally:
        controller.stop()
