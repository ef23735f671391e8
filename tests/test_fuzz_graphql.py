"""Generated documents against every root field, over HTTP: never a 500 or an internal error, and a refused
mutation stores nothing (issue 12, point 3).

hypothesis-graphql builds documents from the served schema: any subset of Query's fields with generated
arguments and selections, and one Mutation field at a time. Its argument values are mixed with hostile
ones: NUL and other control characters, texts past every limit, unicode, email lists and angle brackets,
cursors holding integers past 2^63, dates in year 1 and 9999, Ints at 2^31 - 1, and real IDs of a seeded
workspace (so the calls reach the domain rather than stopping at NOT_FOUND). A mutation's document is given
an extra `errors { code field }` selection so the test knows whether it was refused; then every row of the
main tables must be exactly what it was before (partial mutations: only what they report created). After
every mutation, refused or not, every stored text and number must be one the input rules accept.

Derandomized (a fixed sequence of examples per run) so that a failure reproduces, and bounded by
max_examples so that the suite stays quick; deadline off (the machine is shared).
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import replace
from typing import Any

import graphql
import httpx
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, queries

from domain import validation as v
from domain.ids import to_global_id
from models import Contact, Task
from models.enums import CampaignStatus, StepType, TaskType
from schema.build import build_schema
from tests.conftest import GraphQLClient
from tests.engine_helpers import add_leads, make_campaign, make_identity, person, step

QUERY_EXAMPLES = 150
MUTATION_EXAMPLES = 200
#: Rows a refused mutation must leave exactly as they were (the workspace/key tables are touched by auth).
TABLES = ["campaign", "sequence_step", "contact", "identity", "lead", "activity", "task", "campaign_counter"]
#: Mutations that apply what they can and report the rest: (field, the payload's list of what was done).
PARTIAL = {"importContacts": "contacts", "addLeads": "leads", "removeLeads": "removedIds"}


def _cursor(*key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


HOSTILE_TEXT = [
    "",
    " ",
    "\x00",
    "Ada\x00Lovelace",
    "line\r\nBcc: victim@example.com",
    "\x1b[31mred\x7f\x85",
    "x" * 1001,
    "y" * 100_001,
    "\u202eevil\u200b",
    "\u00e9\u4e2d\u6587 \U0001f389\u0301" * 40,
    "root,postmaster,v1@evil.example",
    "a@b.c>",
    "Ada <ada@example.com>",
    "ada@example.com\n",
    " ada@EXAMPLE.com ",
    "ada@example.com",
    "Europe/Madrid",
    "../../etc/passwd",
    "09:00",
    "09:00\n",
    "{{firstName}}",
    "{{ai.missing}}",
    "{{" * 500,
    _cursor("Campaign", 2**70),
    _cursor("Contact", -1),
    _cursor("Activity", "9999-12-31T23:59:59+00:00", 2**64),
    _cursor("Activity", "0001-01-01T00:00:00+00:00", 1),
    "A" * 10_000,
]
HOSTILE_DATES = [
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "1969-12-31T23:59:59Z",
    "2100-01-01T00:00:00Z",
    "2026-03-02T10:00:00Z",
    "2026-03-02T10:00:00",
    "2026-03-02",
    "not a date",
    "\x00",
]


def _text(value: str) -> graphql.StringValueNode:
    return graphql.StringValueNode(value=value)


def _scalars(ids: list[str]) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    anything = st.text(alphabet=st.characters(codec="utf-8", min_codepoint=0, exclude_categories=["Cs"]), max_size=40)
    real = st.sampled_from(ids)
    strings = st.one_of(anything, st.sampled_from(HOSTILE_TEXT), real).map(_text)
    return {
        "String": strings,
        # Mostly real IDs (of every type: most still miss, as NOT_FOUND), so that calls reach the domain.
        "ID": st.one_of(real, real, real, anything, st.sampled_from(HOSTILE_TEXT)).map(_text),
        "DateTime": st.one_of(
            st.sampled_from(HOSTILE_DATES),
            st.datetimes().map(lambda d: d.isoformat() + "Z"),
        ).map(_text),
    }


async def _seed(ws: Any) -> list[str]:
    """An identity, a DRAFT campaign with a few steps, an ACTIVE one with a lead and a task: their IDs."""
    identity = await make_identity(ws)
    draft, draft_steps = await make_campaign(
        ws,
        identity,
        [
            step(StepType.EMAIL, subject="Hi", content="Body"),
            step(StepType.LINKEDIN_CONNECTION, wait_for_acceptance_days=7),
        ],
        status=CampaignStatus.DRAFT,
    )
    active, active_steps = await make_campaign(
        ws, identity, [step(StepType.TASK, task_type=TaskType.CALL, title="Call"), step(StepType.END)]
    )
    leads = await add_leads(ws, active, [person(1), person(2)])
    contacts = await Contact.filter(workspace_id=ws.id)
    task = await Task.create(
        workspace=ws, campaign=active, lead=leads[0], step=active_steps[0], type=TaskType.CALL, title="Call"
    )
    return [
        to_global_id("Identity", identity.id),
        to_global_id("Campaign", draft.id),
        to_global_id("Campaign", active.id),
        *(to_global_id("SequenceStep", s.id) for s in draft_steps + active_steps),
        *(to_global_id("Lead", lead.id) for lead in leads),
        *(to_global_id("Contact", c.id) for c in contacts),
        to_global_id("Task", task.id),
    ]


async def _snapshot() -> dict[str, list[Any]]:
    from tortoise import connections

    conn = connections.get("default")
    return {table: await conn.execute_query_dict(f"SELECT * FROM {table} ORDER BY id") for table in TABLES}


#: table -> (column, max length, multiline) of every text a client's input ends up in.
TEXTS = {
    "contact": [("first_name", v.NAME, False), ("last_name", v.NAME, False), ("company", v.NAME, False),
                ("title", v.NAME, False), ("linkedin_url", v.URL, False)],
    "identity": [("name", v.NAME, False), ("linkedin_url", v.URL, False), ("timezone", v.TIMEZONE, False)],
    "campaign": [("name", v.NAME, False)],
    "sequence_step": [("subject", v.EMAIL_SUBJECT, False), ("content", v.EMAIL_CONTENT, True),
                      ("title", v.TASK_TITLE, False)],
}  # fmt: skip
EMAILS = {"contact": "email", "identity": "email_address"}


def _rows_keep_the_limits(rows: dict[str, list[dict[str, Any]]]) -> None:
    """Whatever was stored, by any call, is a value the input rules accept: no generated input got past them."""
    for table, columns in TEXTS.items():
        for row in rows[table]:
            for column, limit, multiline in columns:
                value = row[column]
                assert value is None or (len(value) <= limit and not v.bad_characters(value, multiline=multiline)), (
                    table,
                    column,
                    repr(value)[:200],
                )
    for table, column in EMAILS.items():
        for row in rows[table]:
            problems: list[Any] = []
            assert row[column] is None or v.email(row[column], [column], problems) == row[column], repr(row[column])
            assert not problems, (table, repr(row[column])[:200])
    for row in rows["sequence_step"]:
        days = row["wait_for_acceptance_days"]
        low, high = v.WAIT_FOR_ACCEPTANCE_DAYS
        assert days is None or low <= days <= high, row
        assert 0 <= row["delay_seconds"] <= 366 * 86400, row


def _with_outcome(document: str) -> tuple[str, str]:
    """The mutation document with `fuzzErrors: errors { code field }` (and what a partial one did) selected
    on its one field; returns it and the field's response name."""
    ast = graphql.parse(document)
    (operation,) = ast.definitions
    field = operation.selection_set.selections[0]
    extra = "fuzzErrors: errors { code field }"
    if field.name.value in PARTIAL:
        done = PARTIAL[field.name.value]
        extra += f" fuzzDone: {done}" + ("" if done == "removedIds" else " { id }")
    selections = graphql.parse("{ " + extra + " }").definitions[0].selection_set.selections
    # graphql-core's nodes are frozen: rebuild the path from the field up.
    field = replace(
        field, selection_set=replace(field.selection_set, selections=(*field.selection_set.selections, *selections))
    )
    operation = replace(operation, selection_set=replace(operation.selection_set, selections=(field,)))
    return graphql.print_ast(replace(ast, definitions=(operation,))), (field.alias or field.name).value


