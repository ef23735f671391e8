"""The live subscriptions' shared renders (schema/transport.py serves them): plans and cached payloads.

A subscription document we can share (one root field, `campaignStats` or `campaignActivity`) is parsed and
validated once into a `Plan`; each snapshot/entry is then executed and serialized ONCE per (document,
variables), the result kept on the shared object (`Snapshot.renders` / `Entry.renders`, live/reads.py), and
concurrent subscribers await the same render. The payload is what Strawberry would send (same schema, same
resolvers, same error masking).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    ExecutionResult,
    Executor,
    FieldNode,
    GraphQLError,
    OperationType,
    StringValueNode,
    VariableNode,
    execute_subscription_event,
    get_operation_ast,
    parse,
    validate,
)

from resolvers.context import Context, Loaders
from schema.bytecache import ByteLRU, footprint
from schema.cost import limits_of
from schema.masking import ErrorIdMasking

FIELDS = ("campaignStats", "campaignActivity")


@dataclass(frozen=True, slots=True)
class Plan:
    """What a subscription document asks for, parsed and validated once for every subscriber that sends it."""

    #: The document's text: subscribers that send the same text share this one string.
    query: str
    document: DocumentNode
    operation_name: str | None
    field: str
    root: FieldNode
    #: The campaignId argument: ("literal", value) or ("variable", name).
    campaign_arg: tuple[str, str]


#: Plans (or None: not ours) by document text, bounded by bytes: a plan keeps its document alive.
_plans: ByteLRU[tuple[str, str | None], tuple[Plan | None]] = ByteLRU(16 * 1024 * 1024, footprint(16 * 1024))


def plan_for(schema: Any, query: str, operation_name: str | None) -> Plan | None:
    """A Plan if the shared path can serve this document, else None (Strawberry handles it). Cached."""
    key = (query, operation_name)
    found = _plans.get(key)
    if found is not None:
        return found[0]
    plan = _make_plan(schema, query, operation_name)
    _plans.put(key, (plan,), footprint(len(query)))
    return plan


def _make_plan(schema: Any, query: str, operation_name: str | None) -> Plan | None:
    # Parsed and validated as any request is, the query limits included (schema/cost.py): a document they
    # refuse is Strawberry's to refuse.
    limits = limits_of(schema)
    if limits is not None:
        document, errors = limits.check(schema, query)
        if document is None or errors:
            return None
    else:
        try:
            document = parse(query)
        except GraphQLError:
            return None
        if validate(schema, document):
            return None
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation != OperationType.SUBSCRIPTION:
        return None
    selections = operation.selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode):
        return None
    root = selections[0]
    if root.name.value not in FIELDS or root.directives:
        return None
    arg = next((a for a in root.arguments or () if a.name.value == "campaignId"), None)
    if arg is None:
        return None
    if isinstance(arg.value, StringValueNode):
        campaign_arg = ("literal", arg.value.value)
    elif isinstance(arg.value, VariableNode):
        campaign_arg = ("variable", arg.value.name.value)
    else:
        return None
    return Plan(query, document, operation_name, root.name.value, root, campaign_arg)


#: The error masking of every request (schema/masking.py), for the errors a live payload carries.
masking = ErrorIdMasking()


def render(graphql_schema: Any, plan: Plan, variables: dict[str, Any], workspace: Any, item: Any) -> str | Any:
    """The `payload` JSON of a `next` message for one snapshot/entry, as Strawberry would produce it.

    Returns the string itself when execution completes synchronously (stats: plain objects), so the first
    subscriber renders inline and sends at once; else an awaitable of it (activity: resolvers that load).
    """
    # A fresh context per render: resolvers of an activity entry (lead, contact, step) use new loaders.
    context = Context(workspace=workspace, loaders=Loaders(workspace.id) if workspace is not None else None)
    executor = Executor.build(
        graphql_schema,
        plan.document,
        context_value=context,
        raw_variable_values=variables,
        operation_name=plan.operation_name,
    )
    if isinstance(executor, list):  # cannot happen: variables were checked at subscribe time
        return payload_of(None, executor)
    root = item.stats if hasattr(item, "stats") else item.row
    result = execute_subscription_event(executor.build_per_event_executor(root))
    if executor.is_awaitable(result):
        return _finish(result)
    assert isinstance(result, ExecutionResult)
    return payload_of(result.data, result.errors)


async def _finish(pending: Any) -> str:
    result = await pending
    return payload_of(result.data, result.errors)


def payload_of(data: Any, errors: list[GraphQLError] | None) -> str:
    """A `next` message's payload JSON: the data, and the errors masked as any request's are."""
    body: dict[str, Any] = {"data": data}
    if errors:
        body["errors"] = [masking.coded(e).formatted for e in errors]
    return orjson.dumps(body).decode()


def render_key(plan: Plan, variables: dict[str, Any]) -> tuple[Plan, str]:
    # A str copy, not orjson's bytes: those keep a ~1 KB output buffer, per subscriber, for as long as it lives.
    return (plan, orjson.dumps(variables, option=orjson.OPT_SORT_KEYS).decode())


_shared: OrderedDict[tuple[Plan, str], tuple[tuple[Plan, str], dict[str, Any]]] = OrderedDict()
_SHARED_CACHE = 4096
#: Characters of the largest variables (as JSON) kept for sharing; a subscription's are a campaign id.
_SHARED_VARIABLES = 4096


def shared_key(
    graphql_schema: Any, plan: Plan, variables: dict[str, Any]
) -> tuple[tuple[Plan, str], dict[str, Any]] | None:
    """(render key, variables), the same two objects for every subscriber of the same document and variables;
    None if the variables do not fit the document (Strawberry then reports it as it always does).

    A thousand subscribers of one campaign then hold one key and one variables dict between them, not a
    thousand copies (~0.4 KB each), and the variables are checked once, not once per subscriber. Nobody
    mutates either. An entry evicted while in use only stops sharing.
    """
    key = render_key(plan, variables)
    found = _shared.get(key)
    if found is not None:
        _shared.move_to_end(key)
        return found
    checked = Executor.build(
        graphql_schema, plan.document, raw_variable_values=variables, operation_name=plan.operation_name
    )
    if isinstance(checked, list):
        return None
    found = (key, variables)
    if len(key[1]) > _SHARED_VARIABLES:
        return found  # checked, but not kept: 4096 entries of 1 MB of variables each would be 4 GB
    _shared[key] = found
    if len(_shared) > _SHARED_CACHE:
        _shared.popitem(last=False)
    return found


async def shared_render(
    graphql_schema: Any, plan: Plan, variables: dict[str, Any], workspace: Any, item: Any, key: Any = None
) -> str:
    """Render once per (item, document, variables); every other subscriber reuses or awaits that render."""
    key = key or render_key(plan, variables)
    cached = item.renders.get(key)
    if cached is None:
        out = render(graphql_schema, plan, variables, workspace, item)
        if isinstance(out, str):
            item.renders[key] = out
            return out
        cached = item.renders[key] = asyncio.ensure_future(out)
    if isinstance(cached, str):
        return cached
    # Shielded: a subscriber leaving mid-render must not cancel the render that others are waiting for.
    return await asyncio.shield(cached)
