"""What the lean executor (schema/fastpath.py) works out once and keeps: each selection's `Step`s, the
operations' `Plans` across requests, and the leaf serializers (enums by table).

The parser cache hands every request with the same text the same document, so what is collected from it
stays valid for as long as the document lives, unless a `@skip`/`@include` takes a variable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from graphql import GraphQLEnumType, GraphQLField, GraphQLScalarType
from graphql.language import BREAK, DirectiveNode, VariableNode, Visitor, visit

from compat import FieldDetailsList, GroupedFieldSet
from schema.bytecache import ByteLRU, footprint


class Step(NamedTuple):
    """One field of a selection, as the fast path answers it on every row."""

    key: str
    #: None for `__typename`.
    field_def: GraphQLField | None
    #: A plain attribute to read (schema/direct.py), or a resolver that takes only the row, or neither.
    attribute: str | None
    row_only: Callable[[Any], Any] | None
    #: Answers from the row alone when it can (else NotImplemented): a prefetched relation.
    shortcut: Callable[[Any], Any] | None
    resolve: Callable[..., Any] | None
    details: FieldDetailsList
    has_args: bool
    #: The scalar's or enum's `coerce_output_value`, when the field is a (non-null) leaf.
    leaf: Callable[[Any], Any] | None
    non_null: bool


#: Enum serializers by id(enum type): the schema's types live as long as the process.
_ENUM_LEAVES: dict[int, Callable[[Any], Any]] = {}


def leaf_of(named: GraphQLScalarType | GraphQLEnumType) -> Callable[[Any], Any]:
    """How a leaf value is serialized: the type's `coerce_output_value`, except for an enum, whose members are
    looked up in a table (Strawberry's enum type scans its values and reads `.value` of each, per value)."""
    if not isinstance(named, GraphQLEnumType):
        return named.coerce_output_value
    leaf = _ENUM_LEAVES.get(id(named))
    if leaf is None:
        coerce = named.coerce_output_value
        names: dict[Any, str] = {}
        for member in getattr(named, "wrapped_cls", ()):
            try:
                names[member] = coerce(member)
            except (TypeError, ValueError):
                continue
        get = names.get

        def leaf(value: Any) -> Any:
            found = get(value) if type(value) in _MEMBER_TYPES else None
            return found if found is not None else coerce(value)

        _MEMBER_TYPES.update(type(member) for member in names)
        _ENUM_LEAVES[id(named)] = leaf
    return leaf


#: The Python enum classes whose members `leaf_of` tables hold: anything else goes to the type itself.
_MEMBER_TYPES: set[type] = set()


class Plans:
    """What the fast path works out for one parsed operation, kept across requests.

    The parser cache hands every request with the same text the same document, so its collected fields (and
    each selection's plan) are the same objects every time, as long as no `@skip`/`@include` depends on a
    variable: `variable_free` says so, and only then is this used.
    """

    __slots__ = ("operation", "root", "schema", "steps", "subfields", "variable_free")

    def __init__(self, schema: Any, operation: Any, variable_free: bool) -> None:
        # Both kept: they keep the ids of the key from being reused while this lives. The schema is part of
        # the key because the parser cache is shared by every schema of the process (tests build several).
        self.schema = schema
        self.operation = operation
        self.variable_free = variable_free
        self.root: GroupedFieldSet | None = None
        #: (object type name, id(field details)) -> (field details, grouped subfields)
        self.subfields: dict[tuple[str, int], tuple[FieldDetailsList, GroupedFieldSet]] = {}
        #: id(grouped field set) -> (grouped field set, plan)
        self.steps: dict[int, tuple[GroupedFieldSet, list[Step]]] = {}


#: Operations' plans by (id(schema), id(operation)), bounded by bytes like the parser cache: a plan keeps its
#: operation alive, so a big document's plan is made per request and not kept (schema/bytecache.py).
PLANS: ByteLRU[tuple[int, int], Plans] = ByteLRU(32 * 1024 * 1024, footprint(16 * 1024))


def plans_for(schema: Any, operation: Any, fragments: dict[str, Any]) -> Plans:
    key = (id(schema), id(operation))
    plans = PLANS.get(key)
    if plans is not None and plans.operation is operation and plans.schema is schema:
        return plans
    plans = Plans(schema, operation, not _directives_use_variables([operation, *fragments.values()]))
    loc = operation.loc
    PLANS.put(key, plans, footprint(loc.end - loc.start if loc is not None else 0))
    return plans


def _directives_use_variables(nodes: list[Any]) -> bool:
    """Whether any directive under these AST nodes takes a variable (then collected fields vary by request)."""
    found = False

    class Finder(Visitor):
        def enter_directive(self, node: DirectiveNode, *_: Any) -> Any:
            nonlocal found
            if any(isinstance(arg.value, VariableNode) for arg in node.arguments or ()):
                found = True
                return BREAK
            return None

    for node in nodes:
        visit(node, Finder())
        if found:
            return True
    return False
