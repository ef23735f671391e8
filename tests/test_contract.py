"""The served schema keeps the public contract; the committed schema.graphql is the served one; the
models and their migrations agree.

Three references, compared with graphql-core's own schema diff (`find_breaking_changes`,
`find_dangerous_changes`), old = the reference, new = the served schema:

- the shared contract, `../shared/contract/schema.graphql`, when it sits beside the repository (CI has it
  and fails without it; a clone on its own skips these tests and says why);
- that contract extended with the parts of revision 2 (`../shared/contract/r2.graphql`) served so far:
  `tests/r2_served.txt` names them, and each revision-2 issue adds its part;
- always, the committed `schema.graphql`, which must be the served schema exactly (`make schema`).

A breaking change (a type, field, argument or enum value gone, an output that may now be null, an input
that is now required or of another type) fails. So does a dangerous change, except the additions the
contract allows in so many words ("it may add more: types, fields, optional arguments, enum values").
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from graphql import (
    DocumentNode,
    EnumTypeExtensionNode,
    GraphQLSchema,
    InputObjectTypeExtensionNode,
    InterfaceTypeExtensionNode,
    ObjectTypeExtensionNode,
    UnionTypeExtensionNode,
    build_ast_schema,
    build_schema,
    concat_ast,
    parse,
)
from graphql.utilities import DangerousChangeType, find_breaking_changes, find_dangerous_changes

REPO = Path(__file__).resolve().parent.parent
SHARED_CONTRACT = REPO.parent / "shared" / "contract"
CONTRACT = SHARED_CONTRACT / "schema.graphql"
R2 = SHARED_CONTRACT / "r2.graphql"
R2_SERVED = Path(__file__).resolve().parent / "r2_served.txt"
COMMITTED = REPO / "schema.graphql"

#: The dangerous changes that the contract allows, and why a client keeps working. Any other one fails,
#: including a kind that a newer graphql-core adds, until it is judged here. A changed or removed default
#: (ARG_DEFAULT_VALUE_CHANGE, INPUT_FIELD_DEFAULT_VALUE_CHANGE) is not allowed: a request that leaves the
#: argument out would silently mean something else (`first: Int = 20` answering 25 rows).
ALLOWED_DANGEROUS: dict[DangerousChangeType, str] = {
    DangerousChangeType.VALUE_ADDED_TO_ENUM: "the contract may add enum values; clients must accept new ones",
    DangerousChangeType.TYPE_ADDED_TO_UNION: "a new member of a union is a new type, which the contract allows",
    DangerousChangeType.OPTIONAL_INPUT_FIELD_ADDED: "an optional input field: existing inputs stay valid",
    DangerousChangeType.OPTIONAL_ARG_ADDED: "an optional argument: existing requests stay valid",
    DangerousChangeType.IMPLEMENTED_INTERFACE_ADDED: "a type may implement more: existing selections stay valid",
}

#: For each kind of extension in r2.graphql, the attribute that holds what it adds.
_EXTENSION_MEMBERS = {
    ObjectTypeExtensionNode: "fields",
    InterfaceTypeExtensionNode: "fields",
    InputObjectTypeExtensionNode: "fields",
    EnumTypeExtensionNode: "values",
    UnionTypeExtensionNode: "types",
}


def served_sdl() -> str:
    from schema.build import build_schema as build_served

    return build_served().as_str()


def contract_breaks(reference: GraphQLSchema, served: GraphQLSchema) -> list[str]:
    """What a client written against `reference` would notice in `served`, as readable lines."""
    breaking = [change.description for change in find_breaking_changes(reference, served)]
    dangerous = [
        f"{change.description} ({change.type.name})"
        for change in find_dangerous_changes(reference, served)
        if change.type not in ALLOWED_DANGEROUS
    ]
    return breaking + dangerous


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def shared_text(path: Path) -> str:
    """A file of ../shared: CI must have it; a clone on its own skips, saying what it did not check."""
    if path.exists():
        return path.read_text()
    if in_ci():
        pytest.fail(f"CI checks the contract, but {path} is not there (CI lays shared/ beside it)", pytrace=False)
    pytest.skip(
        f"the shared contract is not beside this clone ({path}): only the committed schema.graphql is checked"
    )


def served_r2_names(text: str) -> set[str]:
    """`Type` (everything r2 says of it) or `Type.member` (one field, value or input field), one a line."""
    return {line.split("#", 1)[0].strip() for line in text.splitlines()} - {""}


def r2_part(r2: DocumentNode, names: set[str]) -> tuple[DocumentNode, set[str]]:
    """The definitions and extension members of `r2` that `names` names, and the names it does not define."""
    kept = []
    known: set[str] = set()
    for node in r2.definitions:
        name = node.name.value  # type: ignore[attr-defined]  # every r2 definition is a named type (extension)
        known.add(name)
        attr = _EXTENSION_MEMBERS.get(type(node))
        members = getattr(node, attr) if attr else ()
        known.update(f"{name}.{member.name.value}" for member in members)
        if name in names:
            kept.append(node)
            continue
        chosen = tuple(member for member in members if f"{name}.{member.name.value}" in names)
        if chosen:
            # Only the chosen members: interfaces and directives an extension adds come with the whole type.
            extra = {key: () for key in ("interfaces", "directives") if hasattr(node, key)}
            kept.append(dataclasses.replace(node, **{attr: chosen, **extra}))  # type: ignore[arg-type]
    return DocumentNode(definitions=tuple(kept)), names - known


def contract_with_r2(base: str, r2: str, names: set[str]) -> GraphQLSchema:
    part, unknown = r2_part(parse(r2), names)
    if unknown:
        pytest.fail(f"{R2_SERVED.name} names what r2.graphql does not define: {sorted(unknown)}", pytrace=False)
    try:
        return build_ast_schema(concat_ast([parse(base), part]))
    except TypeError as e:  # e.g. a field whose new type is not named too
        pytest.fail(f"the parts of r2.graphql named in {R2_SERVED.name} do not stand on their own: {e}", pytrace=False)


@pytest.fixture(scope="module")
def served() -> GraphQLSchema:
    return build_schema(served_sdl())


def test_served_schema_keeps_the_contract(served: GraphQLSchema) -> None:
    contract = build_schema(shared_text(CONTRACT))
    problems = contract_breaks(contract, served)
    assert not problems, "the served schema breaks the contract:\n  " + "\n  ".join(problems)


def test_served_schema_keeps_the_served_part_of_revision_2(served: GraphQLSchema) -> None:
    reference = contract_with_r2(shared_text(CONTRACT), shared_text(R2), served_r2_names(R2_SERVED.read_text()))
    problems = contract_breaks(reference, served)
    assert not problems, f"the served schema breaks what {R2_SERVED.name} says it serves:\n  " + "\n  ".join(
        problems
    )


def test_committed_schema_graphql_is_the_served_schema() -> None:
    committed = COMMITTED.read_text() if COMMITTED.exists() else ""
    assert committed.strip() == served_sdl().strip(), "schema.graphql is out of date: run `make schema` and commit it"


# The checks themselves, on a small contract of our own (they must not need ../shared to be trusted).

SMALL_CONTRACT = """
interface Node { id: ID! }
enum Status { DRAFT ACTIVE }
input Filter { status: Status, search: String, days: Int! = 0 }
type Item implements Node { id: ID! name: String! note: String }
type Query {
  item(id: ID!): Item
  items(filter: Filter, first: Int = 20, after: String): [Item!]!
}
"""


def breaks_of(served: str) -> list[str]:
    return contract_breaks(build_schema(SMALL_CONTRACT), build_schema(served))


def test_what_the_contract_allows_is_not_reported() -> None:
    # given a served schema that adds a type, a field, an enum value, an optional argument and input field,
    # makes an output stricter and an input looser, then nothing is reported
    assert (
        breaks_of(
            """
            interface Node { id: ID! }
            enum Status { DRAFT ACTIVE PAUSED }
            input Filter { status: Status, search: String, days: Int = 0, limit: Int }
            type Item implements Node { id: ID! name: String! note: String! extra: Int }
            type Other { x: Int }
            type Query {
              item(id: ID, verbose: Boolean): Item
              items(filter: Filter, first: Int = 20, after: String): [Item!]!
              other: Other
            }
            """
        )
        == []
    )


@pytest.mark.parametrize(
    ("change", "old", "new", "reported"),
    [
        ("a field is gone", "name: String! note: String }", "name: String! }", "Item.note was removed"),
        ("an output may be null", "name: String!", "name: String", "Item.name changed type"),
        ("an enum value is gone", "enum Status { DRAFT ACTIVE }", "enum Status { DRAFT }", "Status.ACTIVE"),
        ("an argument is required", "item(id: ID!): Item", "item(id: ID!, mode: String!): Item", "mode"),
        ("an argument's type", "after: String", "after: Int", "Query.items(after:) has changed type"),
        ("an input is required", "search: String,", "search: String!,", "Filter.search changed type"),
        ("a required input field", "days: Int! = 0 }", "days: Int! = 0, mode: String! }", "Filter.mode"),
        ("a default changes", "first: Int = 20", "first: Int = 25", "ARG_DEFAULT_VALUE_CHANGE"),
        ("a default is gone", "first: Int = 20", "first: Int", "ARG_DEFAULT_VALUE_CHANGE"),
        ("an input default is gone", "days: Int! = 0", "days: Int", "INPUT_FIELD_DEFAULT_VALUE_CHANGE"),
        ("an interface is gone", "type Item implements Node {", "type Item {", "no longer implements"),
    ],
)
def test_each_kind_of_break_is_reported(change: str, old: str, new: str, reported: str) -> None:
    assert old in SMALL_CONTRACT, change
    problems = breaks_of(SMALL_CONTRACT.replace(old, new, 1))
    assert any(reported in p for p in problems), (change, problems)


TAG = "type Tag { label: String! }\n"
SMALL_R2 = (
    """
