"""The served schema keeps the public contract; the committed schema.graphql is the served one; the
models and their migrations agree.

Compatibility, per the contract's own header: every contract type, field, argument, enum value, input
field and default is there, with a compatible type. The served schema may add types, fields, enum values,
and *optional* arguments / input fields. Outputs may be stricter (non-null where the contract allows
null); inputs may be looser (nullable where the contract requires a value), never the other way round.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
    print_ast,
)
from graphql.utilities.get_default_value_ast import get_default_value_ast

REPO = Path(__file__).resolve().parent.parent
CONTRACT = REPO.parent / "shared" / "contract" / "schema.graphql"
COMMITTED = REPO / "schema.graphql"


def served_sdl() -> str:
    from schema.build import build_schema as build_served

    return build_served().as_str()


@pytest.fixture(scope="module")
def contract() -> GraphQLSchema:
    if not CONTRACT.exists():
        pytest.fail(f"the contract is not at {CONTRACT}", pytrace=False)
    return build_schema(CONTRACT.read_text())


@pytest.fixture(scope="module")
def served() -> GraphQLSchema:
    return build_schema(served_sdl())


def kind(t: GraphQLNamedType) -> str:
    for cls in (
        GraphQLObjectType,
        GraphQLInterfaceType,
        GraphQLUnionType,
        GraphQLEnumType,
        GraphQLInputObjectType,
        GraphQLScalarType,
    ):
        if isinstance(t, cls):
            return cls.__name__
    return type(t).__name__


def output_compatible(served: Any, wanted: Any) -> bool:
    """A value of type `served` is always a valid `wanted` (covariant: served may be stricter)."""
    if isinstance(wanted, GraphQLNonNull):
        return isinstance(served, GraphQLNonNull) and output_compatible(served.of_type, wanted.of_type)
    if isinstance(served, GraphQLNonNull):
        return output_compatible(served.of_type, wanted)
    if isinstance(wanted, GraphQLList):
        return isinstance(served, GraphQLList) and output_compatible(served.of_type, wanted.of_type)
    return not isinstance(served, GraphQLList) and served.name == wanted.name


def input_compatible(served: Any, wanted: Any) -> bool:
    """Every `wanted` value a client may send is accepted by `served` (contravariant: served may be looser)."""
    if isinstance(served, GraphQLNonNull):
        return isinstance(wanted, GraphQLNonNull) and input_compatible(served.of_type, wanted.of_type)
    if isinstance(wanted, GraphQLNonNull):
        return input_compatible(served, wanted.of_type)
    if isinstance(served, GraphQLList):
        return isinstance(wanted, GraphQLList) and input_compatible(served.of_type, wanted.of_type)
    return not isinstance(wanted, GraphQLList) and served.name == wanted.name


def printed_default(arg: GraphQLArgument | GraphQLInputField) -> str | None:
    node = get_default_value_ast(arg)
    return print_ast(node) if node is not None else None


def has_default(arg: GraphQLArgument | GraphQLInputField) -> bool:
    return get_default_value_ast(arg) is not None


def check_inputs(
    where: str,
    served: dict[str, GraphQLArgument] | dict[str, GraphQLInputField],
    wanted: dict[str, GraphQLArgument] | dict[str, GraphQLInputField],
) -> list[str]:
    """Arguments of a field, or fields of an input type."""
    problems = []
    for name, want in wanted.items():
        got = served.get(name)
        if got is None:
            problems.append(f"{where}: `{name}` is missing")
            continue
        if not input_compatible(got.type, want.type):
            problems.append(f"{where}: `{name}` is {got.type}, the contract says {want.type}")
        want_default = printed_default(want)
        got_default = printed_default(got)
        if want_default is not None and want_default != got_default:
            problems.append(f"{where}: `{name}` defaults to {got_default}, the contract says {want_default}")
    for name, got in served.items():
        if name not in wanted and isinstance(got.type, GraphQLNonNull) and not has_default(got):
            problems.append(f"{where}: `{name}` is required but not in the contract (breaks its clients)")
    return problems


def compatibility_problems(served: GraphQLSchema, contract: GraphQLSchema) -> list[str]:
    problems: list[str] = []
    for name, want in contract.type_map.items():
        if name.startswith("__"):
            continue
        got = served.type_map.get(name)
        if got is None:
            problems.append(f"type {name} is missing")
            continue
        if kind(got) != kind(want):
            problems.append(f"type {name} is a {kind(got)}, the contract says {kind(want)}")
            continue
        if isinstance(want, (GraphQLObjectType, GraphQLInterfaceType)):
            missing_interfaces = {i.name for i in want.interfaces} - {i.name for i in got.interfaces}
            problems += [f"type {name} does not implement {i}" for i in sorted(missing_interfaces)]
            for field_name, want_field in want.fields.items():
                got_field = got.fields.get(field_name)
                if got_field is None:
                    problems.append(f"{name}.{field_name} is missing")
                    continue
                if not output_compatible(got_field.type, want_field.type):
                    problems.append(f"{name}.{field_name} is {got_field.type}, the contract says {want_field.type}")
                problems += check_inputs(f"{name}.{field_name}(...)", got_field.args, want_field.args)
        elif isinstance(want, GraphQLEnumType):
            problems += [f"enum {name} lacks {v}" for v in want.values if v not in got.values]
        elif isinstance(want, GraphQLInputObjectType):
            problems += check_inputs(f"input {name}", got.fields, want.fields)
        elif isinstance(want, GraphQLUnionType):
            missing = {t.name for t in want.types} - {t.name for t in got.types}
            problems += [f"union {name} lacks {t}" for t in sorted(missing)]
    for root in ("query_type", "mutation_type", "subscription_type"):
        want_root, got_root = getattr(contract, root), getattr(served, root)
        if want_root is not None and (got_root is None or got_root.name != want_root.name):
            problems.append(f"the {root} is {got_root and got_root.name}, the contract says {want_root.name}")
    return problems


def test_served_schema_keeps_the_contract(served: GraphQLSchema, contract: GraphQLSchema) -> None:
    problems = compatibility_problems(served, contract)
    assert not problems, "the served schema breaks the contract:\n  " + "\n  ".join(problems)


def test_the_compatibility_check_catches_breaks(contract: GraphQLSchema) -> None:
    # given a served schema with one of each kind of break, then each is reported
    broken = (
        CONTRACT.read_text()
        .replace("  name: String!\n}", "  name: String\n}", 1)  # Workspace.name loses non-null
        .replace("enum TaskStatus { PENDING COMPLETED }", "enum TaskStatus { PENDING }")
        .replace("first: Int = 20", "first: Int = 25")
        .replace("  statuses: [CampaignStatus!]\n  search: String", "  statuses: [CampaignStatus!]!\n  search: Int")
        .replace("  lead(id: ID!): Lead\n", "")
        .replace("type PageInfo {", "type PageInfo {\n  size(unit: String!): Int")
        .replace("contacts(search: String, ", "contacts(search: String, mode: String!, ")
        .replace("  days: Int! = 0\n", "  days: Int!\n")
    )
    problems = compatibility_problems(build_schema(broken), contract)
    for expected in [
        "Workspace.name is String",
        "enum TaskStatus lacks COMPLETED",
        "`first` defaults to 25, the contract says 20",
        "input CampaignFilter: `statuses` is [CampaignStatus!]!",
        "input CampaignFilter: `search` is Int",
        "Query.lead is missing",
        "`mode` is required but not in the contract",
        "input DelayInput: `days` defaults to None, the contract says 0",
    ]:
        assert any(expected in p for p in problems), (expected, problems)


def test_committed_schema_graphql_is_the_served_schema() -> None:
    committed = COMMITTED.read_text() if COMMITTED.exists() else ""
    assert committed.strip() == served_sdl().strip(), "schema.graphql is out of date: run `make schema` and commit it"


async def test_models_and_migrations_agree(database: None) -> None:
    """`tortoise makemigrations` would write nothing: every model change has its migration."""
    from tortoise import Tortoise
    from tortoise.migrations.autodetector import MigrationAutodetector

    from models.db import tortoise_config

    apps_config = tortoise_config("sqlite://:memory:")["apps"]
    changes = await MigrationAutodetector(Tortoise.apps, apps_config).changes()
    pending = [str(op) for writer in changes for op in writer.operations]
    assert not pending, "models changed without a migration (run `tortoise makemigrations`):\n" + "\n".join(pending)
