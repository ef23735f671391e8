"""createApiKey, revokeApiKey."""

from __future__ import annotations

import strawberry

from domain import auth
from domain.errors import DomainError
from domain.ids import decode_id
from resolvers.context import Info
from resolvers.errors import user_errors
from schema.payloads import ApiKeyPayload, CreateApiKeyPayload


async def create_api_key(info: Info, name: str) -> CreateApiKeyPayload:
    try:
        key, raw = await auth.create_api_key(info.context.workspace_id, name)
    except DomainError as exc:
        return CreateApiKeyPayload(errors=user_errors(exc))
    return CreateApiKeyPayload(api_key=key, key=raw)  # type: ignore[arg-type]  # the ORM row stands for its Strawberry type


async def revoke_api_key(info: Info, id: strawberry.ID) -> ApiKeyPayload:
    try:
        key = await auth.revoke_api_key(info.context.workspace_id, decode_id(id, "ApiKey"))
    except DomainError as exc:
        return ApiKeyPayload(errors=user_errors(exc))
    return ApiKeyPayload(api_key=key)  # type: ignore[arg-type]  # the ORM row stands for its Strawberry type
