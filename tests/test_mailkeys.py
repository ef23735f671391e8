"""Where SECRET_KEY comes from (domain/mailkeys.py): set, generated beside SQLite, or absent on PostgreSQL."""

from __future__ import annotations

import logging
import stat
from pathlib import Path
from typing import Any

import pytest

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


def test_with_redis_an_unset_public_url_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    """Workers on another host than the API would sign links to their own 127.0.0.1:8000 (tests/test_hosts.py)."""
    common: dict[str, Any] = {"database_url": "postgres://x@127.0.0.1:5432/db", "secret_key": "k" * 32}
    common |= {"host": "127.0.0.1", "port": 8000}
    with caplog.at_level(logging.WARNING, logger="outbound.mail"):
        keys = mailkeys.from_settings(Settings(redis_url="redis://r:6379/0", public_url=None, _env_file=None, **common))
        assert keys.public_url == "http://127.0.0.1:8000"
        assert "PUBLIC_URL is not set" in caplog.text and "http://127.0.0.1:8000" in caplog.text
        caplog.clear()
        set_url = Settings(redis_url="redis://r:6379/0", public_url="https://out.example", _env_file=None, **common)
        assert mailkeys.from_settings(set_url).public_url == "https://out.example"
        embedded = Settings(redis_url=None, public_url=None, _env_file=None, **common)
        assert mailkeys.from_settings(embedded).public_url == "http://127.0.0.1:8000"  # one process: it is the API
        assert "PUBLIC_URL" not in caplog.text


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
