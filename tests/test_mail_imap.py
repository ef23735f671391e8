"""mail.imap against a real IMAP server (pymap, started by tests/mailservers.py)."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from mail.classify import Kind, classify
from mail.errors import MailboxAuthError, MailboxProtocolError, MailboxUnreachable
from mail.imap import MailboxCursor, fetch_new
from mail.secrets import parse_mail_url
from tests.mailservers import PymapServer, Tls, free_port, self_signed_tls, tls_front

USER, PASSWORD = "sam@outbound.test", "imap-pass-1"


@pytest.fixture(scope="module")
def imap() -> Iterator[PymapServer]:
    with PymapServer(USER, PASSWORD) as server:
        yield server


@pytest.fixture
def folder() -> str:
    return f"Test-{uuid.uuid4().hex[:8]}"  # each test reads its own folder of the one server


def raw_message(n: int, *, in_reply_to: str | None = None) -> bytes:
    headers = [
        f"From: Lead {n} <lead{n}@example.com>",
        f"To: {USER}",
        f"Subject: Re: Quick question {n}",
        f"Message-ID: <inbound-{n}-{uuid.uuid4().hex}@example.com>",
        "Date: Tue, 01 Dec 2026 10:00:00 +0000",
    ]
    if in_reply_to:
        headers.append(f"In-Reply-To: {in_reply_to}")
    return ("\r\n".join(headers) + f"\r\n\r\nYes, let's talk. ({n})\r\n").encode()


async def test_incremental_fetch_reads_each_message_once(imap: PymapServer, folder: str) -> None:
    server = parse_mail_url(imap.url(folder))
    uids = [imap.append(raw_message(n), folder) for n in (1, 2)]

    first = await fetch_new(server, None)
    assert first.reset is True and first.more is False
    assert [m.uid for m in first.messages] == uids
    assert b"Yes, let's talk. (1)" in first.messages[0].raw
    assert first.cursor == MailboxCursor(imap.uidvalidity(folder), uids[-1])
    assert b"\\Seen" not in imap.flags(uids[0], folder)  # reading the inbox does not mark mail as read

    nothing = await fetch_new(server, first.cursor)
    assert nothing.messages == () and nothing.cursor == first.cursor and nothing.reset is False

    third = imap.append(raw_message(3), folder)
    later = await fetch_new(server, first.cursor)
    assert [m.uid for m in later.messages] == [third]
    assert later.cursor.last_uid == third and later.reset is False


async def test_limit_pages_through_the_folder(imap: PymapServer, folder: str) -> None:
    server = parse_mail_url(imap.url(folder))
    uids = [imap.append(raw_message(n), folder) for n in range(5)]
    seen: list[int] = []
    cursor = None
    for _ in range(5):
        result = await fetch_new(server, cursor, limit=2)
        seen.extend(m.uid for m in result.messages)
        cursor = result.cursor
        if not result.more:
            break
    assert seen == uids


async def test_from_now_skips_what_is_already_there(imap: PymapServer, folder: str) -> None:
    server = parse_mail_url(imap.url(folder))
    imap.append(raw_message(1), folder)
    start = await fetch_new(server, None, from_now=True)
    assert start.messages == ()
    new = imap.append(raw_message(2), folder)
    assert [m.uid for m in (await fetch_new(server, start.cursor)).messages] == [new]


async def test_uidvalidity_change_reads_the_folder_again(imap: PymapServer, folder: str) -> None:
    server = parse_mail_url(imap.url(folder))
    imap.append(raw_message(1), folder)
    before = await fetch_new(server, None)

    imap.recreate_folder(folder)
    imap.append(raw_message(2), folder)
    imap.append(raw_message(3), folder)
    assert imap.uidvalidity(folder) != before.cursor.uidvalidity

    after = await fetch_new(server, before.cursor)
    assert after.reset is True
    assert after.cursor.uidvalidity == imap.uidvalidity(folder)
    assert [b"(2)" in m.raw or b"(3)" in m.raw for m in after.messages] == [True, True]


async def test_wrong_password_is_an_auth_error_and_fast(imap: PymapServer, folder: str) -> None:
    server = parse_mail_url(imap.url(folder, password="wrong"))
    started = time.monotonic()
    with pytest.raises(MailboxAuthError) as caught:
        await fetch_new(server, None, command_timeout=10)
    assert time.monotonic() - started < 5
    assert "wrong" not in str(caught.value)  # the password never appears in the error


async def test_missing_folder_is_a_protocol_error(imap: PymapServer) -> None:
    with pytest.raises(MailboxProtocolError):
        await fetch_new(parse_mail_url(imap.url("Does-Not-Exist")), None)


async def test_refused_connection_is_unreachable() -> None:
    server = parse_mail_url(f"imap://u:p@127.0.0.1:{free_port()}/INBOX")
    with pytest.raises(MailboxUnreachable):
        await fetch_new(server, None, command_timeout=5)


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A server that accepts connections and never says hello."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = await asyncio.start_server(hold, sock=sock)
    yield int(sock.getsockname()[1])
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_a_server_that_never_answers_times_out_as_unreachable(silent_server: int) -> None:
    server = parse_mail_url(f"imap://u:p@127.0.0.1:{silent_server}/INBOX")
    started = time.monotonic()
    with pytest.raises(MailboxUnreachable):
        await fetch_new(server, None, command_timeout=1)
    assert time.monotonic() - started < 4


async def test_fetched_messages_classify_as_replies(imap: PymapServer, folder: str) -> None:
    """The whole inbound path on real bytes: APPEND, fetch, classify."""
    imap.append(raw_message(1, in_reply_to="<ours-1@outbound.test>"), folder)
    result = await fetch_new(parse_mail_url(imap.url(folder)), None)
    outcome = classify(result.messages[0].raw, our_message_ids={"<ours-1@outbound.test>"}, lead_addresses=set())
    assert (outcome.kind, outcome.positive, outcome.message_id_ref) == (Kind.REPLY, True, "<ours-1@outbound.test>")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return self_signed_tls(Path(tmp_path_factory.mktemp("tls")))


async def test_imaps_reads_over_implicit_tls(imap: PymapServer, folder: str, certs: Tls) -> None:
    uid = imap.append(raw_message(1), folder)
    async with tls_front(imap.port, certs.server) as port:
        server = parse_mail_url(f"imaps://{USER}:{PASSWORD}@127.0.0.1:{port}/{folder}")
        result = await fetch_new(server, None, ssl_context=certs.client)
        assert [m.uid for m in result.messages] == [uid]
        # The default context trusts only real CAs: a self-signed server is refused, as unreachable.
        with pytest.raises(MailboxUnreachable):
            await fetch_new(server, None, ssl_context=ssl.create_default_context(), command_timeout=5)


async def test_two_concurrent_reads_both_succeed_and_see_the_same_messages(imap: PymapServer, folder: str) -> None:
    """The reader holds no state of its own: two workers may read one folder at once. Both get the same
    messages, which is why counting each message once is the caller's job (by Message-ID)."""
    server = parse_mail_url(imap.url(folder))
    uids = [imap.append(raw_message(n), folder) for n in (1, 2)]
    first, second = await asyncio.gather(fetch_new(server, None), fetch_new(server, None))
    assert [m.uid for m in first.messages] == [m.uid for m in second.messages] == uids
