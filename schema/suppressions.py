"""The suppression list (contract r2): its type, connection and payloads. Declarative, like schema/types.py;
backed by the ORM rows (models/suppression.py)."""

from __future__ import annotations

from datetime import datetime

import strawberry

import models
from domain.ids import to_global_id
from models.enums import SuppressionReason
from schema.payloads import UserError
from schema.types import Node, _connection, _is

# The model's own class, marked in place (as schema/enums.py does), so it stays usable as a type.
strawberry.enum(SuppressionReason, description="How a value came onto the suppression list.")


@strawberry.type(description="An address or a domain that the workspace never contacts again, on any channel.")
class Suppression(Node):
    is_type_of = _is(models.Suppression)
    value: str = strawberry.field(description="An address (lower-cased) or a domain.")
    reason: SuppressionReason
    created_at: datetime

    @strawberry.field(description="A stable, opaque ID.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Suppression", self.id))


SuppressionEdge, SuppressionConnection = _connection("Suppression", Suppression)


@strawberry.type(description="Result of addSuppressions: the listed rows of every valid value, in input order.")
class SuppressionsPayload:
    suppressions: list[Suppression]
    errors: list[UserError]


@strawberry.type(description="Result of removeSuppression.")
class RemoveSuppressionPayload:
    removed_id: strawberry.ID | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)
