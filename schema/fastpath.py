"""A lean executor for queries that succeed: graphql-core's semantics without its per-field bookkeeping.

graphql-core spends most of a 50-row page's time on work that only matters when something goes wrong or
that our fields never use: a `GraphQLResolveInfo` built for every field of every row, field-error handling
around every call, a path and type checks per value. This executor walks the same collected fields
(graphql-core's own `collect_fields`/`collect_subfields`, so fragments, aliases, `@skip`/`@include` and
merging are exactly the spec's) and:

- reads a plain attribute (schema/direct.py) or calls a row-only resolver with the row, with no `info`;
- builds a real `info`, with arguments, only for the fields that take them (a page, a campaign, a search);
- completes leaves with the type's own `coerce_output_value`, and objects through their `is_type_of`;
- awaits what is awaitable concurrently, as graphql-core does (so dataloaders still batch).

It has no error handling at all. Any exception, or a null in a non-null position, abandons the attempt and
the whole operation runs again on graphql-core's executor, which produces the spec's partial data, paths
and located errors (and masking sees them as before). Every query's outcome is counted in
`outbound_lean_executor_total{outcome=answered|abandoned|declined}`, and each abandon is logged, so a change
that makes the Campaign View's pages fall back shows (tests/test_schema_lean.py fails on it, too).

Only queries take this path: they have no side effects, and the request's dataloaders make the second run
cheap. Mutations, subscriptions, `@defer`, introspection and any schema extension that wraps resolvers keep
graphql-core's path.

What it works out once per operation and keeps across requests (steps, plans, leaf serializers) is
schema/fastpath_plans.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeGuard

from graphql import (
    GraphQLAbstractType,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
)
from graphql.execution.values import get_argument_values
from graphql.language import OperationType
from graphql.pyutils import Path, Undefined
from prometheus_client import Counter

from compat import DeferUsage, FieldDetailsList, GroupedFieldSet, forget_relevant_subfields
from domain.errors import PublicError
from models.db import database_unavailable
from schema.fastpath_plans import Plans, Step, leaf_of, plans_for

log = logging.getLogger("outbound.schema.lean")

#: Queries by what the lean executor did with them. A process-wide metric, as Prometheus metrics are.
OUTCOMES = Counter(
    "outbound_lean_executor",
    "Queries the lean executor answered, abandoned to graphql-core (after an error or an unexpected null), or "
    "declined up front (introspection, @defer, a schema extension that wraps resolvers).",
    ["outcome"],
)

#: The field being completed and the type it belongs to: what an abstract type's `resolve_type` needs in its info.
Origin = tuple[GraphQLField, GraphQLObjectType]


#: Root fields answered by graphql-core itself (introspection): not worth a fast path.
_META_FIELDS = frozenset({"__schema", "__type"})


class Abandon(Exception):
    """The fast path cannot produce this result as graphql-core would (a null where none is allowed...)."""


async def _settle(awaitables: Sequence[Awaitable[Any]]) -> list[Any]:
    """All of them awaited concurrently; the first failure raised once every one has settled (no stray task)."""
    if len(awaitables) == 1:
        return [await awaitables[0]]
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


class FastPathMixin:
    """Mixed into the execution context, in front of graphql-core's Executor (schema/execution.py)."""

    _fast_plans: Plans

    # Provided by graphql-core's Executor.
    fragment_definitions: dict[str, Any]
    schema: Any
    operation: Any
    variable_values: Any
    middleware_manager: Any
    is_awaitable: Callable[[Any], TypeGuard[Awaitable[Any]]]
    hide_suggestions: bool
    build_resolve_info: Callable[..., Any]
    collect_subfields: Callable[..., Any]
    settle_in_background: Callable[..., Any]
    ensure_valid_runtime_type: Callable[..., Any]
    type_resolver: Callable[..., Any]

    def execute_collected_root_fields(
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: GroupedFieldSet,
        serially: bool,
        new_defer_usages: Sequence[DeferUsage],
    ) -> Any:
        # A mixin: the method is the Executor's, after this class in the execution context's MRO.
        slow = super().execute_collected_root_fields  # type: ignore[misc]
        if serially or self.operation.operation != OperationType.QUERY:
            return slow(root_type, root_value, grouped_field_set, serially, new_defer_usages)
        if (
            new_defer_usages
            or (self.middleware_manager is not None and self.middleware_manager.middlewares)
            or not _META_FIELDS.isdisjoint(grouped_field_set)
        ):
            OUTCOMES.labels("declined").inc()
            return slow(root_type, root_value, grouped_field_set, serially, new_defer_usages)

        plans = plans_for(self.schema, self.operation, self.fragment_definitions)
        if plans.variable_free:
            if plans.root is None:
                plans.root = grouped_field_set
            grouped_field_set = plans.root
            self._fast_plans = plans
        else:
            self._fast_plans = Plans(self.schema, self.operation, False)  # this request's own

        async def run() -> dict[str, Any]:
            try:
                data = self._fields(root_type, root_value, None, grouped_field_set)
                if self.is_awaitable(data):
                    data = await data
            except Exception as exc:  # any failure: graphql-core runs it again and reports it properly
                OUTCOMES.labels("abandoned").inc()
                name = self.operation.name.value if self.operation.name else "(anonymous)"
                # A client's mistake or an outage is logged by the rerun (schema/masking.py): here only a debug line.
                expected = isinstance(exc, (PublicError, GraphQLError)) or database_unavailable(exc)
                log.log(
                    logging.DEBUG if expected else logging.INFO,
                    "lean executor abandoned query %s (%r); graphql-core answers it",
                    name,
                    exc,
                )
                forget_relevant_subfields(self)
                result = slow(root_type, root_value, grouped_field_set, serially, new_defer_usages)
                return await result if self.is_awaitable(result) else result
            OUTCOMES.labels("answered").inc()
            return data

        return run()

    # ------------------------------------------------------------ fields of one object

    def _fields(self, parent_type: GraphQLObjectType, source: Any, path: Path | None, grouped: GroupedFieldSet) -> Any:
        results: dict[str, Any] = {}
        try:
            pending = self._resolve_fields(parent_type, source, path, self._plan(parent_type, grouped), results)
        except Exception:
            self._settle_pending(results.values())
            raise
        if not pending:
            return results

        async def gathered() -> dict[str, Any]:
            values = await _settle([results[k] for k in pending])
            results.update(zip(pending, values, strict=True))
            return results

        return gathered()

    def _plan(self, parent_type: GraphQLObjectType, grouped: GroupedFieldSet) -> list[Step]:
        """How to answer each field of `grouped`, worked out once per request for every row of a page.

        Grouped field sets are memoized (per operation across requests, see `Plans`, or per request), so a
        set's identity is the key (the plan keeps it alive, so the identity cannot be reused).
        """
        plans = self._fast_plans.steps
        cached = plans.get(id(grouped))
        if cached is not None:
            return cached[1]
        steps: list[Step] = []
        for key, details in grouped.items():
            node = details[0].node
            name = node.name.value
            if name == "__typename":
                steps.append(Step(key, None, None, None, None, None, details, False, None, False))
                continue
            field_def = parent_type.fields.get(name)
            if field_def is None or field_def.resolve is None:
                raise Abandon(name)
            resolve = field_def.resolve
            return_type = field_def.type
            non_null = type(return_type) is GraphQLNonNull
            named = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
            leaf = leaf_of(named) if isinstance(named, (GraphQLScalarType, GraphQLEnumType)) else None
            steps.append(
                Step(
                    key,
                    field_def,
                    getattr(resolve, "_attribute", None),
                    getattr(resolve, "_row_only", None),
                    getattr(resolve, "_row_shortcut", None),
                    resolve,
                    details,
                    bool(field_def.args or node.arguments),
                    leaf,
                    non_null,
                )
            )
        plans[id(grouped)] = (grouped, steps)
        return steps

    def _resolve_fields(
        self, parent_type: GraphQLObjectType, source: Any, path: Path | None, plan: list[Step], results: dict[str, Any]
    ) -> list[str] | None:
        """Fill `results` with each field's value (or the awaitable completing it); the keys still awaited."""
        is_awaitable = self.is_awaitable
        pending: list[str] | None = None
        for key, field_def, attribute, row_only, shortcut, resolve, details, has_args, leaf, non_null in plan:
            if field_def is None:
                results[key] = parent_type.name
                continue
            if attribute is not None:
                result = getattr(source, attribute)
            elif row_only is not None:
                result = row_only(source)
            elif shortcut is not None and (result := shortcut(source)) is not NotImplemented:
                pass
            else:
                field_path = Path(path, key, parent_type.name)
                info = self.build_resolve_info(field_def, [d.node for d in details], parent_type, field_path)
                args = (
                    get_argument_values(
                        field_def,
                        details[0].node,
                        self.variable_values,
                        details[0].fragment_variable_values,
                        self.hide_suggestions,
                    )
                    if has_args
                    else {}
                )
                assert resolve is not None  # set for every field but __typename
                result = resolve(source, info, **args)
            if leaf is not None and not is_awaitable(result):
                # A scalar or an enum: completed here, the commonest case by far.
                if result is None:
                    if non_null:
                        raise Abandon(key)
                    results[key] = None
                    continue
                coerced = leaf(result)
                if coerced is None or coerced is Undefined:
                    raise Abandon(key)
                results[key] = coerced
                continue
            field_path = Path(path, key, parent_type.name)
            origin = (field_def, parent_type)
            if is_awaitable(result):
                completed: Any = self._complete_later(field_def.type, details, field_path, result, origin)
            else:
                completed = self._complete(field_def.type, details, field_path, result, origin)
            results[key] = completed
            if is_awaitable(completed):
                if pending is None:
                    pending = []
                pending.append(key)
        return pending

    # ------------------------------------------------------------ values

    async def _complete_later(
        self, return_type: GraphQLOutputType, details: FieldDetailsList, path: Path, result: Any, origin: Origin
    ) -> Any:
        completed = self._complete(return_type, details, path, await result, origin)
        return await completed if self.is_awaitable(completed) else completed

    def _complete(
        self, return_type: GraphQLOutputType, details: FieldDetailsList, path: Path, result: Any, origin: Origin
    ) -> Any:
        # `type(...) is`, not isinstance: the commonest test of the executor's hottest function.
        if type(return_type) is GraphQLNonNull:
            if result is None or result is Undefined or isinstance(result, Exception):
                raise Abandon(path.key)
            completed = self._complete(return_type.of_type, details, path, result, origin)
            # A nested null (an object that could not be completed) shows up as an exception, never as None.
            return completed
        if result is None or result is Undefined:
            return None
        if isinstance(result, Exception):
            raise result
        if type(return_type) is GraphQLList:
            return self._complete_list(return_type.of_type, details, path, result, origin)
        if isinstance(return_type, (GraphQLScalarType, GraphQLEnumType)):
            coerced = return_type.coerce_output_value(result)
            if coerced is None or coerced is Undefined:
                raise Abandon(path.key)
            return coerced
        if isinstance(return_type, GraphQLObjectType):
            return self._object(return_type, details, path, result)
        if isinstance(return_type, GraphQLAbstractType):
            info = self.build_resolve_info(origin[0], [d.node for d in details], origin[1], path)
            resolve_type = return_type.resolve_type or self.type_resolver
            name = resolve_type(result, info, return_type)
            if self.is_awaitable(name):
                raise Abandon(path.key)
            runtime = self.ensure_valid_runtime_type(name, return_type, details, info, result)
            return self._object(runtime, details, path, result)
        raise Abandon(path.key)

    def _complete_list(
        self, item_type: GraphQLOutputType, details: FieldDetailsList, path: Path, result: Any, origin: Origin
    ) -> Any:
        is_awaitable = self.is_awaitable
        completed = []
        pending: list[int] | None = None
        try:
            for index, item in enumerate(result):
                item_path = Path(path, index, None)
                value = (
                    self._complete_later(item_type, details, item_path, item, origin)
                    if is_awaitable(item)
                    else self._complete(item_type, details, item_path, item, origin)
                )
                if is_awaitable(value):
                    if pending is None:
                        pending = []
                    pending.append(index)
                completed.append(value)
        except Exception:
            self._settle_pending(completed)
            raise
        if pending is None:
            return completed

        async def gathered() -> list[Any]:
            values = await _settle([completed[i] for i in pending])
            for i, value in zip(pending, values, strict=True):
                completed[i] = value
            return completed

        return gathered()

    def _settle_pending(self, values: Any) -> None:
        """Work already started for a result being abandoned: settled in the background, as graphql-core does."""
        started = [value for value in values if self.is_awaitable(value)]
        if started:
            self.settle_in_background(started)

    def _object(self, object_type: GraphQLObjectType, details: FieldDetailsList, path: Path, result: Any) -> Any:
        is_type_of = object_type.is_type_of
        if is_type_of is not None:
            # No info: ours (schema/types.py `_is`) and Strawberry's read only the value.
            matches = is_type_of(result, None)  # type: ignore[arg-type]
            if matches is not True:
                raise Abandon(path.key)
        subfields = self._fast_plans.subfields
        key = (object_type.name, id(details))
        cached = subfields.get(key)
        if cached is None:
            cached = subfields[key] = (details, self.collect_subfields(object_type, details)[0])
        return self._fields(object_type, result, path, cached[1])
