"""The workspace's suppression list: addresses and domains never contacted again (domain.md revision 2).

This branch has no suppression table yet: `suppress_address` is the hook the inbox reader calls for a
final failure about the address itself (a hard bounce), and records nothing until the suppression list
(issue 13 points 3-6) gives it a table. Its signature is the one that list keeps.
"""

from __future__ import annotations

import logging

log = logging.getLogger("outbound.suppressions")


async def suppress_address(workspace_id: int, address: str, reason: str) -> None:
    """`address` joins workspace `workspace_id`'s suppression list for `reason` (BOUNCED, UNSUBSCRIBED...).

    Called inside the transaction that records the event, so both commit or neither does."""
    log.info("workspace %s: %s would join the suppression list (%s)", workspace_id, address, reason)
