"""Identities (senders): created and changed with every problem of the input reported at once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain import validation
from domain.errors import DomainError, DomainErrors, InvalidInput, NotFound
from domain.mailboxes import mailbox_values
from models import Identity
from models.identity import days_to_mask

HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
LIMIT_FIELDS = {
    "daily_connection_requests": "dailyConnectionRequests",
    "daily_linkedin_messages": "dailyLinkedinMessages",
    "daily_emails": "dailyEmails",
    "monthly_conversations": "monthlyConversations",
    "inmail_credits": "inmailCredits",
}
MAX_LIMIT = validation.IDENTITY_LIMIT[1]


def valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _name(value: Any, errors: list[DomainError]) -> str | None:
    return validation.text(value, ["input", "name"], errors, max_length=validation.NAME, required=True)


def _working_hours(hours: Mapping[str, Any] | None, errors: list[DomainError]) -> dict[str, Any]:
    if hours is None:
        return {}
    path = ["input", "workingHours"]
    zone = hours.get("timezone") or ""
    if len(zone) > validation.TIMEZONE or validation.bad_characters(zone) or not valid_timezone(zone):
        errors.append(InvalidInput("Not an IANA time zone name (e.g. Europe/Madrid).", [*path, "timezone"]))
    if not hours.get("days"):
        errors.append(InvalidInput("Choose at least one working day.", [*path, "days"]))
    start, end = hours.get("start") or "", hours.get("end") or ""
    for name, value in (("start", start), ("end", end)):
        if not HHMM.fullmatch(value):
            errors.append(InvalidInput(f'{name} must be "HH:MM" (00:00 to 23:59).', [*path, name]))
    if HHMM.fullmatch(start) and HHMM.fullmatch(end) and end <= start:
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
        if validation.integer(value, ["input", "limits", LIMIT_FIELDS[key]], errors, validation.IDENTITY_LIMIT) is None:
            continue
        values[key] = value
    return values


async def create_identity(workspace_id: int, data: Mapping[str, Any]) -> Identity:
    errors: list[DomainError] = []
    name = _name(data.get("name"), errors)
    linkedin_url = validation.text(
        data.get("linkedin_url"), ["input", "linkedinUrl"], errors, max_length=validation.URL
    )
    email = validation.email(data.get("email_address"), ["input", "emailAddress"], errors)
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
        values["name"] = _name(data["name"], errors)
    if "email_address" in data:
        email = validation.email(data["email_address"], ["input", "emailAddress"], errors)
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
