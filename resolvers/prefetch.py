"""Relations of a page's rows loaded up front and attached to the rows, so that their fields return plain values.

A relation field that returns a dataloader future makes graphql-core gather it in an asyncio task: four tasks
per row on a 50-row page with three relations, plus the per-task bookkeeping around them. Loaded here (one
query per relation and level, by the dataloaders' own batch functions), the fields return the attached
objects and the whole list completes synchronously. A level's keys are already one batch, so `load_many`
(a future, a cache entry and a callback per key: a tenth of a page) is skipped; what was loaded is kept for
the request's later levels. Rows found by id read only the columns their selection needs, when that is known
(`needed_columns`), as an auto-generated SQL API would. A row that was not
prefetched (reached another way) still goes through the dataloaders (`resolvers/fields.py`).

Steps are read as the campaign's whole sequence (the `sequence` loader's query, a handful of rows): a lead's
current step and its timeline's steps then come from one query per page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema
from strawberry.types.nodes import FragmentSpread, InlineFragment, Selection

from compat import cached_future, raw_info
from models import Activity, Campaign, Contact, Lead, SequenceStep, Task, fastread
from resolvers.context import Info, Loaders, rows_by_id

#: The row attribute holding {GraphQL field name: attached value}; set around Tortoise's __setattr__.
_ATTR = "_prefetched"

#: What `attached` returns for a relation that was not prefetched on that row.
MISSING: Any = object()


def attached(row: Any, name: str) -> Any:
    """The value prefetched for relation `name` of `row` (None is a value), or MISSING."""
    values = row.__dict__.get(_ATTR)
    return MISSING if values is None else values.get(name, MISSING)


def attach(row: Any, name: str, value: Any) -> None:
    """Attach `value` as what field `name` of `row` answers (see `attached`)."""
    values = row.__dict__.get(_ATTR)
    if values is None:
        values = row.__dict__[_ATTR] = {}
    values[name] = value


@dataclass(frozen=True, slots=True)
class Relation:
    """How a relation field of a model is loaded: the loader, the row's key for it, and the value picked."""

    loader: Callable[[Loaders], Any]
    key: Callable[[Any], int | None]
    #: The attributes of the row that `key` and `pick` read.
    uses: tuple[str, ...]
    #: From what the loader returned for the key to the field's value (the default: the loaded value itself).
    pick: Callable[[Any, Any], Any] | None = None
    #: For a row of another model found by its id in the workspace: that model. Only the columns the
    #: selection needs are then read (models/fastread.py `only`), as the loader would otherwise read all.
    model: type | None = None


def _step_of(column: str) -> Relation:
    """A step relation read from the campaign's sequence: None when the row has no step (or it is gone)."""

    def pick(row: Any, steps: list[SequenceStep]) -> SequenceStep | None:
        wanted = getattr(row, column)
        return next((s for s in steps if s.id == wanted), None)

    def key(row: Any) -> int | None:
        return row.campaign_id if getattr(row, column) is not None else None

    return Relation(lambda ls: ls.sequence, key, ("campaign_id", column), pick)


_CONTACT = Relation(lambda ls: ls.contact, lambda row: row.contact_id, ("contact_id",), model=Contact)
_LEAD = Relation(lambda ls: ls.lead, lambda row: row.lead_id, ("lead_id",), model=Lead)

#: The relation fields of each model, by GraphQL field name (as `SelectedField.name` spells it).
RELATIONS: dict[type, dict[str, Relation]] = {
    Lead: {
        "contact": _CONTACT,
        "campaign": Relation(lambda ls: ls.campaign, lambda row: row.campaign_id, ("campaign_id",), model=Campaign),
        "currentStep": _step_of("current_step_id"),
        "timeline": Relation(lambda ls: ls.timeline, lambda row: row.id, ("id",)),
    },
    Activity: {"lead": _LEAD, "contact": _CONTACT, "step": _step_of("step_id")},
    Task: {"lead": _LEAD, "step": _step_of("step_id")},
}


