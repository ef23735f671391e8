"""Channels behind one interface (`base.Provider`): SMTP email, and the sandbox for LinkedIn (and for email
when no SMTP server is configured). `configure` picks them from the settings once per process."""

from __future__ import annotations

from engine.channels.base import ChannelFailure, Outbound, Provider
from engine.channels.sandbox import SandboxProvider
from engine.channels.smtp import MailboxProvider, SmtpProvider
from models import Identity
from models.enums import StepType

linkedin_sandbox = SandboxProvider("linkedin")
email_sandbox = SandboxProvider("email")
_email: Provider = email_sandbox


def configure(smtp_url: str | None) -> None:
    """Email over SMTP when a URL is given, else into the sandbox mailbox."""
    global _email
    _email = SmtpProvider(smtp_url) if smtp_url else email_sandbox


def provider_for(step_type: StepType, identity: Identity | None = None) -> Provider | None:
    """The provider that performs a step; None for steps that send nothing (TASK). An email goes through the
    identity's own mailbox when it has one, else the server's relay or the sandbox."""
    if step_type == StepType.EMAIL:
        if identity is not None and identity.smtp_url_secret is not None:
            return MailboxProvider(identity.smtp_url_secret)
        return _email
    if step_type.name.startswith("LINKEDIN_"):
        return linkedin_sandbox
    return None


__all__ = [
    "ChannelFailure",
    "MailboxProvider",
    "Outbound",
    "Provider",
    "SandboxProvider",
    "SmtpProvider",
    "configure",
    "email_sandbox",
    "linkedin_sandbox",
    "provider_for",
]
