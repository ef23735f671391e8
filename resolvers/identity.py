"""createIdentity, updateIdentity."""

from __future__ import annotations

import strawberry

from resolvers.context import Info
from schema.inputs import IdentityInput, IdentityUpdateInput
from schema.payloads import IdentityPayload


async def create_identity(info: Info, input: IdentityInput) -> IdentityPayload:
    raise NotImplementedError


async def update_identity(info: Info, id: strawberry.ID, input: IdentityUpdateInput) -> IdentityPayload:
    raise NotImplementedError
