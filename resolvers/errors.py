"""Turning domain errors into UserErrors."""

from __future__ import annotations

from domain.errors import DomainError, DomainErrors
from schema.payloads import UserError


def user_errors(exc: DomainError | DomainErrors) -> list[UserError]:
    errors = exc.errors if isinstance(exc, DomainErrors) else [exc]
    return [UserError(code=e.code, message=e.message, field=e.field) for e in errors]
