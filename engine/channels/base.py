"""One interface for every channel: a provider sends one outbound action, identified by its key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from models.enums import ActivityKind


class ChannelFailure(Exception):
    """The provider could not perform the action (after this is retried a few times: SYSTEM_ERROR)."""


@dataclass(frozen=True)
class Outbound:
    #: "{lead}:{step}:{attempt}": the exactly-once key, also given to the provider.
    key: str
    kind: ActivityKind
    #: Chosen before sending and recorded first (an email's Message-ID), so a resend is recognisable.
    external_id: str
    sender_name: str
    sender_email: str | None
    sender_linkedin: str | None
    recipient_name: str
    recipient_email: str | None
    recipient_linkedin: str | None
    subject: str | None = None
    body: str | None = None
    #: For an email's signed links (unsubscribe, tracked clicks): whose and which step's they are.
    lead_id: int = 0
    step_id: int = 0
    track_clicks: bool = True


class Provider(Protocol):
    name: str

    def new_external_id(self, key: str, sender_email: str | None = None) -> str: ...

    async def send(self, outbound: Outbound) -> None:
        """Perform the action; raise ChannelFailure (or any exception) if it did not happen."""
        ...
