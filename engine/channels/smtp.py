"""Email over real SMTP (aiosmtplib). The Message-ID is ours, chosen before sending and kept in
Activity.external_id, so a message can always be matched to the activity that recorded it."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from urllib.parse import unquote, urlparse

import aiosmtplib

from engine.channels.base import ChannelFailure, Outbound


class SmtpProvider:
    name = "smtp"

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parsed = urlparse(url)
        self.hostname = parsed.hostname or "localhost"
        self.port = parsed.port or (465 if parsed.scheme == "smtps" else 25)
        self.username = unquote(parsed.username) if parsed.username else None
        self.password = unquote(parsed.password) if parsed.password else None
        self.use_tls = parsed.scheme == "smtps"
        self.timeout = timeout

    def new_external_id(self, key: str) -> str:
        return make_msgid(idstring=key.replace(":", "."), domain="outbound.local")

    async def send(self, outbound: Outbound) -> None:
        message = EmailMessage()
        message["From"] = formataddr((outbound.sender_name, outbound.sender_email or ""))
        message["To"] = formataddr((outbound.recipient_name, outbound.recipient_email or ""))
        message["Subject"] = outbound.subject or ""
        message["Message-ID"] = outbound.external_id
        message["X-Outbound-Key"] = outbound.key
        message.set_content(outbound.body or "")
        try:
            await aiosmtplib.send(
                message,
                hostname=self.hostname,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.use_tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPException as exc:
            raise ChannelFailure(f"SMTP: {exc}") from exc
