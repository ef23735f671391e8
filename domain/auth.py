"""API keys: creating and revoking them, and finding who a key authenticates.

A workspace has any number of named keys, stored hashed (models/workspace.py). Every request looks its key up,
so an API process keeps what it found in a `KeyCache`, made by its lifespan (server.py's AppState) like the bus
and the hub, never on import; a revocation does not wait for that cache to age:

- `revoke_api_key` announces `KeyRevoked` (domain/tx.py) when its transaction commits; the API's wiring
  (live/keys.py, which holds the process's cache) evicts the key here at once, publishes it on the bus, and
  every other API process evicts it and closes the websockets opened with it (4403) as soon as it arrives;
- Redis pub/sub is at-most-once: when the bus reconnects, the whole cache is dropped (`KeyCache.clear`)
  and open websockets are checked again (live/keys.py). The cache's age limit (`KeyCache.TTL`) is only a last
  resort for an invalidation lost some other way, never the way a revocation takes effect.

Code that runs without a lifespan (an app served with no lifespan, a CLI) calls `authenticate` with no cache:
every call reads the database, which is always correct, only slower.

`lastUsedAt` is written at most once a minute per key and process (a conditional UPDATE), not per request.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

from tortoise.expressions import Q

from domain.errors import InvalidInput, NotFound
from domain.tx import announce, transaction
from models import ApiKey, Workspace
from models.workspace import KEY_NAME_MAX, hash_api_key, new_api_key

#: lastUsedAt is written at most this often per key and process.
LAST_USED_EVERY = 60.0


@dataclass(slots=True)
class Authenticated:
    """Who a request is: the key's workspace, and the key (its id names it in revocations)."""

    workspace: Workspace
    key_id: int


@dataclass(slots=True)
class _Entry:
    expires: float
    found: Authenticated | None
    #: When this process last wrote the key's last_used_at (monotonic), 0 if never.
    written: float = 0.0


@dataclass(frozen=True, slots=True)
class KeyRevoked:
    """A key was revoked: every API process evicts it and closes its websockets (live/keys.py)."""

    key_id: int
    workspace_id: int


class KeyCache:
    """One API process's keys found lately, by hash (module docstring): made by the lifespan, evicted by
    live/keys.py on a revocation (here or on another process) and dropped whole when the bus reconnects."""

    #: A last resort only (module docstring): revocations evict at once.
    TTL = 300.0
    #: Past this many keys the cache starts over (a flood of made-up keys cannot grow it without bound).
    MAX = 10_000

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    async def authenticate(self, raw_key: str | None) -> Authenticated | None:
        """Who a key authenticates, or None (no such key, or revoked); the database is read once per TTL."""
        if not _plausible(raw_key):
            return None
        digest = hash_api_key(raw_key)
        now = time.monotonic()
        entry = self._entries.get(digest)
        if entry is None or entry.expires <= now:
            found = await _find(digest)
            if len(self._entries) >= self.MAX:
                self._entries.clear()
            entry = self._entries[digest] = _Entry(now + self.TTL, found)
        if entry.found is not None and now - entry.written >= LAST_USED_EVERY:
            entry.written = now
            await _touch(entry.found.key_id)
        return entry.found

    def forget_key(self, key_id: int) -> None:
        """Evict one key: its next request reads the database (and finds it revoked)."""
        for digest in [d for d, e in self._entries.items() if e.found is not None and e.found.key_id == key_id]:
            del self._entries[digest]

    def clear(self) -> None:
        """Forget every key (after a gap in the bus: revocations may have been missed meanwhile)."""
        self._entries.clear()


async def create_workspace(name: str) -> tuple[Workspace, str]:
    """A new workspace and its first API key. The raw key is returned once and never stored."""
    workspace = await Workspace.create(name=name)
    _, raw = await create_api_key(workspace.id, "first key")
    return workspace, raw


