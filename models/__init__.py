"""State and guards, no workflows: the domain layer (domain/, engine/) changes these rows."""

from models.activity import Activity, ActivitySlot
from models.campaign import Campaign, CampaignCounter, SequenceStep
from models.claim import ActionClaim
from models.contact import Contact
from models.identity import Identity, IdentityUsage
from models.inbound import InboundMessage
from models.lead import LEAD_FLAGS, Lead
from models.suppression import Suppression
from models.task import Task
from models.webhook import Webhook, WebhookDelivery
from models.workspace import ApiKey, Workspace

__all__ = [
    "LEAD_FLAGS",
    "ActionClaim",
    "Activity",
    "ActivitySlot",
    "ApiKey",
    "Campaign",
    "CampaignCounter",
    "Contact",
    "Identity",
    "IdentityUsage",
    "InboundMessage",
    "Lead",
    "SequenceStep",
    "Suppression",
    "Task",
    "Webhook",
    "WebhookDelivery",
    "Workspace",
]
