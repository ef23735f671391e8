"""createIdentity, updateIdentity, syncMailbox."""

from __future__ import annotations

import strawberry

from domain import identities
from domain.errors import DomainError, DomainErrors, InvalidInput, NotFound
from domain.ids import decode_id
from engine import inbox
from models import Identity
from resolvers.campaign import plain
from resolvers.context import Info
from resolvers.errors import user_errors
from schema.inputs import IdentityInput, IdentityUpdateInput
from schema.payloads import IdentityPayload


async def create_identity(info: Info, input: IdentityInput) -> IdentityPayload:
    try:
        identity = await identities.create_identity(info.context.workspace_id, plain(input))
    except (DomainError, DomainErrors) as exc:
        return IdentityPayload(identity=None, errors=user_errors(exc))
    # The ORM row stands for its Strawberry type (schema/types.py), which the payload's field names.
    return IdentityPayload(identity=identity)  # type: ignore[arg-type]


async def update_identity(info: Info, id: strawberry.ID, input: IdentityUpdateInput) -> IdentityPayload:
    try:
        identity = await identities.update_identity(info.context.workspace_id, decode_id(id, "Identity"), plain(input))
    except (DomainError, DomainErrors) as exc:
        return IdentityPayload(identity=None, errors=user_errors(exc))
    # The ORM row stands for its Strawberry type (schema/types.py), which the payload's field names.
    return IdentityPayload(identity=identity)  # type: ignore[arg-type]


async def sync_mailbox(info: Info, identity_id: strawberry.ID) -> IdentityPayload:
    """Reads the inbox now, inline, with the same function the scheduled reads run (engine/inbox.py)."""
    pk = decode_id(identity_id, "Identity")
    found = None if pk is None else await Identity.get_or_none(id=pk, workspace_id=info.context.workspace_id)
    try:
        if found is None:
            raise NotFound("No such identity.", ["identityId"])
        if found.imap_url_secret is None:
            raise InvalidInput("The identity has no inbox to read: give it a mailbox with an imapUrl.", ["identityId"])
    except DomainError as exc:
        return IdentityPayload(identity=None, errors=user_errors(exc))
    return IdentityPayload(identity=await inbox.sync_identity(found.id))  # type: ignore[arg-type]  # the ORM row stands for its type
