"""Live events in one place: channel names, event kinds and payloads (the polar `eventstream` pattern).

A committed change announces a small event on the campaign's channel. Domain code only says *what*
happened (a `CampaignEvent`, through `domain.tx.announce`); the process wiring decides how it is published
(live/runtime.py puts it on the process's bus). Channel names are derived here from server-side ids only,
never from client input. The bus puts the deployment's namespace in front of them on the wire (Redis
pub/sub channels are shared by every database of a server).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from domain.tx import announce

#: Every campaign channel starts with this (the hub listens to the prefix).
CHANNEL_PREFIX = "ws:"

EventKind = Literal["stats", "activity", "deleted", "reconnected"]


def campaign_channel(workspace_id: int, campaign_id: int) -> str:
    return f"{CHANNEL_PREFIX}{workspace_id}:campaign:{campaign_id}"


def campaign_event(kind: EventKind, campaign_id: int, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "campaign_id": campaign_id, **extra}


@dataclass(frozen=True, slots=True)
class CampaignEvent:
    """Something that happened to a campaign, for its live subscribers."""

    workspace_id: int
    campaign_id: int
    kind: EventKind
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def channel(self) -> str:
        return campaign_channel(self.workspace_id, self.campaign_id)

    @property
    def message(self) -> dict[str, Any]:
        return campaign_event(self.kind, self.campaign_id, **self.extra)


def publish_after_commit(workspace_id: int, campaign_id: int, kind: EventKind, **extra: Any) -> None:
    """Announce an event for after the current transaction commits (dropped on rollback)."""
    announce(CampaignEvent(workspace_id, campaign_id, kind, extra))


def stats_changed(workspace_id: int, campaign_id: int) -> None:
    publish_after_commit(workspace_id, campaign_id, "stats")


def activity_recorded(workspace_id: int, campaign_id: int, activity_id: int) -> None:
    publish_after_commit(workspace_id, campaign_id, "activity", activity_id=activity_id)


def campaign_deleted(workspace_id: int, campaign_id: int) -> None:
    publish_after_commit(workspace_id, campaign_id, "deleted")
