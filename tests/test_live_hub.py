"""The hub in-process: coalescing, shared reads, bounded mailboxes, activity order, deletion, reconnect.

Readers are fakes here (no database), so each property is checked exactly and fast; the websocket tests
(test_live_subscriptions.py) run the same hub behind a real server.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from domain.events import campaign_channel, campaign_event
from live import hub as hub_module
from live.bus import RECONNECTED, LocalBus
from live.hub import Hub
from live.mailbox import Completed, Mailbox, TooFarBehind
from live.reads import Snapshot


class FakeCampaign:
    """Stats and activity of one campaign, with a count of how often the hub read them."""

    def __init__(self) -> None:
        self.version = 0
        self.stats_reads = 0
        self.rows: list[Any] = []
        self.deleted = False
        self.read_delay = 0.0

    async def read_stats(self, campaign_id: int) -> Snapshot | None:
        self.stats_reads += 1
        await asyncio.sleep(self.read_delay)
        return None if self.deleted else Snapshot(self.version, {"version": self.version})

    async def read_activity(self, campaign_id: int, after: int, extra: list[int], limit: int) -> list[Any]:
        return [r for r in self.rows if r.id > after or r.id in extra][:limit]

    async def read_max(self, campaign_id: int) -> int | None:
        return None if self.deleted else max((r.id for r in self.rows), default=0)


@pytest.fixture
async def setup() -> Any:
    fake = FakeCampaign()
    bus = LocalBus()
    hub = Hub(
        interval=0.05,
        read_stats=fake.read_stats,
        read_activity=fake.read_activity,
        read_max_activity_id=fake.read_max,
    )
    await hub.start(bus)
    yield fake, bus, hub
    await hub.stop()


async def change(bus: LocalBus, fake: FakeCampaign, kind: str = "stats", **extra: Any) -> None:
    if kind == "stats":
        fake.version += 1
    await bus.publish(campaign_channel(1, 7), campaign_event(kind, 7, **extra))  # type: ignore[arg-type]


async def next_item(mailbox: Mailbox, wait: float = 2.0) -> Any:
    return await asyncio.wait_for(mailbox.get(), wait)


async def test_first_snapshot_at_once_then_changes_coalesced_into_one_read(setup: Any) -> None:
    fake, bus, hub = setup
    mailboxes = [hub.subscribe_stats(7) for _ in range(50)]
    firsts = [await next_item(m) for m in mailboxes]
    assert {s.version for s in firsts} == {0}
    assert fake.stats_reads == 1  # fifty subscribers, one read
    assert len({id(s) for s in firsts}) == 1  # and one shared snapshot object

    reads_before = fake.stats_reads
    for _ in range(20):  # a burst of changes within one interval
        await change(bus, fake)
    for mailbox in mailboxes:
        versions = await read_until(mailbox, 20)
        assert versions == sorted(set(versions))  # strictly increasing
        assert versions[-1] == 20  # the latest always arrives
    assert fake.stats_reads - reads_before <= 3  # coalesced: not one read per change


async def test_a_late_subscriber_gets_the_cached_snapshot_without_a_read(setup: Any) -> None:
    fake, _bus, hub = setup
    first = hub.subscribe_stats(7)
    await next_item(first)
    reads = fake.stats_reads
    late = hub.subscribe_stats(7)
    assert (await next_item(late)).version == 0
    assert fake.stats_reads == reads


async def test_a_lost_event_heals_for_the_next_subscriber_once_the_snapshot_is_old(
    setup: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_module, "SNAPSHOT_MAX_AGE", 0.2)
    fake, _bus, hub = setup
    first = hub.subscribe_stats(7)
    assert (await next_item(first)).version == 0
    fake.version = 3  # changed, but its event was lost (a failed publish is only logged)
    assert (await next_item(hub.subscribe_stats(7))).version == 0  # still recent: served from the cache
    await asyncio.sleep(0.25)
    reads = fake.stats_reads
    joining = [hub.subscribe_stats(7) for _ in range(20)]
    assert {(await next_item(m)).version for m in joining} == {3}  # read again: the fresh numbers
    assert fake.stats_reads == reads + 1  # once for everyone joining
    assert (await next_item(first)).version == 3  # and the ones already there get them too
    assert (await next_item(hub.subscribe_stats(7))).version == 3  # fresh again: from the cache


async def test_versions_strictly_increase_and_a_refresh_with_nothing_new_sends_nothing(setup: Any) -> None:
    fake, bus, hub = setup
    mailbox = hub.subscribe_stats(7)
    assert (await next_item(mailbox)).version == 0
    await bus.publish("", RECONNECTED)  # re-read: same version, nothing to send
    await asyncio.sleep(0.15)
    assert not mailbox._items
    fake.version = 5  # changed while the bus was away: the event was lost
    await bus.publish("", RECONNECTED)
    assert (await next_item(mailbox)).version == 5


async def test_a_slow_subscriber_skips_to_the_newest_snapshot_and_never_blocks_the_others(setup: Any) -> None:
    fake, bus, hub = setup
    slow, fast = hub.subscribe_stats(7), hub.subscribe_stats(7)
    await next_item(fast)
    seen = []
    for _ in range(5):
        await change(bus, fake)
        seen.append((await next_item(fast)).version)  # the fast one is never held back
    assert seen == [1, 2, 3, 4, 5]
    # The slow one never read: its mailbox holds one whole snapshot, the newest.
    assert [s.version for s in slow._items] == [5]


async def test_deleted_campaign_completes_its_streams(setup: Any) -> None:
    fake, bus, hub = setup
    stats = hub.subscribe_stats(7)
    activity = await hub.subscribe_activity(7)
    await next_item(stats)
    await change(bus, fake, "deleted")
    with pytest.raises(Completed):
        await next_item(stats)
    with pytest.raises(Completed):
        await next_item(activity)
    assert 7 not in hub.topics


async def test_subscribing_to_a_campaign_deleted_meanwhile_completes_at_once(setup: Any) -> None:
    fake, _, hub = setup
    fake.deleted = True  # checked by the resolver, deleted before the stream was set up
    with pytest.raises(Completed):
        await next_item(await hub.subscribe_activity(7))
    with pytest.raises(Completed):
        await next_item(hub.subscribe_stats(7))
    assert 7 not in hub.topics
    fake.deleted = False  # SQLite may give the id to a new campaign: it streams normally
    assert (await next_item(hub.subscribe_stats(7))).version == 0


async def test_a_campaign_gone_on_read_completes_too(setup: Any) -> None:
    fake, bus, hub = setup
    stats = hub.subscribe_stats(7)
    await next_item(stats)
    fake.deleted = True
    await change(bus, fake)
    with pytest.raises(Completed):
        await next_item(stats)


async def read_until(mailbox: Mailbox, version: int) -> list[int]:
    versions: list[int] = []
    while not versions or versions[-1] < version:
        versions.append((await next_item(mailbox)).version)
    return versions


def row(i: int) -> Any:
    return SimpleNamespace(id=i)


async def test_activity_from_now_on_in_order_including_late_commits(setup: Any) -> None:
    fake, bus, hub = setup
    fake.rows = [row(1), row(2)]  # before the subscription: not sent
    mailbox = await hub.subscribe_activity(7)
    fake.rows += [row(3), row(5)]
    await change(bus, fake, "activity", activity_id=5)
    assert [(await next_item(mailbox)).id for _ in range(2)] == [3, 5]
    fake.rows.append(row(4))  # its id was taken before 5's, its commit came after
    await change(bus, fake, "activity", activity_id=4)
    assert (await next_item(mailbox)).id == 4
    await asyncio.sleep(0.05)
    assert not mailbox._items  # nothing twice


async def test_activity_reader_too_far_behind_is_closed_with_an_error(setup: Any) -> None:
    fake, bus, hub = setup
    hub.activity_queue = 3
    mailbox = await hub.subscribe_activity(7)
    fake.rows = [row(i) for i in range(1, 6)]
    await change(bus, fake, "activity", activity_id=5)
    await asyncio.sleep(0.05)
    with pytest.raises(TooFarBehind, match="too far behind"):
        await next_item(mailbox)


async def test_unsubscribing_the_last_subscriber_drops_the_topic(setup: Any) -> None:
    _fake, _bus, hub = setup
    a, b = hub.subscribe_stats(7), await hub.subscribe_activity(7)
    hub.unsubscribe(a)
    assert 7 in hub.topics
    hub.unsubscribe(b)
    assert 7 not in hub.topics


async def test_stopping_the_hub_completes_every_stream(setup: Any) -> None:
    _fake, _bus, hub = setup
    mailbox = hub.subscribe_stats(7)
    await next_item(mailbox)
    await hub.stop()
    with pytest.raises(Completed):
        await next_item(mailbox)


async def test_a_rolled_back_change_publishes_nothing(workspace: Any) -> None:
    """Events are after-commit effects: a rollback drops them (and a commit sends them once)."""
    from domain.events import CampaignEvent
    from domain.leads import count_leads
    from domain.tx import set_handler, transaction
    from live.runtime import publish_on
    from models import Campaign, Contact, Lead

    ws, _ = workspace
    campaign = await Campaign.create(workspace=ws, name="C")
    contact = await Contact.create(workspace=ws, first_name="A", last_name="B")
    received: list[tuple[str, dict[str, Any]]] = []
    local = LocalBus()
    local.add_listener("", lambda channel, message: received.append((channel, message)))
    previous = set_handler(CampaignEvent, None)
    publish_on(local)
    try:
        with pytest.raises(RuntimeError):
            async with transaction():
                lead = await Lead.create(workspace=ws, campaign=campaign, contact=contact)
                await count_leads(ws.id, campaign.id, [lead])
                raise RuntimeError("roll back")
        assert received == []
        assert not await Lead.filter(campaign_id=campaign.id).exists()

        async with transaction():
            lead = await Lead.create(workspace=ws, campaign=campaign, contact=contact)
            await count_leads(ws.id, campaign.id, [lead])
        assert received == [(campaign_channel(ws.id, campaign.id), campaign_event("stats", campaign.id))]
    finally:
        set_handler(CampaignEvent, previous)


async def test_a_worker_publishes_where_its_settings_say() -> None:
    """Dramatiq workers make their own bus when they boot: with REDIS_URL their events reach the API processes."""
    import config
    from live.bus import RedisBus
    from tasks.broker import _make_bus

    for redis_url, kind in (("redis://127.0.0.1:6379/0", RedisBus), (None, LocalBus)):
        made = await _make_bus(config.Settings(redis_url=redis_url, namespace="ns-x", _env_file=None))
        assert isinstance(made, kind)
        if isinstance(made, RedisBus):
            assert made.namespace == "ns-x"
        await made.stop()