def check_key_name(name: str) -> str:
    """1 to KEY_NAME_MAX characters once trimmed, with no control characters (NUL, newlines, tabs...)."""
    trimmed = name.strip() if isinstance(name, str) else ""
    if not trimmed:
        raise InvalidInput("A key needs a name.", field=["name"])
    if len(trimmed) > KEY_NAME_MAX:
        raise InvalidInput(f"A key's name is at most {KEY_NAME_MAX} characters.", field=["name"])
    if any(unicodedata.category(ch) == "Cc" for ch in trimmed):
        raise InvalidInput("A key's name may not contain control characters.", field=["name"])
    return trimmed


async def create_api_key(workspace_id: int, name: str) -> tuple[ApiKey, str]:
    """A new key of the workspace: (its row, the raw key). The raw key is never stored, only its hash."""
    checked = check_key_name(name)
    raw = new_api_key()
    key = await ApiKey.create(workspace_id=workspace_id, name=checked, key_hash=hash_api_key(raw), prefix=raw[:12])
    return key, raw


async def list_api_keys(workspace_id: int) -> list[ApiKey]:
    """Every key of the workspace, revoked ones included (with revokedAt), oldest first."""
    return await ApiKey.filter(workspace_id=workspace_id).order_by("id")


async def revoke_api_key(workspace_id: int, key_id: int | None) -> ApiKey:
    """Revoke a key of the workspace (the one in use too). An unknown or foreign key is NOT_FOUND; a key
    already revoked is returned as it is (a no-op: its revokedAt stays the first one, nothing is announced)."""
    async with transaction() as conn:
        key = None if key_id is None else await ApiKey.get_or_none(id=key_id, workspace_id=workspace_id, using_db=conn)
        if key is None:
            raise NotFound("No such API key in this workspace.", field=["id"])
        if key.revoked_at is not None:
            return key
        now = datetime.now(UTC)
        changed = await ApiKey.filter(id=key.id, revoked_at=None).using_db(conn).update(revoked_at=now)
        if not changed:  # revoked meanwhile by someone else: theirs is the revocation
            return await ApiKey.get(id=key.id, using_db=conn)
        key.revoked_at = now
        announce(KeyRevoked(key.id, workspace_id))
    return key


def parse_bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(raw_key: str | None, cache: KeyCache | None) -> Authenticated | None:
    """Who a key authenticates, or None: through the process's cache when it has one (module docstring)."""
    if cache is not None:
        return await cache.authenticate(raw_key)
    if not _plausible(raw_key):
        return None
    found = await _find(hash_api_key(raw_key))
    if found is not None:
        await _touch(found.key_id)  # the WHERE keeps it to once a minute
    return found


def key_cache_of(scope: Mapping[str, Any]) -> KeyCache | None:
    """The process's cache from an ASGI scope: the lifespan's state (server.py's AppState) under `key_cache`;
    None when no lifespan ran."""
    state = scope.get("state") or {}
    cache = state.get("key_cache")
    return cache if isinstance(cache, KeyCache) else None


def _plausible(raw_key: str | None) -> TypeGuard[str]:
    return bool(raw_key) and len(raw_key or "") <= 200


async def _find(digest: str) -> Authenticated | None:
    key = await ApiKey.get_or_none(key_hash=digest, revoked_at=None).select_related("workspace")
    return Authenticated(key.workspace, key.id) if key is not None else None


async def _touch(key_id: int) -> None:
    """lastUsedAt, at most once a minute per key whatever the number of processes (the WHERE says so)."""
    now = datetime.now(UTC)
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - timedelta(seconds=LAST_USED_EVERY))
    await ApiKey.filter(stale, id=key_id, revoked_at=None).update(last_used_at=now)


async def revoked_among(key_ids: set[int]) -> set[int]:
    """Which of these keys are revoked (or gone) now: for websockets checked again after a bus gap."""
    if not key_ids:
        return set()
    live = await ApiKey.filter(id__in=key_ids, revoked_at=None).values_list("id", flat=True)
    return key_ids - set(live)
