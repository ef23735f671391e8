"""schema/direct.py: the fields it takes over answer what Strawberry's resolvers answer; the others keep theirs."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from schema import direct


def _root_info(root: Any, info: Info) -> str:
    return f"{root.name}@{type(info.context).__name__}"


def _boom(root: Any) -> str:
    raise ValueError("boom")


@strawberry.type
class Item:
    name: str
    by_root_info: str = strawberry.field(resolver=_root_info)
    boom: str | None = strawberry.field(resolver=_boom)

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    def repeat(self, times: int) -> str:
        return self.name * times

    @strawberry.field
    async def later(self) -> str:
        return self.name


@strawberry.type
class Query:
    @strawberry.field
    def item(self) -> Item:
        return Item(name="ab")


QUERY = "{ item { name byRootInfo shout repeat(times: 2) later boom } }"


async def test_direct_fields_answer_the_same_and_the_others_are_left_alone() -> None:
    plain = strawberry.Schema(query=Query)
    fast = strawberry.Schema(query=Query)
    before = dict(fast._schema.type_map["Item"].fields)
    resolvers = {name: f.resolve for name, f in before.items()}

    assert direct.install(fast) == 5  # Query.item, name, byRootInfo, shout, boom

    after = fast._schema.type_map["Item"].fields
    assert {n for n in after if after[n].resolve is not resolvers[n]} == {"name", "byRootInfo", "shout", "boom"}
    expected = await plain.execute(QUERY, context_value={"who": 1})
    got = await fast.execute(QUERY, context_value={"who": 1})
    assert (
        got.data
        == expected.data
        == {
            "item": {
                "name": "ab",
                "byRootInfo": "ab@dict",
                "shout": "AB",
                "repeat": "abab",
                "later": "ab",
                "boom": None,
            }
        }
    )
    assert [(e.message, e.path) for e in got.errors or []] == [(e.message, e.path) for e in expected.errors or []]
    assert [e.path for e in got.errors or []] == [["item", "boom"]]
