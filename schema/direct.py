"""Direct resolvers for the fields that need none of Strawberry's per-call machinery.

Every field call through Strawberry builds an `Info`, converts (absent) arguments, chains (absent) field
extensions and sorts out which parameters the resolver asked for: about half of a field's cost on a 50-row
page, where most fields are plain attributes or a one-line sync function of the row. For those fields
only, the GraphQL field's `resolve` is replaced, once, when the schema is built, by a function that does
the same thing directly:

- a plain attribute (no resolver, no extension): `getattr(source, python_name)`, what the default resolver does;
- a sync resolver with no GraphQL arguments and no extension, taking only `self`/`root` and `info`: called
  with the row (and a Strawberry `Info` built as Strawberry builds it).

Anything else (async resolvers, arguments, field extensions, permission classes, `parent`, subscriptions, a
custom default resolver) keeps Strawberry's resolver. Schema extensions are unaffected: graphql-core applies
middleware around whichever `resolve` the field has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLObjectType, GraphQLResolveInfo
from strawberry.types.field import StrawberryField

from compat import graphql_schema, info_builder, mark_default_resolver, strawberry_field_of

Resolve = Callable[..., Any]


def install(schema: strawberry.Schema) -> int:
    """Replace the resolve function of every field that can take the direct path; the number replaced."""
    if schema.config.default_resolver is not getattr:
        return 0
    replaced = 0
    for gql_type in graphql_schema(schema).type_map.values():
        if not isinstance(gql_type, GraphQLObjectType) or gql_type.name.startswith("__"):
            continue
        for gql_field in gql_type.fields.values():
            field = strawberry_field_of(gql_field)
            direct = _direct(schema, field) if field is not None else None
            if direct is not None:
                gql_field.resolve = direct
                replaced += 1
    return replaced


def _direct(schema: strawberry.Schema, field: StrawberryField) -> Resolve | None:
    if field.extensions or field.permission_classes or field.is_subscription or field.arguments:
        return None
    resolver = field.base_resolver
    if resolver is None:
        return _attribute(field.python_name)
    if field.is_async or resolver.parent_parameter is not None:
        return None
    sources = {p for p in (resolver.self_parameter, resolver.root_parameter) if p is not None}
    info = {resolver.info_parameter} if resolver.info_parameter is not None else set()
    if len(sources) != 1 or set(resolver.signature.parameters.values()) != sources | info:
        return None
    return _call(schema, field)


def _attribute(name: str) -> Resolve:
    def resolve(source: Any, info: GraphQLResolveInfo) -> Any:
        return getattr(source, name)

    mark_default_resolver(resolve, True)
    resolve._attribute = name  # type: ignore[attr-defined]  # read directly by schema/fastpath.py
    return resolve


def _call(schema: strawberry.Schema, field: StrawberryField) -> Resolve:
    resolver = field.base_resolver
    assert resolver is not None
    func = resolver.wrapped_func
    assert callable(func), "_direct takes only plain functions"  # not a classmethod object
    info_param = resolver.info_parameter
    make_info = info_builder(schema.config.info_class, field)
    params = list(resolver.signature.parameters.values())
    positional = all(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
    if positional and params[0] is not info_param:
        # The row first, then maybe info: the shapes of every resolver in resolvers/fields.py and `id`.
        if len(params) == 1:

            def resolve(source: Any, info: GraphQLResolveInfo) -> Any:
                return func(source)

            resolve._row_only = func  # type: ignore[attr-defined]  # called directly by schema/fastpath.py

        else:

            def resolve(source: Any, info: GraphQLResolveInfo) -> Any:
                return func(source, make_info(info))

    else:
        source_name = next(p.name for p in params if p is not info_param)

        def resolve(source: Any, info: GraphQLResolveInfo) -> Any:
            wrapped = make_info(info)
            return func(**{p.name: source if p.name == source_name else wrapped for p in params})

    mark_default_resolver(resolve, False)
    # A resolver may offer a way to answer from the row alone (NotImplemented when it cannot), used by
    # schema/fastpath.py before building the `info` the resolver itself takes.
    resolve._row_shortcut = getattr(func, "row_shortcut", None)  # type: ignore[attr-defined]
    return resolve
