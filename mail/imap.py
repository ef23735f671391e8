"""An incremental reader of one IMAP folder, over aioimaplib.

aioimaplib rather than imapclient in a thread: the workers that will call this are asyncio (Dramatiq's
AsyncIO middleware, the scheduler), and a thread per mailbox sync would hold a thread for every slow
server; aioimaplib's per-command timeouts also give the "never hangs a worker" property directly. What it
lacks is STARTTLS, so imap:// is plain text (fine for a loopback or test server) and imaps:// is implicit
TLS, which is what every mail provider offers on port 993.

Reading is UID-based: the caller keeps a `MailboxCursor` (UIDVALIDITY, last UID processed) and passes it
back; only messages with a higher UID are fetched, with BODY.PEEK[] so the user's \\Seen flags never
change. When the server's UIDVALIDITY differs from the cursor's, the old UIDs mean
nothing any more: the folder is read again from the start (`reset=True`) and the caller must skip what it
already processed by Message-ID. Two concurrent reads of one folder may fetch the same messages; making
each message count once is the caller's job (a unique Message-ID per identity), as domain.md requires.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from dataclasses import dataclass

import aioimaplib  # type: ignore[import-untyped]  # ships no py.typed

from mail.errors import MailboxAuthError, MailboxProtocolError, MailboxUnreachable
from mail.secrets import MailServer

DEFAULT_TIMEOUT = 30.0
DEFAULT_LIMIT = 200
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]")
_FETCH_UID = re.compile(rb"\bUID (\d+)\b")


@dataclass(frozen=True, slots=True)
class MailboxCursor:
    uidvalidity: int
    last_uid: int


@dataclass(frozen=True, slots=True)
class FetchedMessage:
    uid: int
    raw: bytes


@dataclass(frozen=True, slots=True)
class FetchResult:
    cursor: MailboxCursor  # store it once the messages are processed; pass it to the next read
    messages: tuple[FetchedMessage, ...]  # in UID order
    reset: bool  # UIDVALIDITY changed (or first read): messages start from the folder's beginning
    more: bool  # `limit` was reached: read again to get the rest


async def fetch_new(
    server: MailServer,
    cursor: MailboxCursor | None,
    *,
    limit: int = DEFAULT_LIMIT,
    command_timeout: float = DEFAULT_TIMEOUT,
    from_now: bool = False,
    ssl_context: ssl.SSLContext | None = None,
) -> FetchResult:
    """Messages of `server.folder` with a UID above the cursor's, at most `limit` of them.

    `from_now`: with no cursor (a mailbox just connected), skip what is already there and return a cursor
    at the folder's end. Raises MailboxAuthError (credentials refused), MailboxUnreachable (connection,
    TLS, a command unanswered for `command_timeout` seconds) or MailboxProtocolError (no such folder, an
    unexpected answer).
    """
    if server.protocol != "imap":
        raise ValueError(f"not an IMAP server: {server.redacted()}")
    client = await _connect(server, command_timeout, ssl_context)
    try:
        return await _read(client, server, cursor, limit=limit, from_now=from_now)
    except (TimeoutError, aioimaplib.CommandTimeout) as exc:
        raise MailboxUnreachable(f"{server.redacted()}: no answer within {command_timeout:g}s") from exc
    except (OSError, aioimaplib.IncompleteRead) as exc:
        raise MailboxUnreachable(f"{server.redacted()}: connection lost ({type(exc).__name__})") from exc
    except aioimaplib.AioImapException as exc:
        raise MailboxProtocolError(f"{server.redacted()}: {exc}") from exc
    finally:
        await _close(client)


async def _connect(server: MailServer, command_timeout: float, ssl_context: ssl.SSLContext | None) -> aioimaplib.IMAP4:
    try:
        if server.tls == "implicit":
            client: aioimaplib.IMAP4 = aioimaplib.IMAP4_SSL(
                server.host, server.port, timeout=command_timeout, ssl_context=ssl_context
            )
        else:
            client = aioimaplib.IMAP4(server.host, server.port, timeout=command_timeout)
        await client.wait_hello_from_server()
    except TimeoutError as exc:
        raise MailboxUnreachable(f"{server.redacted()}: no greeting within {command_timeout:g}s") from exc
    except (OSError, ssl.SSLError) as exc:  # refused, DNS, TLS handshake (SSLError is an OSError too)
        raise MailboxUnreachable(f"{server.redacted()}: {type(exc).__name__}: {exc.strerror or exc}") from exc
    return client


async def _read(
    client: aioimaplib.IMAP4, server: MailServer, cursor: MailboxCursor | None, *, limit: int, from_now: bool
) -> FetchResult:
    login = await client.login(aioimaplib.quoted(server.user or ""), server.password or "")
    if login.result != "OK":
        raise MailboxAuthError(f"{server.redacted()}: login refused: {_text(login.lines)}")
    folder = server.folder or "INBOX"
    # SELECT, not EXAMINE: aioimaplib only allows FETCH after SELECT. BODY.PEEK[] still leaves \Seen alone.
    examined = await client.select(aioimaplib.quoted(folder))
    if examined.result != "OK":
        raise MailboxProtocolError(f"{server.redacted()}: cannot open folder {folder!r}: {_text(examined.lines)}")
    uidvalidity = _number(_UIDVALIDITY, examined.lines)
    if uidvalidity is None:
        raise MailboxProtocolError(f"{server.redacted()}: the server gave no UIDVALIDITY for {folder!r}")

    reset = cursor is None or cursor.uidvalidity != uidvalidity
    last = 0 if reset or cursor is None else cursor.last_uid
    if cursor is None and from_now:
        uidnext = _number(_UIDNEXT, examined.lines)
        end = uidnext - 1 if uidnext is not None else max(await _uids_above(client, 0), default=0)
        return FetchResult(MailboxCursor(uidvalidity, end), (), reset=True, more=False)

    uids = await _uids_above(client, last)
    batch, more = uids[:limit], len(uids) > limit
    messages = await _fetch(client, batch) if batch else ()
    highest = max((m.uid for m in messages), default=last)
    return FetchResult(MailboxCursor(uidvalidity, highest), messages, reset=reset, more=more)


async def _uids_above(client: aioimaplib.IMAP4, last: int) -> list[int]:
    # "n:*" always includes the highest UID even when it is below n (RFC 3501 §6.4.8): filter again.
    found = await client.uid_search("UID", f"{last + 1}:*", charset=None)
    if found.result != "OK":
        raise MailboxProtocolError(f"UID SEARCH failed: {_text(found.lines)}")
    uids: list[int] = []
    for line in found.lines[:-1]:  # the last line is the tagged "SEARCH completed"
        uids.extend(int(token) for token in line.split() if token.isdigit())
    return sorted(u for u in set(uids) if u > last)


async def _fetch(client: aioimaplib.IMAP4, uids: list[int]) -> tuple[FetchedMessage, ...]:
    answer = await client.uid("fetch", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
    if answer.result != "OK":
        raise MailboxProtocolError(f"UID FETCH failed: {_text(answer.lines)}")
    # aioimaplib gives: b"1 FETCH (UID 101 BODY[] {56}", bytearray(literal), b")" per message; a server
    # may also put UID after the literal (b" UID 101)").
    messages: dict[int, bytes] = {}
    lines = answer.lines
    for index, line in enumerate(lines):
        if not isinstance(line, bytearray):
            continue
        uid = _number(_FETCH_UID, [lines[index - 1]] if index else [])
        if uid is None and index + 1 < len(lines):
            uid = _number(_FETCH_UID, [lines[index + 1]])
        if uid is not None and uid in uids:
            messages[uid] = bytes(line)
    return tuple(FetchedMessage(uid, messages[uid]) for uid in sorted(messages))


async def _close(client: aioimaplib.IMAP4) -> None:
    try:
        if client.get_state() in ("AUTH", "SELECTED", "NONAUTH"):
            await asyncio.wait_for(client.logout(), 5)
    except (TimeoutError, OSError, aioimaplib.AioImapException):
        pass  # the server went away: closing the socket below is all that is left to do
    transport = getattr(client.protocol, "transport", None)
    if transport is not None:
        transport.close()


def _number(pattern: re.Pattern[bytes], lines: list[bytes] | list[bytes | bytearray]) -> int | None:
    for line in lines:
        match = pattern.search(bytes(line))
        if match:
            return int(match.group(1))
    return None


def _text(lines: list[bytes]) -> str:
    return " ".join(bytes(line).decode("utf-8", "replace") for line in lines)[:300]
