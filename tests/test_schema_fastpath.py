"""schema/fastpath.py: a query answers exactly what graphql-core answers, whether it succeeds or fails.

Each query runs on two schemas built from the same types: graphql-core's executor, and ours (direct fields
plus the fast path). Data and errors (message, path) must be identical; the fast path must actually answer
the queries that succeed (each resolver runs once), and hand the ones that fail to graphql-core.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
import strawberry
from strawberry.extensions import ParserCache
from strawberry.types import Info

from schema import direct
from schema.execution import ExecutionContext
from schema.fastpath import FastPathMixin

CALLS: Counter[str] = Counter()


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Tag(Named):
    weight: int

    @strawberry.field
    async def double(self) -> int:
        CALLS["double"] += 1
        await asyncio.sleep(0)
        return self.weight * 2


@strawberry.type
class Item(Named):
    price: float | None
    tags: list[Tag]

    @strawberry.field
    def shout(self) -> str:
        CALLS["shout"] += 1
        return self.name.upper()

    @strawberry.field
    def label(self, prefix: str = "#") -> str:
        return f"{prefix}{self.name}"

    @strawberry.field
    async def sibling(self) -> Item | None:
        await asyncio.sleep(0)
        return None if self.name == "c" else Item(name=self.name + "!", price=None, tags=[])

    @strawberry.field
    def broken(self) -> str | None:
        if self.name == "b":
            raise ValueError("broken b")
        return "fine"

    @strawberry.field
    def strict(self) -> str:
        return None if self.name == "b" else "ok"  # type: ignore[return-value]  # a null where none is allowed


ITEMS = [
    Item(name=n, price=i or None, tags=[Tag(name=f"{n}{j}", weight=j) for j in range(2)]) for i, n in enumerate("abc")
]


@strawberry.type
class Query:
    @strawberry.field
    async def items(self, first: int = 10) -> list[Item]:
        CALLS["items"] += 1
        return ITEMS[:first]

    @strawberry.field
    def named(self) -> list[Named]:
        return [ITEMS[0], ITEMS[0].tags[1]]


def _schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    plain = strawberry.Schema(query=Query)
    # As schema/__init__.py builds it: the parser cache hands a repeated text the same document.
    fast = strawberry.Schema(
        query=Query, execution_context_class=ExecutionContext, extensions=[lambda: ParserCache(maxsize=64)]
    )
    direct.install(fast)
    return plain, fast


SUCCEEDS = """
query Q($withTags: Boolean!, $skipPrice: Boolean = false, $n: Int) {
  __typename
  items(first: $n) {
    __typename
    ...ItemBits
    alias: name
    price @skip(if: $skipPrice)
    tags @include(if: $withTags) { name weight double __typename }
    sibling { name sibling { name } }
    ... on Item { dollars: label(prefix: "$") }
  }
  named { __typename name ... on Tag { weight } ... on Item { shout } }
}
fragment ItemBits on Item { name shout label }
"""


@pytest.mark.parametrize(
    "variables",
    [{"withTags": True}, {"withTags": False, "skipPrice": True}, {"withTags": True, "n": 2}],
)
async def test_a_query_that_succeeds_is_answered_once_by_the_fast_path_as_graphql_core_answers_it(
    variables: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    plain, fast = _schemas()
    expected = await plain.execute(SUCCEEDS, variable_values=variables)
    assert expected.errors is None

    taken: list[str] = []
    original = FastPathMixin._fields

    def spy(self: Any, parent_type: Any, *args: Any) -> Any:
        taken.append(parent_type.name)
        return original(self, parent_type, *args)

    monkeypatch.setattr(FastPathMixin, "_fields", spy)
    CALLS.clear()
    got = await fast.execute(SUCCEEDS, variable_values=variables)

    assert got.errors is None
    assert got.data == expected.data
    assert list(got.data) == list(expected.data)  # the same key order as well
    assert taken[0] == "Query"
    rows = len(expected.data["items"])
    # Every resolver ran once: the fast path answered, nothing was run a second time.
    assert CALLS["items"] == 1
    assert CALLS["shout"] == rows + 1
    assert CALLS["double"] == (2 * rows if variables["withTags"] else 0)


FAILS = """
{ items { name broken sibling { name } tags { double } } }
"""

NULL_IN_NON_NULL = """
{ items { name strict } named { name } }
"""


@pytest.mark.parametrize("query", [FAILS, NULL_IN_NON_NULL])
async def test_a_query_that_fails_gets_graphql_cores_partial_data_and_located_errors(query: str) -> None:
    plain, fast = _schemas()
    expected = await plain.execute(query)
    got = await fast.execute(query)

    assert expected.errors
    assert got.data == expected.data
    assert [(e.message, e.path) for e in got.errors or []] == [(e.message, e.path) for e in expected.errors]


async def test_introspection_and_mutations_are_left_to_graphql_core() -> None:
    plain, fast = _schemas()
    query = '{ __schema { queryType { name } } __type(name: "Item") { name fields { name } } }'
    expected = await plain.execute(query)
    got = await fast.execute(query)
    assert got.errors is None
    assert got.data == expected.data


async def test_the_info_of_a_field_with_arguments_is_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    @strawberry.type
    class Q:
        @strawberry.field
        def where(self, info: Info, name: str) -> str:
            seen.append((info.path.as_list(), info.field_name, info.variable_values))
            return name

    schema = strawberry.Schema(query=Q, execution_context_class=ExecutionContext)
    direct.install(schema)
    got = await schema.execute("query ($n: String!) { a: where(name: $n) }", variable_values={"n": "x"})
    assert got.data == {"a": "x"}
    assert seen == [(["a"], "where", {"n": "x"})]


PLAIN = """query Q($n: Int) { items(first: $n) { name shout tags { name double } sibling { name } } }"""


async def test_a_repeated_document_reuses_its_plans_and_still_answers_each_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain, fast = _schemas()
    collected: list[str] = []
    original = ExecutionContext.collect_subfields

    def spy(self: Any, return_type: Any, details: Any) -> Any:
        collected.append(return_type.name)
        return original(self, return_type, details)

    monkeypatch.setattr(ExecutionContext, "collect_subfields", spy)
    for n in (3, 1, 2):
        got = await fast.execute(PLAIN, variable_values={"n": n})
        assert got.errors is None
        assert got.data == (await plain.execute(PLAIN, variable_values={"n": n})).data
        assert len(got.data["items"]) == n
    # Item, Tag and the sibling's Item were collected for the first request only.
    assert sorted(collected) == ["Item", "Item", "Tag"]


async def test_a_document_whose_shape_depends_on_a_variable_is_planned_per_request() -> None:
    plain, fast = _schemas()
    query = "query Q($t: Boolean!) { items(first: 1) { name tags @include(if: $t) { name } } }"
    for t in (True, False, True):
        got = await fast.execute(query, variable_values={"t": t})
        assert got.data == (await plain.execute(query, variable_values={"t": t})).data
        assert ("tags" in got.data["items"][0]) is t


async def test_the_same_document_on_two_schemas_answers_from_each_schema() -> None:
    # The parser cache is shared by every schema of the process: plans must not be.
    @strawberry.type
    class One:
        @strawberry.field
        def word(self) -> str:
            return "one"

    @strawberry.type
    class Two:
        @strawberry.field
        def word(self) -> str:
            return "two"

    schemas = []
    for query in (One, Two):
        schema = strawberry.Schema(
            query=query, execution_context_class=ExecutionContext, extensions=[lambda: ParserCache(maxsize=64)]
        )
        direct.install(schema)
        schemas.append(schema)
    for _ in range(2):
        assert [(await s.execute("query Same { word }")).data for s in schemas] == [{"word": "one"}, {"word": "two"}]
