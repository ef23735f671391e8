"""A query is measured before it runs: depth, aliases, tokens and the objects it asks for, each with a limit.

Depth and aliases are Strawberry's own rules (QueryDepthLimiter, MaxAliasesLimiter), tokens its parse option
(MaxTokensLimiter); the object estimate is ours (`ObjectCountRule`). Whatever refuses a document refuses it
before any resolver runs, as a top-level error with `extensions.code` QUERY_TOO_COMPLEX, the setting that
refused it (`limit`) and its value (`maximum`). Introspection (`__schema`, `__type`) is bounded by the schema
itself and counts for neither depth nor objects, so GraphiQL's own introspection always passes.

The parse and validation results are cached by the document's text in one `DocumentCache`, bounded by the
bytes its entries take (schema/bytecache.py): a document over QUERY_CACHE_MAX_DOCUMENT characters is never kept.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
    is_composite_type,
    parse,
    specified_rules,
)
from graphql.language import DocumentNode
from strawberry.extensions import AddValidationRules, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.extensions.base_extension import SchemaExtension
from strawberry.schema.schema import validate_document

from compat import graphql_schema
from config import Settings
from domain.series import MAX_BUCKETS
from resolvers.pagination import MAX_FIRST
from schema.bytecache import ByteLRU, footprint

CODE = "QUERY_TOO_COMPLEX"

#: Lists whose size the document cannot set, by field name, where their maximum is known.
LIST_SIZES = {"series": MAX_BUCKETS}


def too_complex(message: str, setting: str, maximum: int, nodes: Any = None) -> GraphQLError:
    return GraphQLError(
        f"Query too complex: {message} (limit {setting}={maximum}).",
        nodes,
        extensions={"code": CODE, "limit": setting, "maximum": maximum},
    )


_TOKENS = re.compile(r"Document contains more than (\d+) tokens\. Parsing aborted\.")


def token_limit(error: GraphQLError) -> dict[str, Any] | None:
    """The extensions of a refusal by MAX_QUERY_TOKENS, if this is one: graphql-core's parser stops past
    `max_tokens` with a syntax error of its own (its message names the limit)."""
    found = _TOKENS.search(error.message)
    if found is None:
        return None
    return {"code": CODE, "limit": "MAX_QUERY_TOKENS", "maximum": int(found.group(1))}


def coded_rule(rule: type[ASTValidationRule], setting: str, maximum: int, what: str) -> type[ASTValidationRule]:
    """A Strawberry limit rule whose first refusal is a QUERY_TOO_COMPLEX error naming the setting.

    Strawberry's limiters report plain validation errors (one per branch too deep) while they construct;
    this one passes them a reporter that keeps the first and recodes it.
    """

    class Coded(rule):  # type: ignore[valid-type, misc]
        def __init__(self, context: ValidationContext) -> None:
            report = context.on_error
            reported = False

            def first_only(error: GraphQLError) -> None:
                nonlocal reported
                if not reported:
                    reported = True
                    report(too_complex(f"{what}: {error.message}", setting, maximum, error.nodes))

            context.on_error = first_only  # type: ignore[method-assign]
            try:
                super().__init__(context)
            finally:
                context.on_error = report  # type: ignore[method-assign]

    Coded.__name__ = f"Coded{rule.__name__}"
    return Coded


def object_count_rule(max_objects: int, list_size: int) -> type[ValidationRule]:
    class ObjectCountRule(ValidationRule):
        """Refuses an operation whose estimated objects pass `max_objects`.

        Each field of a composite type counts the objects it yields, times those of the fields above it: a
        connection's `nodes`/`edges` as many as its `first` (a literal, else the variable's default, else
        the argument's default; a variable without a default counts the maximum, 100), any other list as
        LIST_SIZES says or `list_size`. Nested lists multiply: `audience(first: 100) { nodes { campaign {
        audience(first: 100) { nodes` is 10,000 leads.
        """

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            document = context.document
            fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
            schema = context.schema
            for definition in document.definitions:
                if not isinstance(definition, OperationDefinitionNode):
                    continue
                root = schema.get_root_type(definition.operation)
                if root is None:
                    continue  # validation says so
                defaults = {
                    v.variable.name.value: int(v.default_value.value)
                    for v in definition.variable_definitions or ()
                    if isinstance(v.default_value, IntValueNode)
                }
                counter = _Counter(schema, fragments, defaults, list_size, max_objects)
                total = counter.selections(root, definition.selection_set, 1, frozenset())
                if total > max_objects:
                    name = definition.name.value if definition.name else "the operation"
                    context.report_error(
                        too_complex(
                            f"{name} asks for about {total:,} objects", "MAX_QUERY_OBJECTS", max_objects, [definition]
                        )
                    )
                    return

    return ObjectCountRule


@dataclass
class _Counter:
    schema: Any
    fragments: dict[str, FragmentDefinitionNode]
    variable_defaults: dict[str, int]
    list_size: int
    stop_at: int

    def selections(
        self, parent: Any, selection_set: SelectionSetNode, times: int, seen: frozenset[str], page: int | None = None
    ) -> int:
        """Objects under a selection set met `times` times; `page` is the enclosing connection's `first`."""
        total = 0
        for selection in selection_set.selections:
            if total > self.stop_at:
                return total  # already refused: no need to walk the rest of a huge document
            if isinstance(selection, FieldNode):
                total += self.field(parent, selection, times, seen, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self._type(condition.name.value) if condition else parent
                total += self.selections(target or parent, selection.selection_set, times, seen, page)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue  # validation reports unknown and cyclic fragments
                target = self._type(fragment.type_condition.name.value) or parent
                total += self.selections(target, fragment.selection_set, times, seen | {name}, page)
        return total

    def field(self, parent: Any, node: FieldNode, times: int, seen: frozenset[str], page: int | None) -> int:
        name = node.name.value
        fields = getattr(parent, "fields", None)
        if name.startswith("__") or not fields or name not in fields or node.selection_set is None:
            return 0  # introspection, leaves, and fields validation will refuse
        definition = fields[name]
        kind = definition.type.of_type if isinstance(definition.type, GraphQLNonNull) else definition.type
        named = get_named_type(kind)
        if not is_composite_type(named):
            return 0
        if isinstance(kind, GraphQLList):
            # A connection's `nodes` and `edges` are as long as its `first`; other lists as long as they get.
            length = page if page is not None and name in ("nodes", "edges") else LIST_SIZES.get(name, self.list_size)
        else:
            length = 1
        count = times * length
        return count + self.selections(named, node.selection_set, count, seen, self.first(node, definition))

    def first(self, node: FieldNode, definition: Any) -> int | None:
        if "first" not in definition.args:
            return None
        argument = next((a for a in node.arguments or () if a.name.value == "first"), None)
        value = argument.value if argument is not None else None
        if isinstance(value, IntValueNode):
            return max(0, int(value.value))
        if isinstance(value, VariableNode):
            return self.variable_defaults.get(value.name.value, MAX_FIRST)
        default = definition.args["first"].default_value
        return default if isinstance(default, int) else MAX_FIRST

    def _type(self, name: str) -> Any:
        return self.schema.get_type(name)


@dataclass(frozen=True)
class QueryLimits:
    """One schema's limits: its extra validation rules, its token limit and its document cache."""

    rules: tuple[type[ASTValidationRule], ...]
    max_tokens: int
    cache: DocumentCache

    @classmethod
    def from_settings(cls, settings: Settings) -> QueryLimits:
        # The rule classes are made once here: a new class per request would make every cached validation a miss.
        rules = (
            *(
                coded_rule(rule, "MAX_QUERY_DEPTH", settings.max_query_depth, "too deeply nested")
                for rule in QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules
            ),
            *(
                coded_rule(rule, "MAX_QUERY_ALIASES", settings.max_query_aliases, "too many aliases")
                for rule in MaxAliasesLimiter(max_alias_count=settings.max_query_aliases).validation_rules
            ),
            object_count_rule(settings.max_query_objects, settings.query_list_size),
        )
        cache = DocumentCache(settings.query_cache_bytes, settings.query_cache_max_document)
        return cls(rules, settings.max_query_tokens, cache)

    def extensions(self) -> list[Callable[[], SchemaExtension]]:
        """The schema's extensions for these limits, as factories."""
        rules: list[type[ASTValidationRule]] = list(self.rules)
        return [
            lambda: MaxTokensLimiter(max_token_count=self.max_tokens),
            lambda: AddValidationRules(rules),
            lambda: CachedParse(self.cache),
            lambda: CachedValidation(self.cache),
        ]

    def install(self, graphql_schema: Any) -> None:
        """Kept on the schema, for what parses and validates beside Strawberry (the websocket transport)."""
        graphql_schema.extensions = {**(graphql_schema.extensions or {}), _KEY: self}

    def check(self, graphql_schema: Any, query: str) -> tuple[DocumentNode | None, list[GraphQLError]]:
        """Parse and validate `query` as a request would be (the limits included), through the cache."""
        try:
            document = self.cache.parse(query, max_tokens=self.max_tokens)
        except GraphQLError as error:
            return None, [error]
        rules = (*specified_rules, *self.rules)
        return document, self.cache.validate(query, graphql_schema, document, rules)


_KEY = "outbound.query_limits"


def limits_of(graphql_schema: Any) -> QueryLimits | None:
    return (graphql_schema.extensions or {}).get(_KEY)


@dataclass(slots=True)
class _Entry:
    document: DocumentNode
    #: None until a request validated it.
    errors: list[GraphQLError] | None = None


class DocumentCache:
    """Parsed documents and their validation errors by the document's text, bounded by bytes (one per schema)."""

    def __init__(self, max_bytes: int, max_document: int) -> None:
        self.entries: ByteLRU[str, _Entry] = ByteLRU(max_bytes, footprint(max_document))

    def parse(self, query: str, **options: Any) -> DocumentNode:
        entry = self.entries.get(query)
        if entry is not None:
            return entry.document
        document = parse(query, **options)
        self.entries.put(query, _Entry(document), footprint(len(query)))
        return document

    def validate(self, query: str, schema: Any, document: DocumentNode, rules: tuple[Any, ...]) -> list[GraphQLError]:
        entry = self.entries.get(query)
        if entry is None or entry.document is not document:
            return validate_document(schema, document, rules)
        if entry.errors is None:
            entry.errors = validate_document(schema, document, rules)
        return entry.errors


class CachedParse(SchemaExtension):
    """Parses through the DocumentCache. A document that does not parse is left to Strawberry's own parse,
    which reports it: ParserCache-style parsing on entering on_parse happens outside the guard that turns a
    syntax error into a result, and over a websocket that ended the operation with a bare `complete`."""

    def __init__(self, cache: DocumentCache) -> None:
        self.cache = cache

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query:
            with contextlib.suppress(GraphQLError):
                context.graphql_document = self.cache.parse(context.query, **context.parse_options)
        yield


class CachedValidation(SchemaExtension):
    def __init__(self, cache: DocumentCache) -> None:
        self.cache = cache

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if context.query and document is not None and context.pre_execution_errors is None:
            context.pre_execution_errors = self.cache.validate(
                context.query, graphql_schema(context.schema), document, context.validation_rules
            )
        yield
