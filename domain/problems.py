"""What each ERROR substatus tells a person: a message and a hint on how to fix it (Lead.error)."""

from __future__ import annotations

from models.enums import LeadSubstatus as S

#: substatus -> (message, hint). The message may be completed with specifics by the caller.
PROBLEMS: dict[S, tuple[str, str]] = {
    S.MISSING_EMAIL: (
        "The identity has no mailbox to send from.",
        "Add an email address to the identity, then retry the lead.",
    ),
    S.EMAIL_DISCONNECTED: (
        "The identity's mailbox is disconnected.",
        "Reconnect the mailbox of the identity, then retry the lead.",
    ),
    S.LINKEDIN_DISCONNECTED: (
        "The identity's LinkedIn account is disconnected.",
        "Reconnect the identity's LinkedIn account, then retry the lead.",
    ),
    S.SYSTEM_ERROR: (
        "The provider failed to perform the action.",
        "Retry the lead; if it keeps failing, contact support.",
    ),
    S.INMAIL_CREDITS_LIMIT: (
        "The identity has no InMail credits left.",
        "Top up the identity's InMail credits, then retry the lead.",
    ),
    S.INVALID_IDENTITY_EMAIL: (
        "The identity's email address is not valid.",
        "Fix the identity's email address, then retry the lead.",
    ),
    S.MISSING_CONTACT_EMAIL: (
        "The contact has no email address.",
        "Enrich the contact's email, then retry the lead.",
    ),
    S.LEAD_NOT_SCRAPED: (
        "The contact has no LinkedIn profile URL.",
        "Add the contact's LinkedIn URL, then retry the lead.",
    ),
    S.IDENTITY_MISCONFIGURATION: (
        "The campaign's identity cannot be used.",
        "Fix the identity (sender, time zone, working hours), then retry the lead.",
    ),
    S.MISSING_EMAIL_SUBJECT: (
        "The email step has no subject.",
        "Give the email step a subject, then retry the lead.",
    ),
    S.MISSING_INMAIL_SUBJECT: (
        "The InMail step has no subject.",
        "Give the InMail step a subject, then retry the lead.",
    ),
    S.MESSAGE_TOO_LONG: (
        "The message is longer than the channel allows.",
        "Shorten the step's text, then retry the lead.",
    ),
}

#: A step that failed several times (engine/failures.py): the lead goes to ERROR /
#: SYSTEM_ERROR with this message (completed with the count and the kind of failure) instead of being
#: retried forever.
STEP_KEEPS_FAILING: tuple[str, str] = (
    "The step failed {count} times ({error}) and was stopped.",
    "Check the step's settings (edit the step if it can be), then retry the lead; if it keeps failing, "
    "contact support.",
)

#: An identity stopped by the bounce guard (engine/bounce_guard.py): EMAIL_DISCONNECTED with its own words.
BOUNCE_GUARD: tuple[str, str] = (
    "Email steps of this identity are stopped: too many of its recent emails bounced.",
    "Too many bounces: check the list (remove or suppress the bad addresses), then retry the lead.",
)
