"""The email a lead receives, the same whichever server sends it (the identity's own mailbox, the server's
relay, or the sandbox): mail.outbound builds it with our Message-ID (chosen at the claim and kept on the
activity, so replies and bounces find it), RFC 8058 one-click unsubscribe, and tracked links when the
campaign tracks clicks."""

from __future__ import annotations

import secrets
from email.message import EmailMessage
from email.utils import formatdate

from domain import mailkeys
from engine.channels.base import ChannelFailure, Outbound
from mail.outbound import InvalidMessage, build_message, fill_unsubscribe

SANDBOX_DOMAIN = "outbound.local"


def message_id(key: str, sender_email: str | None) -> str:
    """A Message-ID for the action `key`, on the sender's own domain when it has one."""
    domain = sender_email.rpartition("@")[2].lower() if sender_email and "@" in sender_email else SANDBOX_DOMAIN
    # The action's key and 12 random hex digits, not make_msgid's ~45 characters of time, pid and randomness:
    # short enough that the "Message-ID:" line is not folded (a folded one reads back with a leading space).
    return f"<{key.replace(':', '.')}.{secrets.token_hex(6)}@{domain or SANDBOX_DOMAIN}>"


def compose(outbound: Outbound) -> EmailMessage:
    """Raises ChannelFailure for an address or text that cannot go in an email."""
    keys = mailkeys.current()
    try:
        if keys.signing_key is None:
            message = _unsigned(outbound)
        else:
            message = build_message(
                sender=outbound.sender_email or "",
                to=outbound.recipient_email or "",
                subject=outbound.subject or "",
                text=outbound.body or "",
                lead_id=outbound.lead_id,
                step_id=outbound.step_id,
                public_url=keys.public_url,
                secret=keys.signing_key,
                sender_name=outbound.sender_name or None,
                track_clicks=outbound.track_clicks,
                # Ours, chosen before sending and already on the activity: a reply's In-Reply-To names it.
                message_id=outbound.external_id,
            )
    except InvalidMessage as exc:
        raise ChannelFailure(f"email not sent: {exc}") from exc
    return message


def _unsigned(outbound: Outbound) -> EmailMessage:
    """Without a SECRET_KEY (PostgreSQL, unset) there is nothing to sign links with: plain text, no header."""
    message = EmailMessage()
    message["From"] = outbound.sender_email or ""
    message["To"] = outbound.recipient_email or ""
    message["Subject"] = outbound.subject or ""
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = outbound.external_id
    message.set_content(fill_unsubscribe(outbound.body or "", ""))
    return message
