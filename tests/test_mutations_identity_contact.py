"""Identities and contacts: defaults, validation with paths, partial updates."""

from __future__ import annotations

from typing import Any

from tests.factories_mutations import (
    ERRORS,
    counters_match_recount,  # noqa: F401  (autouse: counters equal a recount after each test)
    mutate,
)

IDENTITY_FIELDS = """id name linkedinUrl linkedinConnected emailAddress emailConnected
  workingHours { timezone days start end }
  limits { dailyConnectionRequests dailyLinkedinMessages dailyEmails monthlyConversations inmailCredits }"""
CREATE = f"mutation($i: IdentityInput!) {{ createIdentity(input: $i) {{ identity {{ {IDENTITY_FIELDS} }} {ERRORS} }} }}"
UPDATE = (
    "mutation($id: ID!, $i: IdentityUpdateInput!) { updateIdentity(id: $id, input: $i) {"
    f" identity {{ {IDENTITY_FIELDS} }} {ERRORS} }} }}"
)
IMPORT = (
    "mutation($c: [ContactInput!]!) { importContacts(contacts: $c) {"
    f" contacts {{ id firstName lastName fullName email company }} {ERRORS} }} }}"
)
UPDATE_CONTACT = (
    "mutation($id: ID!, $i: ContactUpdateInput!) { updateContact(id: $id, input: $i) {"
    f" contact {{ id firstName lastName email linkedinUrl company title }} {ERRORS} }} }}"
)


async def test_identity_defaults(gql: Any) -> None:
    payload = await mutate(gql, CREATE, {"i": {"name": "Ana", "linkedinUrl": "https://linkedin.com/in/ana"}})
    assert payload["errors"] == []
    identity = payload["identity"]
    assert identity["linkedinConnected"] is True and identity["emailConnected"] is False
    assert identity["workingHours"] == {
        "timezone": "UTC",
        "days": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
        "start": "09:00",
        "end": "18:00",
    }
    assert identity["limits"]["dailyConnectionRequests"] == 20
    assert identity["limits"]["dailyLinkedinMessages"] == 100
    assert identity["limits"]["dailyEmails"] == 30
    mailbox = (await mutate(gql, CREATE, {"i": {"name": "Bo", "emailAddress": "bo@acme.test"}}))["identity"]
    assert mailbox["emailConnected"] is True and mailbox["linkedinConnected"] is False


async def test_identity_validation_reports_every_problem(gql: Any) -> None:
    payload = await mutate(
        gql,
        CREATE,
        {
            "i": {
                "name": " ",
                "emailAddress": "not-an-email",
                "workingHours": {"timezone": "Mars/Olympus", "days": [], "start": "9am", "end": "25:00"},
                "limits": {"dailyEmails": -1, "inmailCredits": 5},
            }
        },
    )
    assert payload["identity"] is None
    assert sorted(tuple(e["field"]) for e in payload["errors"]) == sorted(
        [
            ("input", "name"),
            ("input", "emailAddress"),
            ("input", "workingHours", "timezone"),
            ("input", "workingHours", "days"),
            ("input", "workingHours", "start"),
            ("input", "workingHours", "end"),
            ("input", "limits", "dailyEmails"),
        ]
    )
    assert {e["code"] for e in payload["errors"]} == {"INVALID_INPUT"}
    hours = {"timezone": "Europe/Madrid", "days": ["MONDAY"], "start": "18:00", "end": "09:00"}
    late = await mutate(gql, CREATE, {"i": {"name": "Late", "workingHours": hours}})
    assert [e["field"] for e in late["errors"]] == [["input", "workingHours", "end"]]
    data = await gql("{ identities { id } }")
    assert data["identities"] == []


async def test_update_identity(gql: Any) -> None:
    created = (await mutate(gql, CREATE, {"i": {"name": "Ana", "emailAddress": "ana@acme.test"}}))["identity"]
    hours = {"timezone": "Europe/Madrid", "days": ["SATURDAY", "MONDAY"], "start": "08:30", "end": "12:00"}
    payload = await mutate(
        gql,
        UPDATE,
        {
            "id": created["id"],
            "i": {"name": "Ana B", "emailConnected": False, "workingHours": hours, "limits": {"dailyEmails": 50}},
        },
    )
    assert payload["errors"] == []
    identity = payload["identity"]
    assert identity["name"] == "Ana B" and identity["emailConnected"] is False
    assert identity["workingHours"] == {**hours, "days": ["MONDAY", "SATURDAY"]}
    assert identity["limits"]["dailyEmails"] == 50 and identity["limits"]["dailyConnectionRequests"] == 20
    refused = await mutate(gql, UPDATE, {"id": created["id"], "i": {"linkedinConnected": True, "name": ""}})
    assert sorted(tuple(e["field"]) for e in refused["errors"]) == [("input", "linkedinConnected"), ("input", "name")]
    cleared = await mutate(gql, UPDATE, {"id": created["id"], "i": {"emailAddress": None}})
    assert cleared["identity"]["emailAddress"] is None and cleared["identity"]["emailConnected"] is False
    missing = await mutate(gql, UPDATE, {"id": "SWRlbnRpdHk6OTk5", "i": {"name": "x"}})
    assert [(e["code"], e["field"]) for e in missing["errors"]] == [("NOT_FOUND", ["id"])]


async def test_import_contacts_reports_each_bad_one(gql: Any) -> None:
    payload = await mutate(
        gql,
        IMPORT,
        {
            "c": [
                {"firstName": "Ada", "lastName": "Lovelace", "email": " ada@math.test ", "company": "AE"},
                {"firstName": "", "lastName": "X", "email": "nope"},
                {"firstName": "Alan", "lastName": "Turing"},
                {"firstName": "Grace", "lastName": "  "},
            ]
        },
    )
    assert [c["fullName"] for c in payload["contacts"]] == ["Ada Lovelace", "Alan Turing"]
    assert payload["contacts"][0]["email"] == "ada@math.test"
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("INVALID_INPUT", ["contacts", "1", "firstName"]),
        ("INVALID_INPUT", ["contacts", "1", "email"]),
        ("INVALID_INPUT", ["contacts", "3", "lastName"]),
    ]
    data = await gql("{ contacts { totalCount } }")
    assert data["contacts"]["totalCount"] == 2


async def test_update_contact(gql: Any) -> None:
    created = (await mutate(gql, IMPORT, {"c": [{"firstName": "Ada", "lastName": "L", "email": "a@b.test"}]}))[
        "contacts"
    ][0]
    payload = await mutate(gql, UPDATE_CONTACT, {"id": created["id"], "i": {"company": "AE", "email": None}})
    assert payload["errors"] == []
    assert payload["contact"] == {
        "id": created["id"],
        "firstName": "Ada",
        "lastName": "L",
        "email": None,
        "linkedinUrl": None,
        "company": "AE",
        "title": None,
    }
    bad = await mutate(gql, UPDATE_CONTACT, {"id": created["id"], "i": {"firstName": None, "email": "x"}})
    assert sorted(tuple(e["field"]) for e in bad["errors"]) == [("input", "email"), ("input", "firstName")]
    assert bad["contact"] is None
