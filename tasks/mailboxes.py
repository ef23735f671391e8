"""Mailbox actors: one line each over the engine's async functions."""

from __future__ import annotations

import dramatiq

from engine import inbox


@dramatiq.actor(actor_name="mailboxes.sync", queue_name="mailboxes", max_retries=0)
async def sync(identity_id: int) -> None:
    # No Dramatiq retries: a failed read is stored on the identity and due again after its own backoff.
    await inbox.sync_identity(identity_id)
