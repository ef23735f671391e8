"""The dashboard at / in Chromium, against a real server whose engine runs the seeded campaign."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.conftest import until
from tests.browser.seed import Seeded, reply, seed, stats_of
from tests.test_live_subscriptions import Server

KPI_TYPES = {
    "allChannels": "AllChannelsStats",
    "linkedin": "LinkedinStats",
    "email": "EmailStats",
    "tasks": "TaskStats",
}


@pytest.fixture
async def seeded(server: Server, workspace: Any) -> Seeded:
    return await seed(server, workspace[1])


async def sign_in(page: Any, server: Server, key: str) -> None:
    await page.goto(server.base + "/")
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_selector("#campaign[data-loaded]")  # every tab has its data
    assert (await metric(page, "allChannels.totalContacts")).isdigit()


async def metric(page: Any, path: str) -> str:
    return await page.locator(f'[data-metric="{path}"]').text_content()


async def served_fields(server: Server, key: str, type_name: str) -> list[str]:
    data = await server.gql(key, "query($t: String!) { __type(name: $t) { fields { name } } }", {"t": type_name})
    return [f["name"] for f in data["__type"]["fields"]]


async def test_sign_in_keeps_the_key_in_this_tab_only(page: Any, server: Server, seeded: Seeded) -> None:
    await page.goto(server.base + "/")
    await page.locator('input[name="apiKey"]').fill("ob_wrong")
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_text("That API key was not accepted.").wait_for()

    await sign_in(page, server, seeded.key)
    await page.get_by_role("heading", name="Browser outreach").wait_for()
    assert await page.evaluate("sessionStorage.getItem('outbound.apiKey')") == seeded.key
    assert seeded.key not in await page.evaluate("JSON.stringify(localStorage)")
    assert seeded.key not in page.url

    # the tabs are a keyboard-usable tablist
    overview = page.get_by_role("tab", name="Overview")
    assert await overview.get_attribute("aria-selected") == "true"
    await overview.focus()
    await page.keyboard.press("ArrowRight")
    assert await page.get_by_role("tab", name="Audience").get_attribute("aria-selected") == "true"
    assert await page.evaluate("document.activeElement.textContent") == "Audience"
    await page.get_by_role("tabpanel", name="Audience").wait_for()

    # readable on a phone: nothing wider than the screen
    await page.set_viewport_size({"width": 375, "height": 800})
    for tab in ("Overview", "Audience", "Activity"):
        await page.get_by_role("tab", name=tab).click()
        assert await page.evaluate("document.documentElement.scrollWidth") <= 375, tab


async def test_every_kpi_equals_the_stats_query(page: Any, server: Server, seeded: Seeded) -> None:
    await sign_in(page, server, seeded.key)
    shown_paths = await page.eval_on_selector_all("[data-metric]", "els => els.map(e => e.dataset.metric)")
    expected_paths = [
        f"{group}.{field}"
        for group, type_name in KPI_TYPES.items()
        for field in await served_fields(server, seeded.key, type_name)
    ]
    assert sorted(shown_paths) == sorted(expected_paths)  # every KPI of CampaignStats, once

    async def equal() -> bool:
        stats = await stats_of(server, seeded)
        shown = {p: await metric(page, p) for p in shown_paths}
        want = {p: str(stats[p.split(".")[0]][p.split(".")[1]]) for p in shown_paths}
        return shown == want

    await until(equal, 10, "the KPIs on screen to equal the stats query")
    assert await metric(page, "email.sent") == "6"  # and the seeded campaign has really moved


async def test_a_reply_moves_replied_on_screen_within_two_seconds(page: Any, server: Server, seeded: Seeded) -> None:
    await sign_in(page, server, seeded.key)
    before = int(await metric(page, "allChannels.replied"))
    await page.wait_for_selector("#live-status[data-status=live]")
    await reply(server, seeded, "Ana")
    started = time.monotonic()
    await page.wait_for_function(
        f"document.querySelector('[data-metric=\"allChannels.replied\"]').textContent === '{before + 1}'",
        timeout=2000,
    )
    assert time.monotonic() - started < 2
    # the Activity list got the reply pushed too, without a reload
    await page.get_by_role("tab", name="Activity").click()
    first = page.locator("#activity-rows li").first
    assert await first.get_attribute("data-kind") == "REPLY_RECEIVED"
    assert "Ana Doe" in await first.text_content()


async def test_the_chips_filter_the_audience(page: Any, server: Server, seeded: Seeded) -> None:
    await sign_in(page, server, seeded.key)
    await page.get_by_role("tab", name="Audience").click()
    rows = page.locator("#audience-rows [data-lead-id]")
    await until(lambda: _count(rows, 8), what="8 audience rows")
    error_chip = page.locator("#audience-chips [data-status=ERROR]")
    assert await error_chip.locator(".count").text_content() == "2"
    await error_chip.click()
    assert await error_chip.get_attribute("aria-pressed") == "true"
    await until(lambda: _count(rows, 2), what="the ERROR leads only")
    assert set(await rows.evaluate_all("rs => rs.map(r => r.dataset.status)")) == {"ERROR"}
    assert {seeded.lead("Grace"), seeded.lead("Hugo")} == set(
        await rows.evaluate_all("rs => rs.map(r => r.dataset.leadId)")
    )

    await page.locator("#audience-chips [data-status=ALL]").click()
    await until(lambda: _count(rows, 8), what="every lead again")
    await page.get_by_label("Substatus").select_option("MISSING_CONTACT_EMAIL")
    await until(lambda: _count(rows, 2), what="the MISSING_CONTACT_EMAIL leads")
    await page.get_by_label("Substatus").select_option("")
    await page.get_by_label("Search").fill("chloe")
    await until(lambda: _count(rows, 1), what="the search's one lead")
    assert await rows.first.get_attribute("data-lead-id") == seeded.lead("Chloe")


async def _count(locator: Any, n: int) -> bool:
    return await locator.count() == n


async def test_the_side_panel_shows_the_error_and_retry_resumes_the_lead(
    page: Any, server: Server, seeded: Seeded
) -> None:
    await sign_in(page, server, seeded.key)
    await page.get_by_role("tab", name="Audience").click()
    await page.get_by_role("button", name="Grace Doe").click()
    panel = page.get_by_role("dialog", name="Grace Doe")
    await panel.wait_for()
    lead = (
        await server.gql(
            seeded.key, "query($id: ID!) { lead(id: $id) { error { message hint } } }", {"id": seeded.lead("Grace")}
        )
    )["lead"]
    assert await panel.locator(".lead-error .message").text_content() == lead["error"]["message"]
    assert lead["error"]["hint"] in await panel.locator(".lead-error .hint").text_content()
    assert await panel.locator(".timeline li").count() >= 2  # the visit, then the error
    assert await panel.locator("[data-lead-status]").get_attribute("data-lead-status") == "ERROR"

    # the cause fixed through the API, Retry sends the lead back to its step
    contact = await server.gql(
        seeded.key, "query($id: ID!) { lead(id: $id) { contact { id } } }", {"id": seeded.lead("Grace")}
    )
    await server.gql(
        seeded.key,
        'mutation($id: ID!) { updateContact(id: $id, input: {email: "grace@acme.test"}) { errors { message } } }',
        {"id": contact["lead"]["contact"]["id"]},
    )
    await panel.get_by_role("button", name="Retry").click()
    await page.wait_for_function(
        "document.querySelector('#lead-panel [data-lead-status]').dataset.leadStatus !== 'ERROR'", timeout=10000
    )
    status = await server.gql(seeded.key, "query($id: ID!) { lead(id: $id) { status } }", {"id": seeded.lead("Grace")})
    assert status["lead"]["status"] != "ERROR"
    await panel.get_by_role("button", name="Close").click()
    assert not await panel.is_visible()


async def test_view_activity_opens_the_activity_tab_filtered_to_the_step(
    page: Any, server: Server, seeded: Seeded
) -> None:
    await sign_in(page, server, seeded.key)
    email_step = seeded.step_ids[1]
    await (
        page.locator(f'#flow [data-step-id="{email_step}"] > .step').get_by_role("button", name="View activity").click()
    )
    assert await page.get_by_role("tab", name="Activity").get_attribute("aria-selected") == "true"
    assert await page.get_by_label("Step", exact=True).input_value() == email_step
    total = (
        await server.gql(
            seeded.key,
            "query($id: ID!, $s: ID!) { campaign(id: $id) { activity(filter: {stepId: $s}) { totalCount } } }",
            {"id": seeded.campaign_id, "s": email_step},
        )
    )["campaign"]["activity"]["totalCount"]
    assert total >= 6
    rows = page.locator("#activity-rows [data-activity-id]")
    await until(lambda: _count(rows, total), what="the step's activity")
    assert set(await rows.evaluate_all("rs => rs.map(r => r.dataset.stepId)")) == {email_step}


async def test_activity_filters_by_kind_recipient_and_dates(page: Any, server: Server, seeded: Seeded) -> None:
    await sign_in(page, server, seeded.key)
    await page.get_by_role("tab", name="Activity").click()
    rows = page.locator("#activity-rows [data-activity-id]")
    await page.locator("#activity-kinds").evaluate("e => e.closest('details').open = true")
    await page.get_by_label("Lead error").check()
    await until(lambda: _count(rows, 2), what="the two LEAD_ERROR entries")
    assert set(await rows.evaluate_all("rs => rs.map(r => r.dataset.kind)")) == {"LEAD_ERROR"}

    await page.get_by_role("button", name="Clear filters").click()
    await page.get_by_label("Recipient").fill("Chloe")
    await page.get_by_label("Recipient").fill("Chloe Doe <chloe@acme.test>")  # the datalist's entry

    async def only_chloe() -> bool:  # her visit and email, and no one else's
        names = await rows.evaluate_all("rs => rs.map(r => r.querySelector('.who').textContent)")
        return names == ["Chloe Doe", "Chloe Doe"]

    await until(only_chloe, what="Chloe's visit and email only")

    await page.get_by_role("button", name="Clear filters").click()
    await page.get_by_label("To").fill("2000-01-01")  # nothing happened before 2000
    await page.get_by_text("Nothing matches.").wait_for()
    assert await rows.count() == 0


async def test_pause_and_resume_change_the_status(page: Any, server: Server, seeded: Seeded) -> None:
    await sign_in(page, server, seeded.key)
    status = page.locator("#campaign-status")
    assert await status.get_attribute("data-status") == "ACTIVE"

    async def served() -> str:
        data = await server.gql(
            seeded.key, "query($id: ID!) { campaign(id: $id) { status } }", {"id": seeded.campaign_id}
        )
        return data["campaign"]["status"]

    await page.get_by_role("button", name="Pause", exact=True).click()
    await page.wait_for_selector("#campaign-status[data-status=PAUSED]")
    assert await served() == "PAUSED"
    await page.get_by_role("button", name="Resume", exact=True).click()
    await page.wait_for_selector("#campaign-status[data-status=ACTIVE]")
    assert await served() == "ACTIVE"


async def test_a_user_error_is_shown_next_to_its_input(page: Any, server: Server, seeded: Seeded) -> None:
    await sign_in(page, server, seeded.key)
    await page.get_by_role("button", name="Edit").click()
    form = page.get_by_role("form", name="Edit campaign")
    second_email = form.locator(f'fieldset[data-step-update="{seeded.step_ids[2]}"]')
    await second_email.get_by_label("Days").fill("-1")
    await form.get_by_role("button", name="Save").click()
    error = second_email.locator(".user-error")
    await error.wait_for()
    assert await error.get_attribute("data-code") == "INVALID_INPUT"
    # it sits right after the Days input it concerns
    assert await error.evaluate("e => e.previousElementSibling.name") == "days"
    data = await server.gql(
        seeded.key, "query($id: ID!) { campaign(id: $id) { sequence { delay { days } } } }", {"id": seeded.campaign_id}
    )
    assert data["campaign"]["sequence"][2]["delay"]["days"] == 3  # nothing changed

    await second_email.get_by_label("Days").fill("4")
    await second_email.get_by_label("Subject").fill("Still there?")
    await form.get_by_role("button", name="Save").click()
    await page.get_by_text("“Still there?”").wait_for()


async def test_duplicate_then_delete_after_a_confirmation(page: Any, server: Server, seeded: Seeded) -> None:
    await sign_in(page, server, seeded.key)
    await page.get_by_role("button", name="Duplicate").click()
    # the copy opens: a new DRAFT in the list and in the address (the id only, never the key)
    await page.wait_for_function(
        f"location.hash.startsWith('#/campaigns/') && !location.hash.includes('{seeded.campaign_id}')"
    )
    copy_id = await page.evaluate("location.hash.split('/')[2]")
    assert await page.locator("#campaign-status").get_attribute("data-status") == "DRAFT"
    await page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog", name="Confirm")
    await dialog.get_by_role("button", name="Cancel").click()
    assert await page.locator(f'#campaign-list [data-campaign-id="{copy_id}"]').count() == 1
    await page.get_by_role("button", name="Delete").click()
    await dialog.get_by_role("button", name="Delete").click()
    await page.wait_for_selector(f'#campaign-list [data-campaign-id="{copy_id}"]', state="detached")
    data = await server.gql(seeded.key, "query($id: ID!) { campaign(id: $id) { id } }", {"id": copy_id})
    assert data["campaign"] is None
    # and the Archived filter lists archived campaigns only
    await page.get_by_role("button", name="Archived", exact=True).click()
    await page.get_by_text("No campaigns here.").wait_for()


# -------------------------------------------- revision 2: Campaign.series and Campaign.funnel (issue 14 point 1)


async def _has_series_and_funnel(server: Server, key: str) -> bool:
    return {"series", "funnel"} <= set(await served_fields(server, key, "Campaign"))


async def test_the_chart_and_funnel_need_series_and_funnel(page: Any, server: Server, seeded: Seeded) -> None:
    """Campaign.series and Campaign.funnel (contract r2) are served, so the Overview shows both."""
    assert await _has_series_and_funnel(server, seeded.key)
    await sign_in(page, server, seeded.key)
    # the chart covers the campaign's whole life: its totals are the log's
    await page.locator("#chart svg rect").first.wait_for()
    data = await server.gql(
        seeded.key,
        "query($id: ID!) { campaign(id: $id) { activity(filter: {kinds: [EMAIL_SENT]}) { totalCount }"
        " funnel { step { id } performed replyRate } } }",
        {"id": seeded.campaign_id},
    )
    sent = data["campaign"]["activity"]["totalCount"]
    assert await page.locator("#chart [data-series-total=emailsSent]").text_content() == f"Emails: {sent}"
    rows = page.locator("#funnel [data-funnel-step-id]")
    assert await rows.count() == len(data["campaign"]["funnel"])
    for row in data["campaign"]["funnel"]:
        cell = page.locator(f'#funnel [data-funnel-step-id="{row["step"]["id"]}"] [data-reply-rate]')
        assert await cell.text_content() == f"{100 * row['replyRate']:.1f}%"

    # and it moves live: a reply shows in the chart without a reload
    replies = page.locator("#chart [data-series-total=replies]")
    assert await replies.text_content() == "Replies: 0"
    await reply(server, seeded, "Ana")
    await page.wait_for_function(
        "document.querySelector('#chart [data-series-total=replies]')?.textContent === 'Replies: 1'", timeout=8000
    )


# ------------------------------------------------------------------------------------ server restart


async def test_live_updates_come_back_after_a_server_restart(
    page: Any, backend: Any, workspace: Any, engine: None
) -> None:
    first = Server(backend, SCHEDULER="true")
    try:
        await first.ready()
        seeded = await seed(first, workspace[1])
        await sign_in(page, first, seeded.key)
        await page.wait_for_selector("#live-status[data-status=live]")
    finally:
        first.stop()
    await page.wait_for_selector("#live-status[data-status=reconnecting]")
    again = Server(backend, port=first.port, SCHEDULER="true")
    try:
        await again.ready()
        await page.wait_for_selector("#live-status[data-status=live]", timeout=15000)
        before = int(await metric(page, "allChannels.replied"))
        await reply(again, seeded, "Ben")
        await page.wait_for_function(
            f"document.querySelector('[data-metric=\"allChannels.replied\"]').textContent === '{before + 1}'",
            timeout=5000,
        )
    finally:
        again.stop()
