"""The domain's vocabularies. Plain Python enums: the ORM stores their values, the schema exposes them."""

from __future__ import annotations

from enum import Enum


class CampaignStatus(str, Enum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    ARCHIVED = "ARCHIVED"


class LeadStatus(str, Enum):
    NOT_STARTED = "NOT_STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    PAUSED = "PAUSED"
    ERROR = "ERROR"
    FINISHED = "FINISHED"
    REPLIED = "REPLIED"


class LeadSubstatus(str, Enum):
    # IN_PROGRESS
    SCHEDULED = "SCHEDULED"
    IDENTITY_LIMITS = "IDENTITY_LIMITS"
    WAITING_TO_CONNECT = "WAITING_TO_CONNECT"
    MONTHLY_CONVERSATION_LIMIT = "MONTHLY_CONVERSATION_LIMIT"
    CONNECTION_WITHDRAWN = "CONNECTION_WITHDRAWN"
    OUTSIDE_WORKING_HOURS = "OUTSIDE_WORKING_HOURS"
    WAITING_FOR_TASK = "WAITING_FOR_TASK"
    # PAUSED
    PAUSED_MANUALLY = "PAUSED_MANUALLY"
    CAMPAIGN_PAUSED = "CAMPAIGN_PAUSED"
    # ERROR
    MISSING_EMAIL = "MISSING_EMAIL"
    EMAIL_DISCONNECTED = "EMAIL_DISCONNECTED"
    LINKEDIN_DISCONNECTED = "LINKEDIN_DISCONNECTED"
    SYSTEM_ERROR = "SYSTEM_ERROR"
    INMAIL_CREDITS_LIMIT = "INMAIL_CREDITS_LIMIT"
    INVALID_IDENTITY_EMAIL = "INVALID_IDENTITY_EMAIL"
    MISSING_CONTACT_EMAIL = "MISSING_CONTACT_EMAIL"
    LEAD_NOT_SCRAPED = "LEAD_NOT_SCRAPED"
    IDENTITY_MISCONFIGURATION = "IDENTITY_MISCONFIGURATION"
    MISSING_EMAIL_SUBJECT = "MISSING_EMAIL_SUBJECT"
    MISSING_INMAIL_SUBJECT = "MISSING_INMAIL_SUBJECT"
    MESSAGE_TOO_LONG = "MESSAGE_TOO_LONG"
    # FINISHED
    COMPLETED = "COMPLETED"
    BOUNCED = "BOUNCED"
    BLOCKED = "BLOCKED"
    OUT_OF_OFFICE = "OUT_OF_OFFICE"
    NOT_CONNECTED = "NOT_CONNECTED"
    #: The contact unsubscribed or is on the suppression list (domain.md revision 2).
    UNSUBSCRIBED = "UNSUBSCRIBED"


S = LeadSubstatus
#: Which status each substatus belongs to (domain.md, "Lead statuses and substatuses").
SUBSTATUS_STATUS: dict[LeadSubstatus, LeadStatus] = {
    **dict.fromkeys(
        [
            S.SCHEDULED,
            S.IDENTITY_LIMITS,
            S.WAITING_TO_CONNECT,
            S.MONTHLY_CONVERSATION_LIMIT,
            S.CONNECTION_WITHDRAWN,
            S.OUTSIDE_WORKING_HOURS,
            S.WAITING_FOR_TASK,
        ],
        LeadStatus.IN_PROGRESS,
    ),
    S.PAUSED_MANUALLY: LeadStatus.PAUSED,
    S.CAMPAIGN_PAUSED: LeadStatus.PAUSED,
    **dict.fromkeys(
        [
            S.MISSING_EMAIL,
            S.EMAIL_DISCONNECTED,
            S.LINKEDIN_DISCONNECTED,
            S.SYSTEM_ERROR,
            S.INMAIL_CREDITS_LIMIT,
            S.INVALID_IDENTITY_EMAIL,
            S.MISSING_CONTACT_EMAIL,
            S.LEAD_NOT_SCRAPED,
            S.IDENTITY_MISCONFIGURATION,
            S.MISSING_EMAIL_SUBJECT,
            S.MISSING_INMAIL_SUBJECT,
            S.MESSAGE_TOO_LONG,
        ],
        LeadStatus.ERROR,
    ),
    **dict.fromkeys(
        [S.COMPLETED, S.BOUNCED, S.BLOCKED, S.OUT_OF_OFFICE, S.NOT_CONNECTED, S.UNSUBSCRIBED], LeadStatus.FINISHED
    ),
}
del S


class StepType(str, Enum):
    LINKEDIN_VISIT_PROFILE = "LINKEDIN_VISIT_PROFILE"
    LINKEDIN_LIKE_LAST_POST = "LINKEDIN_LIKE_LAST_POST"
    LINKEDIN_CONNECTION = "LINKEDIN_CONNECTION"
    LINKEDIN_MESSAGE = "LINKEDIN_MESSAGE"
    LINKEDIN_INMAIL = "LINKEDIN_INMAIL"
    EMAIL = "EMAIL"
    TASK = "TASK"
    CONDITION = "CONDITION"
    END = "END"

    @property
    def channel(self) -> Channel | None:
        return STEP_CHANNEL.get(self)

    @property
    def is_action(self) -> bool:
        return self not in (StepType.CONDITION, StepType.END)


class Channel(str, Enum):
    LINKEDIN = "LINKEDIN"
    EMAIL = "EMAIL"
    TASK = "TASK"


STEP_CHANNEL: dict[StepType, Channel] = {
    StepType.LINKEDIN_VISIT_PROFILE: Channel.LINKEDIN,
    StepType.LINKEDIN_LIKE_LAST_POST: Channel.LINKEDIN,
    StepType.LINKEDIN_CONNECTION: Channel.LINKEDIN,
    StepType.LINKEDIN_MESSAGE: Channel.LINKEDIN,
    StepType.LINKEDIN_INMAIL: Channel.LINKEDIN,
    StepType.EMAIL: Channel.EMAIL,
    StepType.TASK: Channel.TASK,
}


class ConditionType(str, Enum):
    HAS_LINKEDIN_PROFILE = "HAS_LINKEDIN_PROFILE"
    HAS_EMAIL = "HAS_EMAIL"
    IS_CONNECTED = "IS_CONNECTED"
    EMAIL_CLICKED = "EMAIL_CLICKED"


class Branch(str, Enum):
    MAIN = "MAIN"
    ON_TRUE = "ON_TRUE"
    ON_FALSE = "ON_FALSE"
    ACCEPTED = "ACCEPTED"
    NOT_ACCEPTED = "NOT_ACCEPTED"


class TaskType(str, Enum):
    EMAIL = "EMAIL"
    CALL = "CALL"
    TODO = "TODO"


class TaskStatus(str, Enum):
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"


class Weekday(str, Enum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


WEEKDAYS: list[Weekday] = list(Weekday)  # index == datetime.weekday()


class ActivityKind(str, Enum):
    PROFILE_VISITED = "PROFILE_VISITED"
    POST_LIKED = "POST_LIKED"
    INVITATION_SENT = "INVITATION_SENT"
    INVITATION_ACCEPTED = "INVITATION_ACCEPTED"
    INVITATION_WITHDRAWN = "INVITATION_WITHDRAWN"
    LINKEDIN_MESSAGE_SENT = "LINKEDIN_MESSAGE_SENT"
    INMAIL_SENT = "INMAIL_SENT"
    EMAIL_SENT = "EMAIL_SENT"
    EMAIL_CLICKED = "EMAIL_CLICKED"
    EMAIL_BOUNCED = "EMAIL_BOUNCED"
    REPLY_RECEIVED = "REPLY_RECEIVED"
    TASK_CREATED = "TASK_CREATED"
    TASK_COMPLETED = "TASK_COMPLETED"
    LEAD_ERROR = "LEAD_ERROR"
    #: The lead finished for a reason a user would ask about (NOT_CONNECTED); the detail says why.
    LEAD_FINISHED = "LEAD_FINISHED"
    #: An automatic reply (out of office): the lead finished FINISHED / OUT_OF_OFFICE.
    OUT_OF_OFFICE = "OUT_OF_OFFICE"
    #: The contact blocked the sender: the lead finished FINISHED / BLOCKED.
    BLOCKED = "BLOCKED"
    #: The contact unsubscribed, or is on the suppression list: the lead finished FINISHED / UNSUBSCRIBED.
    UNSUBSCRIBED = "UNSUBSCRIBED"


class LeadEventKind(str, Enum):
    INVITATION_ACCEPTED = "INVITATION_ACCEPTED"
    REPLY_RECEIVED = "REPLY_RECEIVED"
    EMAIL_CLICKED = "EMAIL_CLICKED"
    EMAIL_BOUNCED = "EMAIL_BOUNCED"
    OUT_OF_OFFICE = "OUT_OF_OFFICE"
    BLOCKED = "BLOCKED"
    UNSUBSCRIBED = "UNSUBSCRIBED"


class ErrorCode(str, Enum):
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    SEQUENCE_LOCKED = "SEQUENCE_LOCKED"
    EMPTY_SEQUENCE = "EMPTY_SEQUENCE"
    IDENTITY_REQUIRED = "IDENTITY_REQUIRED"
    ALREADY_IN_CAMPAIGN = "ALREADY_IN_CAMPAIGN"
    LEAD_PREVIOUSLY_REMOVED = "LEAD_PREVIOUSLY_REMOVED"
    SUPPRESSED = "SUPPRESSED"


class SuppressionReason(str, Enum):
    UNSUBSCRIBED = "UNSUBSCRIBED"
    BOUNCED = "BOUNCED"
    COMPLAINT = "COMPLAINT"
    MANUAL = "MANUAL"


class SeriesBucket(str, Enum):
    """Campaign.series' time buckets, in the requested time zone (domain/series.py)."""

    HOUR = "HOUR"
    DAY = "DAY"
    WEEK = "WEEK"


class ClaimState(str, Enum):
    """An outbound action's claim (models/claim.py): being handed to its provider, accepted by it, or cut short
    by a crash (it may or may not have gone out: never counted, never resent automatically)."""

    SENDING = "SENDING"
    SENT = "SENT"
    INTERRUPTED = "INTERRUPTED"
