"""Email over real SMTP (mail.smtp): the server's relay (SMTP_URL), or an identity's own mailbox.

The Message-ID is ours, chosen before sending and kept in Activity.external_id, so a message can always be
matched to the activity that recorded it (and a reply or a bounce to its lead). A login the server refuses
comes out as mail.errors.MailboxAuthError: engine/send.py does not retry it, and the lead goes to
EMAIL_DISCONNECTED.
"""

from __future__ import annotations

from domain.mailboxes import server_of
from engine.channels.base import ChannelFailure, Outbound
from engine.channels.email import compose, message_id
from mail import smtp
from mail.errors import MailboxAuthError, MailError
from mail.secrets import MailServer, MailUrlError, SecretError, parse_mail_url


class SmtpProvider:
    """The server's relay, for identities without a mailbox of their own."""

    name = "smtp"

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.server = parse_mail_url(url, expect="smtp")
        self.timeout = timeout

    def new_external_id(self, key: str, sender_email: str | None = None) -> str:
        return message_id(key, sender_email)

    async def send(self, outbound: Outbound) -> None:
        await _send(self.server, outbound, self.timeout)


class MailboxProvider:
    """An identity's own SMTP server: from its own address, with its own login (decrypted only here)."""

    name = "mailbox"

    def __init__(self, smtp_url_secret: str, timeout: float = 30.0) -> None:
        self._secret = smtp_url_secret
        self.timeout = timeout

    def new_external_id(self, key: str, sender_email: str | None = None) -> str:
        return message_id(key, sender_email)

    async def send(self, outbound: Outbound) -> None:
        try:
            server = server_of(self._secret, "smtp")
        except (MailUrlError, SecretError) as exc:
            raise ChannelFailure(f"the identity's mailbox cannot be opened: {exc}") from exc
        assert server is not None
        await _send(server, outbound, self.timeout)


async def _send(server: MailServer, outbound: Outbound, command_timeout: float) -> None:
    message = compose(outbound)
    try:
        await smtp.send(server, message, command_timeout=command_timeout)
    except MailboxAuthError:
        raise  # not a provider fault to retry: the password is wrong until someone fixes it
    except MailError as exc:
        raise ChannelFailure(f"SMTP: {exc}") from exc
