"""The mail secrets of this process: the key that encrypts mailbox passwords and signs link tokens, and the
public URL those links point at.

Where SECRET_KEY comes from (decided here, documented in the README's settings):
- SECRET_KEY set: that. Every process of a deployment must share it.
- unset, SQLite (the embedded default, one machine): a random key generated once into `FILE.secret-key`
  beside the database file, mode 0600, created exclusively so two processes starting together agree.
- unset, PostgreSQL (a deployment, several machines): no key. A key made up by one machine would not open
  another's passwords, so storing a mailbox is refused (INVALID_INPUT naming SECRET_KEY), and emails go out
  without signed links (no tracked clicks, no one-click unsubscribe header) until it is set; a warning
  says so at start.

The process wiring installs the keys when it starts (tasks/runtime.py, a worker's middleware); code that
runs without that wiring (a CLI command, a test) gets them from the settings on first use.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from config import Settings, get_settings
from mail.secrets import PasswordBox, derive_signing_key

log = logging.getLogger("outbound.mail")


@dataclass(frozen=True)
class MailKeys:
    public_url: str
    secret_key: str | None = field(repr=False)
    box: PasswordBox | None = field(default=None, repr=False)
    signing_key: bytes | None = field(default=None, repr=False)
    #: How often each inbox is read (MAILBOX_SYNC_SECONDS).
    sync_seconds: float = 60.0

    @classmethod
    def of(cls, public_url: str, secret_key: str | None, sync_seconds: float = 60.0) -> MailKeys:
        base = public_url.rstrip("/")
        if secret_key is None:
            return cls(base, None, sync_seconds=sync_seconds)
        return cls(base, secret_key, PasswordBox(secret_key), derive_signing_key(secret_key), sync_seconds)

    def __repr__(self) -> str:  # never the key
        return f"MailKeys({self.public_url}, secret_key={'set' if self.secret_key else 'unset'})"


DEMO_SYNC_SECONDS = 5.0
_installed: MailKeys | None = None


def secret_key_file(database_url: str) -> Path | None:
    """Where the embedded default keeps its generated key: beside the SQLite file (None: not SQLite)."""
    if not database_url.startswith("sqlite://"):
        return None
    path = database_url.removeprefix("sqlite://")
    if not path or path.startswith(":memory:"):
        return Path("outbound.secret-key")
    return Path(path + ".secret-key")


def _generated_key(path: Path) -> str:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        key = secrets.token_urlsafe(32)
        out.write(key + "\n")
    log.info("generated a SECRET_KEY into %s (mode 0600)", path)
    return key


def from_settings(settings: Settings) -> MailKeys:
    key = settings.secret_key
    if key is None:
        path = secret_key_file(settings.database_url)
        if path is not None:
            key = _generated_key(path)
        else:
            log.warning(
                "SECRET_KEY is not set: mailboxes cannot be connected, and emails go out without click tracking"
                " or one-click unsubscribe links"
            )
    if key is not None and settings.public_url is None and not settings.embedded:
        # With Redis, the processes that sign links (the workers) may run on other hosts than the API: their
        # own HOST:PORT (127.0.0.1:8000 by default) is then an address no lead's mail client reaches.
        log.warning(
            "PUBLIC_URL is not set: the click and unsubscribe links in emails sent from this process point at"
            " %s (its own HOST:PORT); set PUBLIC_URL to the API's public address in every process",
            settings.public_base_url,
        )
    sync = settings.mailbox_sync_seconds
    if settings.demo and "mailbox_sync_seconds" not in settings.model_fields_set:
        sync = DEMO_SYNC_SECONDS  # the demo reads fast, so an answer shows within seconds
    return MailKeys.of(settings.public_base_url, key, sync)


def install(keys: MailKeys | None) -> None:
    global _installed
    _installed = keys


def current() -> MailKeys:
    global _installed
    if _installed is None:
        _installed = from_settings(get_settings())
    return _installed
