"""An identity's own mailbox: its SMTP and IMAP URLs checked, encrypted and stored (MailboxInput).

Each URL is stored whole, encrypted with the process's PasswordBox (domain/mailkeys.py): the password, and
the user with it, are never in the database in clear, never returned (Identity.mailbox shows the hosts),
and never in an error message or a log line (mail.secrets' errors never contain the password).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from domain import mailkeys
from domain.errors import DomainError, InvalidInput
from mail.secrets import MailServer, MailUrlError, parse_mail_url

MAX_URL_LENGTH = 2000
PATH = ["input", "mailbox"]


def _checked(value: Any, protocol: str, field: str, errors: list[DomainError]) -> MailServer | None:
    path = [*PATH, field]
    if not isinstance(value, str) or len(value) > MAX_URL_LENGTH:
        errors.append(InvalidInput(f"At most {MAX_URL_LENGTH} characters.", path))
        return None
    try:
        server = parse_mail_url(value.strip(), expect=protocol)  # type: ignore[arg-type]
    except MailUrlError as exc:
        errors.append(InvalidInput(f"Not a usable {protocol.upper()} URL: {exc}.", path))
        return None
    if len(server.host) > 253:
        errors.append(InvalidInput("The host name is too long.", path))
        return None
    if protocol == "imap" and not (server.user and server.password):
        errors.append(InvalidInput("An IMAP URL needs a user and a password (imap://user:password@host).", path))
        return None
    return server


def mailbox_values(
    mailbox: Mapping[str, Any] | None, email_address: str | None, now: datetime, errors: list[DomainError]
) -> dict[str, Any]:
    """The identity's columns for `mailbox` (MailboxInput as plain data; None: no mailbox of its own).

    A field left out keeps its value, a null removes that half. A new IMAP URL starts a fresh cursor and is
    due for a read at once (the first read only marks where the inbox ends: mail.imap's from_now).
    """
    if mailbox is None:
        return clear_values()
    values: dict[str, Any] = {}
    wanted = {k: mailbox[k] for k in ("smtp_url", "imap_url") if k in mailbox}
    if any(v is not None for v in wanted.values()):
        keys = mailkeys.current()
        if keys.box is None:
            errors.append(
                InvalidInput("The server has no SECRET_KEY, so it cannot store a mailbox password: set it.", PATH)
            )
            return {}
    if "smtp_url" in wanted:
        url = wanted["smtp_url"]
        if url is None:
            values |= {"smtp_url_secret": None, "smtp_host": None}
        elif (server := _checked(url, "smtp", "smtpUrl", errors)) is not None:
            if email_address is None:
                errors.append(InvalidInput("A mailbox sends from the identity's emailAddress: set it.", PATH))
            values |= {"smtp_url_secret": keys.box.encrypt(url.strip()), "smtp_host": server.host}  # type: ignore[union-attr]
            values["email_connected"] = True
    if "imap_url" in wanted:
        url = wanted["imap_url"]
        if url is None:
            values |= {"imap_url_secret": None, "imap_host": None, **_cursor_values(None)}
        elif (server := _checked(url, "imap", "imapUrl", errors)) is not None:
            values |= {"imap_url_secret": keys.box.encrypt(url.strip()), "imap_host": server.host}  # type: ignore[union-attr]
            values |= _cursor_values(now)
            values["email_connected"] = True
    return values


def clear_values() -> dict[str, Any]:
    return {
        "smtp_url_secret": None,
        "smtp_host": None,
        "imap_url_secret": None,
        "imap_host": None,
        **_cursor_values(None),
    }


def _cursor_values(due: datetime | None) -> dict[str, Any]:
    return {
        "imap_uidvalidity": None,
        "imap_last_uid": None,
        "mailbox_synced_at": None,
        "mailbox_sync_error": None,
        "mailbox_sync_due_at": due,
        "mailbox_sync_claimed_until": None,
        "mailbox_sync_failures": 0,
    }


def server_of(secret: str | None, protocol: str) -> MailServer | None:
    """The stored, encrypted URL as a MailServer (None when there is none)."""
    if secret is None:
        return None
    box = mailkeys.current().box
    if box is None:
        raise MailUrlError("the server has no SECRET_KEY to open the stored mailbox")
    return parse_mail_url(box.decrypt(secret), expect=protocol)  # type: ignore[arg-type]
