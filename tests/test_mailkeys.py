"""Where SECRET_KEY comes from (domain/mailkeys.py): set, generated beside SQLite, or absent on PostgreSQL."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from config import Settings
from domain import mailkeys

CREATE = """mutation($input: IdentityInput!) { createIdentity(input: $input) {
  identity { id } errors { code message field } } }"""


def test_the_embedded_default_generates_one_key_and_keeps_it(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite://{tmp_path / 'db.sqlite3'}", _env_file=None)
    settings.secret_key = None
    first = mailkeys.from_settings(settings)
    path = tmp_path / "db.sqlite3.secret-key"
    assert first.box is not None and path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = mailkeys.from_settings(settings)
    assert again.secret_key == first.secret_key  # a restart opens the passwords stored before
    assert first.secret_key not in repr(first)


def test_postgresql_without_a_key_has_none() -> None:
    settings = Settings(database_url="postgres://x@127.0.0.1:5432/db", _env_file=None)
    settings.secret_key = None
    keys = mailkeys.from_settings(settings)
    assert keys.box is None and keys.signing_key is None


async def test_without_a_key_a_mailbox_is_refused_and_nothing_stored(gql: Any) -> None:
    from models import Identity

    previous = mailkeys.current()
    mailkeys.install(mailkeys.MailKeys.of("http://127.0.0.1:8000", None))
    try:
        mailbox = {"smtpUrl": "smtp://u:p@127.0.0.1:2525"}
        data = await gql(CREATE, {"input": {"name": "Sam", "emailAddress": "sam@x.example", "mailbox": mailbox}})
    finally:
        mailkeys.install(previous)
    (error,) = data["createIdentity"]["errors"]
    assert error["code"] == "INVALID_INPUT" and "SECRET_KEY" in error["message"]
    assert error["field"] == ["input", "mailbox"]
    assert not await Identity.exists()
