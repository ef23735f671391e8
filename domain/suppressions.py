"""The workspace's suppression list: addresses and domains never contacted again (domain.md revision 2).

A contact is suppressed when its address, or the domain after its "@", is on the list. The list is read
where it matters: `addLeads` refuses a suppressed contact, and the engine checks again at the moment of
acting (engine/apply.py), so a contact suppressed while its lead waits is never sent anything. Hard
bounces (engine/inbox.py) and unsubscribes (engine/unsubscribe.py) add to it by themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from domain import validation
from domain.errors import DomainError, InvalidInput, NotFound
from models import Suppression
from models.enums import SuppressionReason

log = logging.getLogger("outbound.suppressions")

MAX_ITEMS = 1000


def normalize(value: object, path: list[str], errors: list[DomainError]) -> str | None:
    """An address (lower-cased whole: mail systems treat local parts case-insensitively in practice, and a
    list that missed Ana@ for ana@ would send to someone who asked not to be) or a domain, lower-cased."""
    before = len(errors)
    if isinstance(value, str) and "@" in value:
        cleaned = validation.email(value, path, errors, required=True)
    else:
        cleaned = validation.domain_name(value, path, errors)
    if cleaned is None or len(errors) > before:
        return None
    return cleaned.lower()


def keys_of(address: str) -> tuple[str, str]:
    """The two values that suppress `address`: itself and its domain."""
    lowered = address.strip().lower()
    return lowered, lowered.rpartition("@")[2]


async def add_suppressions(
    workspace_id: int, values: Sequence[str], reason: SuppressionReason = SuppressionReason.MANUAL
) -> tuple[list[Suppression], list[DomainError]]:
    """Each valid value joins the list (one already there is kept as it is); each bad one is its own
    INVALID_INPUT at ["values", "<index>"]. Returns the rows of the valid values, in input order."""
    if len(values) > MAX_ITEMS:
        raise InvalidInput(f"At most {MAX_ITEMS} values per call (got {len(values)}).", ["values"])
    errors: list[DomainError] = []
    wanted: list[str] = []
    for i, value in enumerate(values):
        cleaned = normalize(value, ["values", str(i)], errors)
        if cleaned is not None and cleaned not in wanted:
            wanted.append(cleaned)
    if wanted:
        await _insert(workspace_id, wanted, reason)
    rows = {row.value: row for row in await Suppression.filter(workspace_id=workspace_id, value__in=wanted)}
    return [rows[v] for v in wanted if v in rows], errors


async def _insert(workspace_id: int, values: Iterable[str], reason: SuppressionReason) -> None:
    # ON CONFLICT DO NOTHING: a value already listed (or listed by a concurrent call) keeps its first reason.
    await Suppression.bulk_create(
        [Suppression(workspace_id=workspace_id, value=v, reason=reason) for v in values], ignore_conflicts=True
    )


async def remove_suppression(workspace_id: int, suppression_id: int | None) -> int:
    deleted = 0
    if suppression_id is not None:
        deleted = await Suppression.filter(id=suppression_id, workspace_id=workspace_id).delete()
    if not deleted:
        raise NotFound("No such suppression.", ["id"])
    return suppression_id  # type: ignore[return-value]  # deleted > 0 means it was given


async def suppress_address(workspace_id: int, address: str, reason: str) -> None:
    """`address` joins workspace `workspace_id`'s suppression list for `reason` (BOUNCED, UNSUBSCRIBED...).

    Called inside the transaction that records the event, so both commit or neither does."""
    await _insert(workspace_id, [address.strip().lower()], SuppressionReason(reason))
    log.info("workspace %s: an address joined the suppression list (%s)", workspace_id, reason)


async def suppressed(workspace_id: int, addresses: Iterable[str]) -> dict[str, str]:
    """Which of `addresses` are suppressed: {address as given: the listed value that suppresses it}."""
    given = {a: keys_of(a) for a in addresses if a}
    if not given:
        return {}
    values = {v for pair in given.values() for v in pair}
    listed = set(await Suppression.filter(workspace_id=workspace_id, value__in=values).values_list("value", flat=True))
    found: dict[str, str] = {}
    for address, (itself, domain) in given.items():
        match = itself if itself in listed else domain if domain in listed else None
        if match is not None:
            found[address] = match
    return found