extend enum Status { ARCHIVED }
extend type Item { tags: [Tag!]! owner: String }
extend type Query { tags: [Tag!]! }
"""
    + TAG
)


def test_only_the_named_parts_of_revision_2_are_demanded() -> None:
    # given a served schema with the Tag type and Item.tags (but not Item.owner, ARCHIVED or Query.tags)
    served = build_schema(SMALL_CONTRACT.replace("note: String }", "note: String tags: [Tag!]! }") + TAG)
    names = {"Tag", "Item.tags"}
    # then the part named is kept and nothing else is asked for
    assert contract_breaks(contract_with_r2(SMALL_CONTRACT, SMALL_R2, names), served) == []
    # and naming one more part that is not served reports it
    problems = contract_breaks(contract_with_r2(SMALL_CONTRACT, SMALL_R2, names | {"Item.owner"}), served)
    assert problems == ["Field Item.owner was removed."]
    # and a whole extension, named by its type, asks for all it adds
    problems = contract_breaks(contract_with_r2(SMALL_CONTRACT, SMALL_R2, names | {"Status", "Query"}), served)
    assert sorted(problems) == ["Enum value Status.ARCHIVED was removed.", "Field Query.tags was removed."]


def test_names_that_revision_2_does_not_define_are_refused() -> None:
    part, unknown = r2_part(parse(SMALL_R2), {"Tag", "Item.tgas", "Webhook"})
    assert unknown == {"Item.tgas", "Webhook"}
    assert [d.name.value for d in part.definitions] == ["Tag"]  # type: ignore[attr-defined]


def test_the_served_list_names_lines_and_ignores_comments() -> None:
    assert served_r2_names("# header\n\nCampaign.series  # the Overview over time\nSeriesPoint\n") == {
        "Campaign.series",
        "SeriesPoint",
    }


async def test_models_and_migrations_agree(database: None) -> None:
    """`tortoise makemigrations` would write nothing: every model change has its migration."""
    from tortoise import Tortoise
    from tortoise.migrations.autodetector import MigrationAutodetector

    from models.db import tortoise_config

    apps_config = tortoise_config("sqlite://:memory:")["apps"]
    changes = await MigrationAutodetector(Tortoise.apps, apps_config).changes()
    pending = [str(op) for writer in changes for op in writer.operations]
    assert not pending, "models changed without a migration (run `tortoise makemigrations`):\n" + "\n".join(pending)
