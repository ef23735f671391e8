"""The fan-out (encode/broadcaster style): one bus listener per process, one topic per watched campaign.

    bus event --> Hub._on_event --> CampaignTopic (marks it dirty) --> pump task: ONE read per change,
                                                                     shared by all of the campaign's
                                                                     subscribers --> Mailbox per subscriber

- Stats: a change marks the topic dirty; its pump reads one snapshot and puts the same object in every
  mailbox, then waits `interval` before reading again, so a campaign pushes at most once per interval
  however many changes land, and a change during a read or a wait always leads to one more read: the
  latest snapshot always arrives. A snapshot whose version is not greater than the last one is dropped.
- A new subscriber gets the cached snapshot if it was read less than SNAPSHOT_MAX_AGE ago; an older one
  is read again first. Events are at-most-once (Redis pub/sub; a failed publish is only logged), so
  without this one lost event would show a quiet campaign's old numbers to every newcomer for good.
- Activity: events carry activity ids; the pump reads `id > seen` (plus ids that committed late, below
  `seen`) in one query per batch and hands the same rows to every subscriber, in order.
- Snapshots carry a per-document render cache (`Snapshot.renders`), so a transport that serializes a
  snapshot once per query document (schema/transport.py) shares that work across subscribers too.
- On bus reconnect (events may have been lost) every topic re-reads; on `deleted` its mailboxes complete.

The reads themselves (snapshots, activity rows) are live/reads.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import OrderedDict
from typing import Any

from prometheus_client import Gauge

from domain.events import CHANNEL_PREFIX
from live.bus import Bus
from live.mailbox import Mailbox
from live.reads import (
    ActivityReader,
    Entry,
    MaxActivityReader,
    Snapshot,
    StatsReader,
    read_activity,
    read_max_activity_id,
    read_snapshot,
)

log = logging.getLogger("outbound.hub")

#: Seconds a cached stats snapshot is handed to new subscribers without a read; older ones are read again.
#: Bounds how long a lost event can show stale numbers to newcomers; a burst of joins still costs one read.
SNAPSHOT_MAX_AGE = float(os.environ.get("OUTBOUND_LIVE_SNAPSHOT_MAX_AGE", "5"))

#: Open subscriptions of this process (a sum over the live processes in multiprocess mode: metrics.py).
SUBSCRIBERS = Gauge(
    "outbound_live_subscribers",
    "Open live subscriptions, by kind (stats, activity).",
    ["kind"],
    multiprocess_mode="livesum",
)


def _kind(mailbox: Mailbox) -> str:
    return "stats" if mailbox.keep_latest else "activity"


class CampaignTopic:
    """The subscribers of one campaign and the two pumps that feed them."""

    def __init__(self, hub: Hub, campaign_id: int) -> None:
        self.hub = hub
        self.campaign_id = campaign_id
        self.stats_subscribers: set[Mailbox] = set()
        self.activity_subscribers: set[Mailbox] = set()
        self.snapshot: Snapshot | None = None
        #: time.monotonic() when the last successful stats read began: the cached snapshot is at least that fresh.
        self._snapshot_read_at = 0.0
        #: Set once the campaign is gone (or the hub stops): nothing joins a closed topic.
        self.closed = False
        self._stats_dirty = asyncio.Event()
        self._stats_task: asyncio.Task[None] | None = None
        self._activity_dirty = asyncio.Event()
        self._activity_task: asyncio.Task[None] | None = None
        #: Highest activity id handed out; None until the first activity subscriber fixed "now".
        self._seen: int | None = None
        self._seen_ready: asyncio.Future[None] | None = None
        #: Ids announced by events but at or below `_seen` (committed late): fetched explicitly.
        self._late_ids: set[int] = set()
        #: Recently delivered ids, so a late id is never delivered twice (bounded).
        self._delivered: OrderedDict[int, None] = OrderedDict()

    @property
    def empty(self) -> bool:
        return not self.stats_subscribers and not self.activity_subscribers

    # ------------------------------------------------------------------ stats

    def add_stats(self, mailbox: Mailbox) -> None:
        if self.closed:
            mailbox.complete()
            return
        mailbox.position = -1  # any snapshot, version 0 included, is newer than nothing
        self.stats_subscribers.add(mailbox)
        if self.snapshot is not None and time.monotonic() - self._snapshot_read_at <= SNAPSHOT_MAX_AGE:
            # Recent: events keep it fresh, so a thousand clients joining cost no read at all.
            self._offer(mailbox, self.snapshot)
        else:
            # None yet, or old enough that a lost event may hide newer numbers: the pump reads (once for
            # everyone joining meanwhile) and this mailbox gets that read, not the old snapshot.
            self.stats_changed()
        if self._stats_task is None:
            self._stats_task = asyncio.create_task(self._pump_stats(), name=f"live-stats-{self.campaign_id}")

    def stats_changed(self) -> None:
        self._stats_dirty.set()

    async def _pump_stats(self) -> None:
        while True:
            await self._stats_dirty.wait()
            self._stats_dirty.clear()
            started = time.monotonic()
            try:
                snapshot = await self.hub.read_stats(self.campaign_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed read must not end the stream: try again on the next tick
                log.exception("reading stats of campaign %s failed", self.campaign_id)
                self._stats_dirty.set()
                await asyncio.sleep(max(self.hub.interval, 0.5))
                continue
            if snapshot is None:
                self.hub.campaign_deleted(self.campaign_id)
                return
            if self.snapshot is None or snapshot.version > self.snapshot.version:
                self.snapshot = snapshot
            self._snapshot_read_at = started  # confirmed current, even when the version had not moved
            # Each subscriber gets it only if it is newer than what it has (versions strictly increase; a
            # refresh that finds nothing new sends nothing).
            for mailbox in list(self.stats_subscribers):
                self._offer(mailbox, self.snapshot)
            # Coalescing: at most one push per interval; changes meanwhile are read together afterwards.
            await asyncio.sleep(self.hub.interval)

    @staticmethod
    def _offer(mailbox: Mailbox, snapshot: Snapshot) -> None:
        if snapshot.version > mailbox.position:
            mailbox.position = snapshot.version
            mailbox.put(snapshot)

    # --------------------------------------------------------------- activity

    async def add_activity(self, mailbox: Mailbox) -> None:
        if self._seen is None:
            ready = self._seen_ready
            if ready is None:
                ready = self._seen_ready = asyncio.get_running_loop().create_future()
                try:
                    last = await self.hub.read_max_activity_id(self.campaign_id)
                    if last is None:  # deleted meanwhile: nothing will ever come
                        self.closed = True
                    elif self._seen is None:
                        self._seen = last
                finally:
                    ready.set_result(None)
                    if self._seen is None and self._seen_ready is ready:  # failed: the next one tries again
                        self._seen_ready = None
            else:
                await asyncio.shield(ready)
        if self.closed:
            mailbox.complete()
            return
        if self._seen is None:
            raise RuntimeError("could not read the campaign's activity position")
        # "From now on": everything after what this topic has already handed out.
        mailbox.position = self._seen
        self.activity_subscribers.add(mailbox)
        if self._activity_task is None:
            self._activity_task = asyncio.create_task(self._pump_activity(), name=f"live-activity-{self.campaign_id}")
        # An event may have arrived while the position was being read.
        self._activity_dirty.set()

    def activity_recorded(self, activity_id: int | None) -> None:
        if self._seen is None:
            return
        if activity_id is not None and activity_id <= self._seen and activity_id not in self._delivered:
            self._late_ids.add(activity_id)
        self._activity_dirty.set()

    def refresh(self) -> None:
        """After a gap in the events (bus reconnect): re-read everything this topic serves."""
        self._stats_dirty.set()
        self._activity_dirty.set()

    async def _pump_activity(self) -> None:
        batch = self.hub.activity_batch
        while True:
            await self._activity_dirty.wait()
            self._activity_dirty.clear()
            try:
                while True:
                    assert self._seen is not None
                    late = sorted(self._late_ids)
                    rows = await self.hub.read_activity(self.campaign_id, self._seen, late, batch)
                    self._late_ids.difference_update(late)
                    for row in rows:
                        self._deliver(row, late=row.id in late)
                    if len(rows) < batch:
                        break
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reading activity of campaign %s failed", self.campaign_id)
                self._activity_dirty.set()
                await asyncio.sleep(0.5)

    def _deliver(self, row: Any, *, late: bool) -> None:
        if row.id in self._delivered:
            return
        entry = Entry(row.id, row)
        self._delivered[row.id] = None
        if len(self._delivered) > 4096:
            self._delivered.popitem(last=False)
        assert self._seen is not None
        self._seen = max(self._seen, row.id)
        for mailbox in list(self.activity_subscribers):
            # A late row (its id was taken before `seen`, its commit came after) is new to everyone.
            if late or row.id > mailbox.position:
                mailbox.put(entry)

    # ---------------------------------------------------------------- closing

    def remove(self, mailbox: Mailbox) -> None:
        self.stats_subscribers.discard(mailbox)
        self.activity_subscribers.discard(mailbox)
        if not self.stats_subscribers and self._stats_task is not None:
            self._stats_task.cancel()
            self._stats_task = None
            self.snapshot = None  # no longer kept fresh by anyone
        if not self.activity_subscribers and self._activity_task is not None:
            self._activity_task.cancel()
            self._activity_task = None
            self._seen = None
            self._seen_ready = None
            self._late_ids.clear()

    def complete_all(self) -> None:
        self.closed = True  # a subscriber still on its way in (awaiting a read) completes too
        for mailbox in [*self.stats_subscribers, *self.activity_subscribers]:
            mailbox.complete()

    def cancel(self) -> None:
        for task in (self._stats_task, self._activity_task):
            if task is not None:
                task.cancel()
        self._stats_task = self._activity_task = None


class Hub:
    """This process's subscribers, grouped by campaign. Start it once per process with the process's bus."""

    def __init__(
        self,
        *,
        interval: float = 0.1,
        stats_queue: int = 1,
        activity_queue: int = 1000,
        activity_batch: int = 500,
        read_stats: StatsReader = read_snapshot,
        read_activity: ActivityReader = read_activity,
        read_max_activity_id: MaxActivityReader = read_max_activity_id,
    ) -> None:
        self.interval = interval
        self.stats_queue = stats_queue
        self.activity_queue = activity_queue
        self.activity_batch = activity_batch
        self.read_stats = read_stats
        self.read_activity = read_activity
        self.read_max_activity_id = read_max_activity_id
        self.topics: dict[int, CampaignTopic] = {}
        self._bus: Bus | None = None

    async def start(self, bus: Bus) -> None:
        """Listen to the bus. Call before `bus.start()`, so the bus knows it must subscribe."""
        self._bus = bus
        bus.add_listener(CHANNEL_PREFIX, self._on_event)

    async def stop(self) -> None:
        """Complete every stream (clients get `complete`, not a broken socket) and stop the pumps."""
        if self._bus is not None:
            self._bus.remove_listener(self._on_event)
            self._bus = None
        for topic in list(self.topics.values()):
            topic.complete_all()
            topic.cancel()
        self.topics.clear()

    # ------------------------------------------------------------ subscribing

    def subscribe_stats(self, campaign_id: int) -> Mailbox:
        """A mailbox that gets the campaign's current snapshot at once, then every newer one."""
        mailbox = Mailbox(self.stats_queue, keep_latest=True)
        topic = self._topic(campaign_id)
        mailbox.topic = topic
        SUBSCRIBERS.labels("stats").inc()
        topic.add_stats(mailbox)
        if mailbox.closed:
            self.unsubscribe(mailbox)
        return mailbox

    async def subscribe_activity(self, campaign_id: int) -> Mailbox:
        """A mailbox that gets every activity row of the campaign recorded from now on, in order."""
        mailbox = Mailbox(self.activity_queue, keep_latest=False)
        topic = self._topic(campaign_id)
        mailbox.topic = topic
        SUBSCRIBERS.labels("activity").inc()
        try:
            await topic.add_activity(mailbox)
        except BaseException:
            self.unsubscribe(mailbox)
            raise
        if mailbox.closed:
            self.unsubscribe(mailbox)
        return mailbox

    def unsubscribe(self, mailbox: Mailbox) -> None:
        topic: CampaignTopic | None = mailbox.topic
        if topic is None:
            return
        mailbox.topic = None
        SUBSCRIBERS.labels(_kind(mailbox)).dec()
        topic.remove(mailbox)
        if topic.empty and self.topics.get(topic.campaign_id) is topic:
            topic.cancel()
            del self.topics[topic.campaign_id]

    def _topic(self, campaign_id: int) -> CampaignTopic:
        topic = self.topics.get(campaign_id)
        if topic is None or topic.closed:  # closed: that campaign is gone (SQLite may reuse its id)
            topic = self.topics[campaign_id] = CampaignTopic(self, campaign_id)
        return topic

    # ----------------------------------------------------------------- events

    def _on_event(self, channel: str, message: dict[str, Any]) -> None:
        kind = message.get("kind")
        if kind == "reconnected":
            for each in list(self.topics.values()):
                each.refresh()
            return
        # Our own bus messages: a campaign's carry its id (an int); a message without one finds no topic.
        topic = self.topics.get(message.get("campaign_id"))  # type: ignore[arg-type]
        if topic is None:  # nobody in this process watches that campaign
            return
        if kind == "stats":
            topic.stats_changed()
        elif kind == "activity":
            topic.activity_recorded(message.get("activity_id"))
        elif kind == "deleted":
            self.campaign_deleted(topic.campaign_id)

    def campaign_deleted(self, campaign_id: int) -> None:
        topic = self.topics.pop(campaign_id, None)
        if topic is not None:
            topic.complete_all()
            topic.cancel()