def _check_response(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code != 500, response.text[:2000]
    assert response.status_code in (200, 400), (response.status_code, response.text[:2000])
    body = response.json()
    for error in body.get("errors") or []:
        assert (error.get("extensions") or {}).get("code") != "INTERNAL_SERVER_ERROR", error
        assert (error.get("extensions") or {}).get("code"), error
    return body


def _run_in_thread(loop: asyncio.AbstractEventLoop, test: Any) -> Any:
    """Hypothesis drives a sync function; each example's requests run on the test's own event loop."""

    def run(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    return asyncio.to_thread(test, run)


FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


async def test_generated_queries_never_fail_internally(gql: GraphQLClient, workspace: Any) -> None:
    ws, _ = workspace
    ids = await _seed(ws)
    schema = build_schema()._schema
    strategy = queries(schema, custom_scalars=_scalars(ids))

    @settings(FUZZ, max_examples=QUERY_EXAMPLES)
    @given(document=strategy)
    def check(run: Any, document: str) -> None:
        note(document)  # shown with a failing example (its repr is only "print_ast(DocumentNode)")
        _check_response(run(gql.post(document)))

    await _run_in_thread(asyncio.get_running_loop(), check)


async def test_generated_mutations_never_fail_internally_and_a_refused_one_stores_nothing(
    gql: GraphQLClient, workspace: Any
) -> None:
    ws, _ = workspace
    ids = await _seed(ws)
    schema = build_schema()._schema
    names = sorted(schema.mutation_type.fields)
    scalars = _scalars(ids)
    strategy = st.sampled_from(names).flatmap(lambda name: mutations(schema, fields=[name], custom_scalars=scalars))

    @settings(FUZZ, max_examples=MUTATION_EXAMPLES)
    @given(document=strategy)
    def check(run: Any, document: str) -> None:
        document, name = _with_outcome(document)
        note(document)
        before = run(_snapshot())
        body = _check_response(run(gql.post(document)))
        after = run(_snapshot())
        _rows_keep_the_limits(after)
        payload = (body.get("data") or {}).get(name)
        if payload is None:  # refused as a whole (a top-level error)
            assert after == before, (document[:2000], body)
            return
        if not payload["fuzzErrors"]:
            return  # applied: what it changed is the other tests' business
        field = graphql.parse(document).definitions[0].selection_set.selections[0].name.value
        if field in PARTIAL and payload["fuzzDone"]:
            if field == "importContacts":
                assert len(after["contact"]) - len(before["contact"]) == len(payload["fuzzDone"]), body
                assert {t: r for t, r in after.items() if t != "contact"} == {
                    t: r for t, r in before.items() if t != "contact"
                }
            return
        assert after == before, (document[:2000], payload["fuzzErrors"])

    await _run_in_thread(asyncio.get_running_loop(), check)
