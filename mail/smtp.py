"""Send one message through a mailbox's SMTP server (aiosmtplib), with typed failures.

smtp:// upgrades with STARTTLS whenever the server offers it (aiosmtplib's `start_tls=None`), smtps:// is
implicit TLS. AUTH is used when the URL has credentials. `send` returns only once the server accepted the
message (250 after DATA); anything else raises, so "returned" means "the server has it".
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from mail.errors import MailboxAuthError, MailboxProtocolError, MailboxUnreachable, RecipientRefused
from mail.secrets import MailServer

DEFAULT_TIMEOUT = 30.0
# Replies that mean "log in first" when a server requires AUTH and we sent none (RFC 4954 530, and the
# 550/553 "authentication required" some servers answer at MAIL FROM).
_AUTH_REQUIRED = {530, 534, 535, 538}


@dataclass(frozen=True, slots=True)
class Accepted:
    message_id: str | None
    response: str  # the server's final reply, e.g. "250 2.0.0 Ok: queued as 4Tz1b2c3d4"


async def send(
    server: MailServer,
    message: EmailMessage,
    *,
    command_timeout: float = DEFAULT_TIMEOUT,
    tls_context: ssl.SSLContext | None = None,
) -> Accepted:
    """Hand `message` to `server`. Raises MailboxAuthError, MailboxUnreachable, RecipientRefused, or
    MailboxProtocolError for any other refusal (sender refused, data rejected, a required extension missing)."""
    if server.protocol != "smtp":
        raise ValueError(f"not an SMTP server: {server.redacted()}")
    where = server.redacted()
    try:
        _errors, response = await aiosmtplib.send(
            message,
            hostname=server.host,
            port=server.port,
            username=server.user,
            password=server.password,
            use_tls=server.tls == "implicit",
            start_tls=None if server.tls == "starttls" else False,
            tls_context=tls_context,
            timeout=command_timeout,  # aiosmtplib: per connect/command, not in total
        )
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise MailboxAuthError(f"{where}: login refused: {exc.code} {exc.message}") from exc
    except aiosmtplib.SMTPRecipientsRefused as exc:
        first = exc.recipients[0]
        raise RecipientRefused(first.recipient, first.code, first.message) from exc
    except aiosmtplib.SMTPRecipientRefused as exc:
        raise RecipientRefused(exc.recipient, exc.code, exc.message) from exc
    except aiosmtplib.SMTPSenderRefused as exc:
        if exc.code in _AUTH_REQUIRED:
            raise MailboxAuthError(f"{where}: the server requires a login: {exc.code} {exc.message}") from exc
        raise MailboxProtocolError(f"{where}: sender {exc.sender} refused: {exc.code} {exc.message}") from exc
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError, aiosmtplib.SMTPServerDisconnected) as exc:
        raise MailboxUnreachable(f"{where}: {type(exc).__name__}: {exc}") from exc
    except aiosmtplib.SMTPResponseException as exc:
        if exc.code in _AUTH_REQUIRED:
            raise MailboxAuthError(f"{where}: the server requires a login: {exc.code} {exc.message}") from exc
        raise MailboxProtocolError(f"{where}: {exc.code} {exc.message}") from exc
    except aiosmtplib.SMTPException as exc:  # e.g. AUTH asked for but not offered, STARTTLS unsupported
        raise MailboxProtocolError(f"{where}: {exc}") from exc
    except (OSError, ssl.SSLError) as exc:
        raise MailboxUnreachable(f"{where}: {type(exc).__name__}: {exc}") from exc
    message_id = message.get("Message-ID")
    return Accepted(str(message_id) if message_id is not None else None, response)
