"""The per-request context: who is asking (workspace) and the request's dataloaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import strawberry
from strawberry.dataloader import DataLoader

from domain import counters
from models import Activity, Campaign, Contact, Identity, Lead, SequenceStep, fastread
from models.workspace import Workspace

if TYPE_CHECKING:
    from live.hub import Hub
    from live.keys import KeyWatch


async def rows_by_id(model: Any, ids: list[int], workspace_id: int, only: frozenset[str] | None = None) -> list[Any]:
    """The workspace's rows of `model` for `ids`, in that order (None where there is none), in one query;
    `only`: just these columns (models/fastread.py)."""
    condition = fastread.where().among("id", set(ids)).equals("workspace_id", workspace_id)
    rows = {row.id: row for row in await fastread.select(model, condition, only=only)}
    return [rows.get(i) for i in ids]


def _by_id_loader(model: Any, workspace_id: int) -> DataLoader:
    """One query for every id asked for in the same tick, scoped to the workspace."""

    async def load(ids: list[int]) -> list[Any]:
        return await rows_by_id(model, ids, workspace_id)

    return DataLoader(load_fn=load)


def _step_loader() -> DataLoader:
    # Steps carry no workspace: they are only reached through an already-checked campaign or lead.
    async def load(ids: list[int]) -> list[SequenceStep | None]:
        rows = {row.id: row for row in await fastread.select(SequenceStep, fastread.where().among("id", set(ids)))}
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=load)


def _counters_loader() -> DataLoader:
    """A campaign's counters (numbers, version, updated_at), read once per request for every campaign asked."""

    async def load(ids: list[int]) -> list[tuple[dict[str, int], int, Any]]:
        numbers, versions = await counters.read_many(list(set(ids)))
        return [(numbers.get(i, {}), *versions.get(i, (0, None))) for i in ids]

    return DataLoader(load_fn=load)


def _sequence_loader() -> DataLoader:
    """A campaign's steps in position order. Reached only through an already-checked campaign."""

    async def load(ids: list[int]) -> list[list[SequenceStep]]:
        steps: dict[int, list[SequenceStep]] = {i: [] for i in ids}
        condition = fastread.where().among("campaign_id", set(ids))
        for step in await fastread.select(SequenceStep, condition, order_by=("campaign_id", "position")):
            steps[step.campaign_id].append(step)
        return [steps[i] for i in ids]

    return DataLoader(load_fn=load)


def _timeline_loader(workspace_id: int) -> DataLoader:
    """A lead's activities, oldest first (by (occurred_at, id))."""

    async def load(ids: list[int]) -> list[list[Activity]]:
        found: dict[int, list[Activity]] = {i: [] for i in ids}
        condition = fastread.where().among("lead_id", set(ids)).equals("workspace_id", workspace_id)
        rows = await fastread.select(Activity, condition, order_by=("lead_id", "occurred_at", "id"))
        for row in rows:
            found[row.lead_id].append(row)
        return [found[i] for i in ids]

    return DataLoader(load_fn=load)


@dataclass
class Loaders:
    workspace_id: int
    _cache: dict[str, DataLoader] = field(default_factory=dict)

    def _get(self, name: str, factory: Any) -> DataLoader:
        loader = self._cache.get(name)
        if loader is None:
            loader = self._cache[name] = factory()
        return loader

    @property
    def campaign(self) -> DataLoader:
        return self._get("campaign", lambda: _by_id_loader(Campaign, self.workspace_id))

    @property
    def contact(self) -> DataLoader:
        return self._get("contact", lambda: _by_id_loader(Contact, self.workspace_id))

    @property
    def identity(self) -> DataLoader:
        return self._get("identity", lambda: _by_id_loader(Identity, self.workspace_id))

    @property
    def lead(self) -> DataLoader:
        return self._get("lead", lambda: _by_id_loader(Lead, self.workspace_id))

    @property
    def step(self) -> DataLoader:
        return self._get("step", _step_loader)

    @property
    def counters(self) -> DataLoader:
        """campaign id -> (numbers by key, version, updated_at)."""
        return self._get("counters", _counters_loader)

    @property
    def sequence(self) -> DataLoader:
        """campaign id -> its steps in position order."""
        return self._get("sequence", _sequence_loader)

    @property
    def timeline(self) -> DataLoader:
        """lead id -> its activities, oldest first."""
        return self._get("timeline", lambda: _timeline_loader(self.workspace_id))

    def named(self, name: str, factory: Any) -> DataLoader:
        """A loader that a resolver module defines for itself (timeline, stats, ...)."""
        return self._get(name, factory)


@dataclass
class Context:
    """Built once per HTTP request, and once per websocket connection (its workspace is set at init)."""

    workspace: Workspace | None
    loaders: Loaders | None
    request: Any = None
    response: Any = None
    #: graphql-transport-ws `connection_init` payload (websockets only).
    connection_params: dict[str, Any] | None = None
    #: This process's live fan-out (made in the app's lifespan); subscriptions read from it.
    hub: Hub | None = None
    #: This process's revoked-key watch (made in the app's lifespan): websockets register their key with it.
    keys: KeyWatch | None = None
    #: The API key the request (or websocket) authenticated with.
    api_key_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def workspace_id(self) -> int:
        assert self.workspace is not None, "unauthenticated context"
        return self.workspace.id

    def fresh_loaders(self) -> Loaders:
        """Loaders for one subscription event: a websocket's context lives long, its data must not."""
        self.loaders = Loaders(self.workspace_id)
        return self.loaders


Info = strawberry.Info[Context, None]
