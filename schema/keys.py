"""API keys (contract r2): the ApiKey type that Workspace.apiKeys lists. Declarative, like schema/types.py
(which names this type lazily, as this module imports its Node).

The key itself is never a field: it is in createApiKey's payload once, and only its hash is stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

import models
from domain.ids import to_global_id
from schema.types import Node


@strawberry.type(
    description="A key of the workspace. Revoking it takes effect at once: its requests get 401, and "
    "websockets opened with it are closed (4403)."
)
class ApiKey(Node):
    name: str = strawberry.field(description="What a person calls it: 1 to 100 characters, no control characters.")
    prefix: str = strawberry.field(description="The key's first characters, to tell keys apart (ob_1a2b...).")
    created_at: datetime = strawberry.field(description="When it was created.")
    last_used_at: datetime | None = strawberry.field(
        description="When a request last used it; may lag by a minute (written at most once a minute)."
    )
    revoked_at: datetime | None = strawberry.field(description="When it was revoked; null while it works.")

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, (cls, models.ApiKey))

    @strawberry.field(description="A stable, opaque ID.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("ApiKey", self.id))
