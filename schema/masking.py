"""Every top-level error leaves with `extensions.code`; a fault leaves as a generic message and an error id.

The codes (README.md, "Errors") follow Apollo Server's where one fits, and the contract's ErrorCode
otherwise: GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, BAD_USER_INPUT (a variable that does not
coerce, a bad `first` or cursor), OPERATION_RESOLUTION_FAILURE (no operation of that name, or several and no
operationName), BAD_REQUEST (an operation type the transport refuses), NOT_FOUND (a subscription to a
campaign that is not yours), SERVICE_UNAVAILABLE (the database cannot be reached: server.py answers 503)
and INTERNAL_SERVER_ERROR (a fault, with its errorId).

What is logged: a fault once, at ERROR, with its traceback and error id (`error_id` on the record, for
LOG_FORMAT=json); an outage at WARNING in one line (logs.py summarises the repeats); a client's mistake at
INFO without a traceback (`log_client_errors`, which the schema calls instead of Strawberry's logger).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

from graphql.error import GraphQLError, GraphQLSyntaxError
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import MaskErrors
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from domain.errors import PublicError
from models.db import database_unavailable
from schema.cost import token_limit

log = logging.getLogger("outbound.errors")

#: Failures of the request that Strawberry raises before parsing or validation, by their code.
REQUEST_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (CannotGetOperationTypeError, "OPERATION_RESOLUTION_FAILURE"),
    (InvalidOperationTypeError, "BAD_REQUEST"),
    (MissingQueryError, "BAD_REQUEST"),
)


def is_fault(error: GraphQLError) -> bool:
    """True for internal faults. Syntax, validation, coercion and PublicErrors are the client's, and shown."""
    original = error.original_error
    if original is None or isinstance(original, (PublicError, GraphQLError)):
        return False
    if isinstance(original, tuple(kind for kind, _ in REQUEST_ERRORS)):
        return False
    # Argument coercion failures (a bad DateTime literal or variable) arrive as ValueError/TypeError from a
    # scalar's parser during validation or variable coercion: before any resolver ran, so without a path.
    if not error.path and isinstance(original, (ValueError, TypeError)):
        return False
    return True


def _uncoded(error: GraphQLError) -> bool:
    return not (error.extensions or {}).get("code")


class ErrorIdMasking(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=_uncoded, error_message="Internal server error.")
        self._validation_errors: set[int] = set()

    def on_validate(self) -> Iterator[None]:
        yield
        # What validation found (cached validations included): told apart from later coercion errors by identity.
        self._validation_errors = {id(error) for error in self.execution_context.pre_execution_errors or ()}

    def code_of(self, error: GraphQLError) -> str:
        original = error.original_error
        if isinstance(original, PublicError):
            return original.code
        for kind, code in REQUEST_ERRORS:
            if isinstance(original, kind):
                return code
        if isinstance(error, GraphQLSyntaxError):
            return "GRAPHQL_PARSE_FAILED"
        if id(error) in self._validation_errors:
            return "GRAPHQL_VALIDATION_FAILED"
        if not error.path:
            return "BAD_USER_INPUT"  # variables that do not coerce: before execution, so without a path
        return "INTERNAL_SERVER_ERROR"  # graphql-core's own complaints during execution (a null for a non-null)

    def coded(self, error: GraphQLError) -> GraphQLError:
        """The error as it may leave: as it is if it has a code, else with one (masked if a fault)."""
        return self.anonymise_error(error) if _uncoded(error) else error

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        """Called for every error without a code (MaskErrors' should_mask_error is `_uncoded`)."""
        if not is_fault(error):
            # In place: the error keeps its class (graphql-transport-ws closes the socket on a GraphQLSyntaxError)
            # and validation errors are the ValidationCache's own objects, whose code is always the same.
            coded = token_limit(error) if isinstance(error, GraphQLSyntaxError) else None
            error.extensions = {**(error.extensions or {}), **(coded or {"code": self.code_of(error)})}
            return error
        if database_unavailable(error.original_error):  # type: ignore[arg-type]  # a fault has one
            log.warning("database unavailable: %s", type(error.original_error).__name__)
            return GraphQLError(
                message="The service is unavailable (its database cannot be reached); try again shortly.",
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                original_error=None,
                extensions={"code": "SERVICE_UNAVAILABLE"},
            )
        error_id = uuid.uuid4().hex[:12]
        log.error(
            "internal error %s at %s",
            error_id,
            ".".join(map(str, error.path or [])),
            exc_info=error.original_error,
            extra={"error_id": error_id},
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


#: A client's message is logged up to this many characters (a 1 MB title must not be written to the log).
_LOGGED_MESSAGE = 300


def log_client_errors(errors: list[GraphQLError]) -> None:
    """Strawberry logs every error at ERROR with its traceback (a bad cursor, `first: 101`...). Here: a fault
    is left to ErrorIdMasking (it logs it once, with its error id); a client's mistake is one INFO line."""
    for error in errors:
        if is_fault(error):
            continue
        message = error.message
        if len(message) > _LOGGED_MESSAGE:
            message = message[:_LOGGED_MESSAGE] + "..."
        log.info("client error at %s: %s", ".".join(map(str, error.path or [])) or "-", message)

