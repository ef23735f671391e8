"""mail.smtp against real SMTP servers (aiosmtpd requiring AUTH, plain, STARTTLS and implicit TLS)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from mail.errors import MailboxAuthError, MailboxUnreachable, RecipientRefused
from mail.outbound import build_message
from mail.secrets import parse_mail_url
from mail.smtp import send
from tests.mailservers import AuthSmtpServer, Tls, free_port, self_signed_tls

USER, PASSWORD = "sam@outbound.test", "smtp-pass-1"
# The plain and implicit-TLS servers allow AUTH without STARTTLS, on purpose; aiosmtpd warns about it.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return self_signed_tls(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture
def plain() -> Iterator[AuthSmtpServer]:
    with AuthSmtpServer(USER, PASSWORD) as server:
        yield server


@pytest.fixture
def starttls(certs: Tls) -> Iterator[AuthSmtpServer]:
    with AuthSmtpServer(USER, PASSWORD, tls="starttls", certs=certs) as server:
        yield server


@pytest.fixture
def implicit(certs: Tls) -> Iterator[AuthSmtpServer]:
    with AuthSmtpServer(USER, PASSWORD, tls="implicit", certs=certs) as server:
        yield server


def message(to: str = "jane.doe@example.com") -> EmailMessage:
    return build_message(
        sender=USER,
        to=to,
        subject="Quick question",
        text="Hi Jane, https://acme.example/ {{unsubscribeUrl}}",
        lead_id=1,
        step_id=2,
        public_url="http://127.0.0.1:8000",
        secret="s" * 32,
    )


async def test_sends_with_auth_and_returns_once_accepted(plain: AuthSmtpServer) -> None:
    email = message()
    accepted = await send(parse_mail_url(plain.url()), email, command_timeout=10)
    assert accepted.message_id == email["Message-ID"]
    assert accepted.response.startswith("2.0.0 Ok") or "queued" in accepted.response
    [received] = plain.messages
    assert received.login == USER
    assert received.rcpt_tos == ["jane.doe@example.com"] and received.mail_from == USER
    assert received.tls is False  # a server without STARTTLS: plain, as smtp:// allows
    assert received.message["Message-ID"] == email["Message-ID"]
    assert received.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_wrong_password_is_an_auth_error(plain: AuthSmtpServer) -> None:
    with pytest.raises(MailboxAuthError) as caught:
        await send(parse_mail_url(plain.url(password="wrong-pass")), message(), command_timeout=10)
    assert "wrong-pass" not in str(caught.value)
    assert plain.messages == [] and (plain.logins and plain.logins[-1][1] is False)


async def test_no_credentials_on_a_server_that_requires_auth_is_an_auth_error(plain: AuthSmtpServer) -> None:
    with pytest.raises(MailboxAuthError):
        await send(parse_mail_url(f"smtp://127.0.0.1:{plain.port}"), message(), command_timeout=10)
    assert plain.messages == []


async def test_refused_recipient(plain: AuthSmtpServer) -> None:
    plain.refuse("nobody@example.com")
    with pytest.raises(RecipientRefused) as caught:
        await send(parse_mail_url(plain.url()), message(to="nobody@example.com"), command_timeout=10)
    assert caught.value.code == 550 and caught.value.recipient == "nobody@example.com"
    assert plain.messages == []


async def test_starttls_is_used_when_offered(starttls: AuthSmtpServer, certs: Tls) -> None:
    # The server refuses AUTH (and everything else) before STARTTLS: acceptance proves the upgrade.
    await send(parse_mail_url(starttls.url()), message(), command_timeout=10, tls_context=certs.client)
    [received] = starttls.messages
    assert received.tls is True and received.login == USER


async def test_starttls_with_an_untrusted_certificate_is_unreachable(starttls: AuthSmtpServer) -> None:
    with pytest.raises(MailboxUnreachable):
        await send(
            parse_mail_url(starttls.url()), message(), command_timeout=10, tls_context=ssl.create_default_context()
        )
    assert starttls.messages == []


async def test_implicit_tls_for_smtps(implicit: AuthSmtpServer, certs: Tls) -> None:
    assert implicit.url().startswith("smtps://")
    await send(parse_mail_url(implicit.url()), message(), command_timeout=10, tls_context=certs.client)
    [received] = implicit.messages
    assert received.tls is True and received.login == USER


async def test_unreachable_server() -> None:
    with pytest.raises(MailboxUnreachable):
        await send(parse_mail_url(f"smtp://u:p@127.0.0.1:{free_port()}"), message(), command_timeout=5)
