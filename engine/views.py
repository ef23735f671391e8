"""What `decide` looks at: plain, frozen snapshots of a lead, its sender and the step's rendered text."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from engine import hours
from models.enums import LeadStatus, LeadSubstatus


@dataclass(frozen=True)
class LeadView:
    status: LeadStatus
    substatus: LeadSubstatus | None = None
    current_step_id: int | None = None
    started_at: datetime | None = None
    last_action_at: datetime | None = None
    connected: bool = False
    invitation_sent_at: datetime | None = None
    contacted: bool = False
    em_clicked: bool = False
    email: str | None = None  # the contact's
    linkedin_url: str | None = None  # the contact's


@dataclass(frozen=True)
class IdentityView:
    linkedin_url: str | None = None
    linkedin_connected: bool = False
    email_address: str | None = None
    email_connected: bool = False
    working_hours: hours.WorkingHours = field(default_factory=hours.WorkingHours)
    daily_connection_requests: int = 20
    daily_linkedin_messages: int = 100
    daily_emails: int = 30
    monthly_conversations: int = 300
    inmail_credits: int = 20
    #: Too many of its recent emails bounced: its email steps stop (engine/bounce_guard.py).
    bounce_guarded: bool = False
    #: {(allowance, period): used}, e.g. {("email", "2026-11-26"): 30, ("conversation", "2026-11"): 12}
    usage: dict[tuple[str, str], int] = field(default_factory=dict)

    def cap(self, allowance: str) -> int:
        return {
            "connection": self.daily_connection_requests,
            "linkedin_message": self.daily_linkedin_messages,
            "email": self.daily_emails,
            "conversation": self.monthly_conversations,
        }[allowance]


@dataclass(frozen=True)
class Rendered:
    """The step's texts filled for this lead (domain/templates.render), as they would be sent."""

    subject: str | None = None
    body: str | None = None
