"""Expected failures of the domain, as small named classes. Resolvers turn them into UserErrors."""

from __future__ import annotations

from collections.abc import Sequence

from models.enums import ErrorCode


class DomainError(Exception):
    """An expected failure: bad input or a rule of the domain. Changes nothing."""

    code: ErrorCode = ErrorCode.INVALID_INPUT

    def __init__(self, message: str, field: Sequence[str] | None = None, code: ErrorCode | None = None):
        super().__init__(message)
        self.message = message
        self.field = list(field) if field is not None else None
        if code is not None:
            self.code = code


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND


class InvalidInput(DomainError):
    code = ErrorCode.INVALID_INPUT


class InvalidTransition(DomainError):
    code = ErrorCode.INVALID_TRANSITION


class SequenceLocked(DomainError):
    code = ErrorCode.SEQUENCE_LOCKED


class EmptySequence(DomainError):
    code = ErrorCode.EMPTY_SEQUENCE


class IdentityRequired(DomainError):
    code = ErrorCode.IDENTITY_REQUIRED


class AlreadyInCampaign(DomainError):
    code = ErrorCode.ALREADY_IN_CAMPAIGN


class LeadPreviouslyRemoved(DomainError):
    code = ErrorCode.LEAD_PREVIOUSLY_REMOVED


class Suppressed(DomainError):
    code = ErrorCode.SUPPRESSED


class DomainErrors(Exception):
    """Several problems found at once (input validation reports every one of them)."""

    def __init__(self, errors: Sequence[DomainError]):
        super().__init__("; ".join(e.message for e in errors))
        self.errors = list(errors)


class PublicError(Exception):
    """A fault of the request itself (not a domain rule): shown as a top-level GraphQL error, unmasked, with
    `code` as its `extensions.code` (README.md, "Errors")."""

    code: str = "BAD_USER_INPUT"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code


class PaginationError(PublicError):
    """Bad `first`/`after`: a top-level GraphQL error that says what was wrong."""
