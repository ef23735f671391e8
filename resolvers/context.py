"""The per-request context: who is asking (workspace) and the request's dataloaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from models import Campaign, Contact, Identity, Lead, SequenceStep
from models.workspace import Workspace


def _by_id_loader(model: Any, workspace_id: int) -> DataLoader:
    """One query for every id asked for in the same tick, scoped to the workspace."""

    async def load(ids: list[int]) -> list[Any]:
        rows = {row.id: row for row in await model.filter(id__in=set(ids), workspace_id=workspace_id)}
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=load)


def _step_loader() -> DataLoader:
    # Steps carry no workspace: they are only reached through an already-checked campaign or lead.
    async def load(ids: list[int]) -> list[SequenceStep | None]:
        rows = {row.id: row for row in await SequenceStep.filter(id__in=set(ids))}
        return [rows.get(i) for i in ids]

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
