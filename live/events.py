"""Live events in one place: channel names, event kinds and payloads (the polar `eventstream` pattern).

A committed change publishes a small event on the campaign's channel. Channel names are derived here from
server-side ids only, never from client input. The bus puts the deployment's namespace in front of them on
the wire (Redis pub/sub channels are shared by every database of a server).
"""

from __future__ import annotations

from typing import Any, Literal

from domain.tx import after_commit

#: Every campaign channel starts with this (the hub listens to the prefix).
CHANNEL_PREFIX = "ws:"

EventKind = Literal["stats", "activity", "deleted", "reconnected"]


def campaign_channel(workspace_id: int, campaign_id: int) -> str:
    return f"{CHANNEL_PREFIX}{workspace_id}:campaign:{campaign_id}"


def campaign_event(kind: EventKind, campaign_id: int, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "campaign_id": campaign_id, **extra}


def publish_after_commit(workspace_id: int, campaign_id: int, kind: EventKind, **extra: Any) -> None:
    """Queue an event for after the current transaction commits (dropped on rollback)."""
    from live.bus import get_bus

    channel = campaign_channel(workspace_id, campaign_id)
    message = campaign_event(kind, campaign_id, **extra)
    after_commit(lambda: get_bus().publish(channel, message))


def stats_changed(workspace_id: int, campaign_id: int) -> None:
    publish_after_commit(workspace_id, campaign_id, "stats")


def activity_recorded(workspace_id: int, campaign_id: int, activity_id: int) -> None:
    publish_after_commit(workspace_id, campaign_id, "activity", activity_id=activity_id)


def campaign_deleted(workspace_id: int, campaign_id: int) -> None:
    publish_after_commit(workspace_id, campaign_id, "deleted")
