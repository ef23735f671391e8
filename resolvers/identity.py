"""createIdentity, updateIdentity."""

from __future__ import annotations

import strawberry

from domain import identities
from domain.errors import DomainError, DomainErrors
from domain.ids import decode_id
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
