"""Faults never reach the client: a generic message and an error id, logged here with the traceback."""

from __future__ import annotations

import logging
import uuid

from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors

from domain.errors import PublicError

log = logging.getLogger("outbound.errors")


def is_fault(error: GraphQLError) -> bool:
    """True for internal faults. Syntax, validation, coercion and PublicErrors are the client's, and shown."""
    original = error.original_error
    if original is None or isinstance(original, (PublicError, GraphQLError)):
        return False
    # Argument coercion failures (a bad DateTime literal or variable) arrive as ValueError/TypeError from a
    # scalar's parser during validation or variable coercion: before any resolver ran, so without a path.
    if not error.path and isinstance(original, (ValueError, TypeError)):
        return False
    return True


class ErrorIdMasking(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=is_fault, error_message="Internal server error.")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        error_id = uuid.uuid4().hex[:12]
        log.error(
            "internal error %s at %s", error_id, ".".join(map(str, error.path or [])), exc_info=error.original_error
        )
        return GraphQLError(
            message=f"Internal server error (error id {error_id}).",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": "INTERNAL_SERVER_ERROR", "errorId": error_id},
        )
