"""Subscription resolvers: campaignStats, campaignActivity.

Each checks, before any stream exists, that the campaign belongs to the key's workspace: a foreign, unknown
or malformed id raises here, which graphql-transport-ws reports as an `error` message for that operation
(not a silent empty stream). The streams themselves are mailboxes of the process's hub (live/hub.py): the
reading and coalescing is shared by every subscriber of a campaign; the generators only wait and yield.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import strawberry

from domain.errors import PublicError
from domain.ids import decode_id
from live.hub import Hub
from live.mailbox import Completed, Mailbox
from models import Campaign
from resolvers.context import Info

NOT_FOUND = "Campaign not found."


async def authorized_campaign_id(workspace_id: int, campaign_id: str) -> int:
    """The campaign's pk if it belongs to the workspace; else a PublicError (missing = foreign = malformed)."""
    pk = decode_id(campaign_id, "Campaign")
    if pk is None or not await Campaign.filter(id=pk, workspace_id=workspace_id).exists():
        raise PublicError(NOT_FOUND, code="NOT_FOUND")
    return pk


async def campaign_stats(info: Info, campaign_id: strawberry.ID) -> AsyncGenerator[Any, None]:
    # Not a generator itself: an error raised here, before the stream starts, is an `error` message.
    pk = await authorized_campaign_id(info.context.workspace_id, campaign_id)
    return _stats_stream(_hub(info), pk)


async def campaign_activity(info: Info, campaign_id: strawberry.ID) -> AsyncGenerator[Any, None]:
    pk = await authorized_campaign_id(info.context.workspace_id, campaign_id)
    return _activity_stream(info, _hub(info), pk)


def _hub(info: Info) -> Hub:
    hub = info.context.hub
    assert hub is not None, "subscriptions need the hub that the app's lifespan makes"
    return hub


async def _stats_stream(hub: Hub, campaign_id: int) -> AsyncGenerator[Any, None]:
    mailbox = hub.subscribe_stats(campaign_id)
    try:
        async for snapshot in _drain(mailbox):
            yield snapshot.stats
    finally:
        hub.unsubscribe(mailbox)


async def _activity_stream(info: Info, hub: Hub, campaign_id: int) -> AsyncGenerator[Any, None]:
    mailbox = await hub.subscribe_activity(campaign_id)
    try:
        async for entry in _drain(mailbox):
            # The websocket's context lives as long as the socket: each entry resolves its lead, contact and
            # step through new loaders, never through ones that cached rows of an earlier entry.
            info.context.fresh_loaders()
            yield entry.row
    finally:
        hub.unsubscribe(mailbox)


async def _drain(mailbox: Mailbox) -> AsyncIterator[Any]:
    """Items until the mailbox completes (campaign deleted, shutdown); a failure (too far behind) raises."""
    while True:
        try:
            item = await mailbox.get()
        except Completed:
            return
        yield item
