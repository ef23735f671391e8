"""Identities (senders): created and changed with every problem of the input reported at once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import DomainError, DomainErrors, InvalidInput, NotFound
from domain.mailboxes import mailbox_values
from models import Identity
from models.identity import days_to_mask

HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LIMIT_FIELDS = {
    "daily_connection_requests": "dailyConnectionRequests",
    "daily_linkedin_messages": "dailyLinkedinMessages",
    "daily_emails": "dailyEmails",
    "monthly_conversations": "monthlyConversations",
    "inmail_credits": "inmailCredits",
}
MAX_LIMIT = 1_000_000


def valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _blank(value: Any) -> bool:
    return value is None or not str(value).strip()


def _clean(value: Any) -> Any:
    """Strip text; an empty string means 'none'."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _working_hours(hours: Mapping[str, Any] | None, errors: list[DomainError]) -> dict[str, Any]:
    if hours is None:
        return {}
    path = ["input", "workingHours"]
    if not valid_timezone(hours.get("timezone") or ""):
        errors.append(InvalidInput("Not an IANA time zone name (e.g. Europe/Madrid).", [*path, "timezone"]))
    if not hours.get("days"):
        errors.append(InvalidInput("Choose at least one working day.", [*path, "days"]))
    start, end = hours.get("start") or "", hours.get("end") or ""
    for name, value in (("start", start), ("end", end)):
        if not HHMM.match(value):
            errors.append(InvalidInput(f'{name} must be "HH:MM" (00:00 to 23:59).', [*path, name]))
    if HHMM.match(start) and HHMM.match(end) and end <= start:
        errors.append(InvalidInput("end must be after start.", [*path, "end"]))
    return {
        "timezone": hours.get("timezone"),
        "work_days": days_to_mask(hours.get("days") or []),
        "work_start": start,
        "work_end": end,
    }


def _limits(limits: Mapping[str, Any] | None, errors: list[DomainError]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in (limits or {}).items():
        if value is None:
            continue  # null: keep the current (or default) value
        if not 0 <= value <= MAX_LIMIT:
            errors.append(InvalidInput(f"Must be between 0 and {MAX_LIMIT}.", ["input", "limits", LIMIT_FIELDS[key]]))
        values[key] = value
    return values


def _email(value: Any, field: list[str], errors: list[DomainError]) -> None:
    if value is not None and (len(value) > 320 or not EMAIL.match(value)):
        errors.append(InvalidInput("Not an email address.", field))


async def create_identity(workspace_id: int, data: Mapping[str, Any]) -> Identity:
    errors: list[DomainError] = []
    name = _clean(data.get("name"))
    if _blank(name) or len(name) > 200:
        errors.append(InvalidInput("A name (at most 200 characters) is required.", ["input", "name"]))
    linkedin_url = _clean(data.get("linkedin_url"))
    if linkedin_url is not None and len(linkedin_url) > 500:
        errors.append(InvalidInput("At most 500 characters.", ["input", "linkedinUrl"]))
    email = _clean(data.get("email_address"))
    _email(email, ["input", "emailAddress"], errors)
    values = {**_working_hours(data.get("working_hours"), errors), **_limits(data.get("limits"), errors)}
    values["email_connected"] = email is not None
    if data.get("mailbox") is not None:
        values |= mailbox_values(data["mailbox"], email, datetime.now(UTC), errors)
    if errors:
        raise DomainErrors(errors)
    return await Identity.create(
        workspace_id=workspace_id,
        name=name,
        linkedin_url=linkedin_url,
        linkedin_connected=linkedin_url is not None,
        email_address=email,
        **values,
    )


async def update_identity(workspace_id: int, identity_id: int | None, data: Mapping[str, Any]) -> Identity:
    identity = None if identity_id is None else await Identity.get_or_none(id=identity_id, workspace_id=workspace_id)
    if identity is None:
        raise NotFound("No such identity.", ["id"])
    errors: list[DomainError] = []
    values: dict[str, Any] = {}
    if "name" in data:
        name = _clean(data["name"])
        if _blank(name) or len(name) > 200:
            errors.append(InvalidInput("A name (at most 200 characters) is required.", ["input", "name"]))
        values["name"] = name
    if "email_address" in data:
        email = _clean(data["email_address"])
        _email(email, ["input", "emailAddress"], errors)
        values["email_address"] = email
        if email is None:
            values["email_connected"] = False  # no mailbox, nothing connected
        elif email != identity.email_address:
            values["email_connected"] = True
    for key, account, field in (
        ("linkedin_connected", "linkedin_url", "linkedinConnected"),
        ("email_connected", "email_address", "emailConnected"),
    ):
        if data.get(key) is None:
            continue
        if data[key] and values.get(account, getattr(identity, account)) is None:
            errors.append(InvalidInput("There is no account to connect.", ["input", field]))
        values[key] = bool(data[key])
    values.update(_working_hours(data.get("working_hours"), errors))
    values.update(_limits(data.get("limits"), errors))
    if "mailbox" in data:
        email = values.get("email_address", identity.email_address)
        values.update(mailbox_values(data["mailbox"], email, datetime.now(UTC), errors))
    if errors:
        raise DomainErrors(errors)
    if values:
        await Identity.filter(id=identity.id, workspace_id=workspace_id).update(**values)
    return await Identity.get(id=identity.id)