def needed_columns(schema: GraphQLSchema, model: type, selections: list[Selection]) -> frozenset[str] | None:
    """The attributes of `model` that `selections` read, or None when that is not known (read them all).

    Known: `id`, `__typename`, a field that reads a column of the same name (a plain attribute:
    schema/direct.py) and a relation of RELATIONS (its key's columns). Anything else (a resolver, a property
    such as `fullName`) may read any column.
    """
    gql_type = schema.type_map.get(model.__name__)
    if not isinstance(gql_type, GraphQLObjectType):
        return None
    columns = fastread.columns_of(model)
    relations = RELATIONS.get(model, {})
    needed = {"id"}
    for name in fields_of(selections):
        if name in ("id", "__typename"):
            continue
        relation = relations.get(name)
        if relation is not None:
            needed.update(relation.uses)
            continue
        field = gql_type.fields.get(name)
        attribute = getattr(field.resolve, "_attribute", None) if field is not None else None
        if attribute not in columns:
            return None
        needed.add(attribute)
    return frozenset(needed)


def fields_of(selections: Iterable[Selection]) -> dict[str, list[Selection]]:
    """Selected field name -> the sub-selections of every occurrence (aliases merged, fragments flattened)."""
    found: dict[str, list[Selection]] = {}
    pending = list(selections)
    while pending:
        sel = pending.pop()
        if isinstance(sel, (FragmentSpread, InlineFragment)):
            pending.extend(sel.selections)
        else:
            found.setdefault(sel.name, []).extend(sel.selections)
    return found


def connection_fields(info: Info) -> dict[str, list[Selection]]:
    """What a connection field's selection asks for: its fields, with each one's sub-selections."""
    return fields_of(s for field in info.selected_fields for s in field.selections)


def connection_nodes(fields: dict[str, list[Selection]]) -> list[Selection]:
    """What a connection's selection asks of each node, under `nodes` and under `edges { node }`."""
    return fields.get("nodes", []) + fields_of(fields.get("edges", [])).get("node", [])


async def prefetch(info: Info, rows: list[Any], selections: list[Selection]) -> None:
    """Attach to `rows` every relation that `selections` asks for, level by level (a level's loads run at once)."""
    level = [(rows, selections)]
    while level:
        jobs = []
        for group, sels in level:
            relations = RELATIONS.get(type(group[0])) if group else None
            if relations is None:
                continue
            for name, subselections in fields_of(sels).items():
                relation = relations.get(name)
                if relation is not None:
                    keys = list({k for k in map(relation.key, group) if k is not None})
                    jobs.append((group, name, relation, subselections, keys))
        results = await asyncio.gather(*(_load_relation(info, job[2], job[4], job[3]) for job in jobs))
        level = []
        for (group, name, relation, subselections, keys), values in zip(jobs, results, strict=True):
            loaded = _attach_all(group, name, relation, dict(zip(keys, values, strict=True)))
            if subselections and loaded:
                level.append((loaded, subselections))


async def _load_relation(info: Info, relation: Relation, keys: list[int], selections: list[Selection]) -> list[Any]:
    """The related rows for `keys`, by the loader's batch function directly, without `load_many` (the keys are
    already one batch: a future, a cache entry and a callback per key were a tenth of a page).

    Rows the request already holds whole (loaded by an earlier level, or through the dataloader itself: the
    side panel's lead) are reused. For the rest, when they are found by id and the selection's columns are
    known, only those columns are read (an Activity page's `lead { id status }` reads 2 of the lead's 36);
    such partial rows are not kept for later levels, which may need more.
    """
    loaders = info.context.loaders
    assert loaders is not None, "an authenticated context has its loaders"
    loader = relation.loader(loaders)
    known: dict[int, Any] = loader.__dict__.setdefault("_prefetched", {})
    missing = []
    for key in keys:
        if key not in known:
            future = cached_future(loader, key)
            if future is not None and future.done() and future.exception() is None:
                known[key] = future.result()
            else:
                missing.append(key)
    if not missing:
        return [known[k] for k in keys]
    only = needed_columns(raw_info(info).schema, relation.model, selections) if relation.model else None
    if only is None:
        known.update(zip(missing, await loader.load_fn(missing), strict=True))
        return [known[k] for k in keys]
    partial = dict(
        zip(missing, await rows_by_id(relation.model, missing, info.context.workspace_id, only), strict=True)
    )
    return [known[k] if k in known else partial[k] for k in keys]


def _attach_all(group: list[Any], name: str, relation: Relation, by_key: dict[int, Any]) -> list[Any]:
    """Attach each row's value; the distinct objects attached (a list field's items flattened) for the next level."""
    seen: dict[int, Any] = {}
    for row in group:
        key = relation.key(row)
        value = None if key is None else by_key.get(key)
        if relation.pick is not None and value is not None:
            value = relation.pick(row, value)
        attach(row, name, value)
        for item in value if isinstance(value, list) else (value,):
            if item is not None:
                seen[id(item)] = item
    return list(seen.values())
