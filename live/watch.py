"""Watch a campaign live from a terminal: its Overview numbers and its Activity log, as they change.

    python -m live.watch CAMPAIGN_ID --key KEY [--url ws://HOST:PORT/graphql] [--no-activity]

The key may also come from OUTBOUND_API_KEY; the URL defaults to the server's HOST and PORT settings.
Speaks graphql-transport-ws like any client would (no server internals): a handy check that a deployment's
live path works end to end. Ctrl-C to stop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from datetime import datetime
from typing import Any

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

STATS = """subscription Stats($id: ID!) { campaignStats(campaignId: $id) {
  version updatedAt
  allChannels { totalContacts started contacted replied positive }
  linkedin { engaged invited accepted contacted replied positive }
  email { sent clicked replied positive bounced }
  tasks { pending completed }
  statuses { status count }
} }"""

ACTIVITY = """subscription Activity($id: ID!) { campaignActivity(campaignId: $id) {
  kind channel occurredAt detail contact { fullName } step { position }
} }"""


def format_stats(s: dict[str, Any]) -> str:
    a, li, em, t = s["allChannels"], s["linkedin"], s["email"], s["tasks"]
    statuses = " ".join(f"{x['status'].lower()}={x['count']}" for x in s["statuses"] if x["count"])
    return (
        f"v{s['version']:<5} leads {a['totalContacts']} started {a['started']} contacted {a['contacted']} "
        f"replied {a['replied']} ({a['positive']} positive) | linkedin engaged {li['engaged']} "
        f"invited {li['invited']} accepted {li['accepted']} | email sent {em['sent']} clicked {em['clicked']} "
        f"bounced {em['bounced']} | tasks pending {t['pending']} completed {t['completed']} | {statuses}"
    )


def format_activity(e: dict[str, Any]) -> str:
    step = f" step {e['step']['position']}" if e.get("step") else ""
    detail = f" - {e['detail'][:60]}" if e.get("detail") else ""
    return f"  + {e['kind']:<22} {e['contact']['fullName']}{step}{detail}"


#: Close codes after which reconnecting makes sense: going away, abnormal, restart, try again later.
RECONNECT_CODES = {1001, 1006, 1011, 1012, 1013}


async def watch(url: str, key: str, campaign_id: str, activity: bool = True) -> int:
    """Print every snapshot and entry until the campaign is deleted (0) or the server refuses (1).

    A server restart (close 1012) or a dropped connection reconnects: the stream resumes with a fresh
    snapshot (activity recorded while disconnected is in Campaign.activity, not replayed here).
    """
    while True:
        try:
            return await _watch_once(url, key, campaign_id, activity)
        except (ConnectionClosed, OSError) as exc:
            code = getattr(getattr(exc, "rcvd", None), "code", None)
            if isinstance(exc, ConnectionClosed) and code not in RECONNECT_CODES:
                print(f"the server closed the connection (code {code})", file=sys.stderr)
                return 1
            print(f"disconnected ({code or exc}); reconnecting in 1s", file=sys.stderr)
            await asyncio.sleep(1)


async def _watch_once(url: str, key: str, campaign_id: str, activity: bool) -> int:
    async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        await ws.send(orjson.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}).decode())
        try:
            ack = orjson.loads(await ws.recv())
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            print(f"refused (close code {code}): check the key", file=sys.stderr)
            return 1
        assert ack["type"] == "connection_ack", ack
        operations = {"stats": STATS, **({"activity": ACTIVITY} if activity else {})}
        for op, query in operations.items():
            message = {"id": op, "type": "subscribe", "payload": {"query": query, "variables": {"id": campaign_id}}}
            await ws.send(orjson.dumps(message).decode())
        open_ops = set(operations)
        while True:  # recv() raises ConnectionClosed on any close: watch() decides whether to reconnect
            message = orjson.loads(await ws.recv())
            op, kind = message.get("id"), message["type"]
            now = datetime.now().strftime("%H:%M:%S")
            if kind == "next" and message["payload"].get("errors"):
                print(f"{now} {op}: {message['payload']['errors'][0]['message']}", file=sys.stderr)
            elif kind == "next" and op == "stats":
                print(f"{now} {format_stats(message['payload']['data']['campaignStats'])}", flush=True)
            elif kind == "next":
                print(f"{now} {format_activity(message['payload']['data']['campaignActivity'])}", flush=True)
            elif kind == "error":
                print(f"{now} {op}: {message['payload'][0]['message']}", file=sys.stderr)
                return 1
            elif kind == "complete":
                open_ops.discard(op)
                if not open_ops:
                    print(f"{now} the campaign is gone: streams completed")
                    return 0
            elif kind == "ping":
                await ws.send('{"type":"pong"}')


OUTPUT = """\
output:
  one line per stats snapshot, e.g.
    v42 leads 200 started 120 contacted 64 replied 12 (9 positive) | linkedin ... | email ... |
    tasks pending 10 completed 3 | in_progress=80 finished=20 ...
  vN is the snapshot's version; "replied 12 (9 positive)": 12 leads replied, 9 of them positively;
  "tasks pending 10 completed 3": manual tasks still to do and done; then the leads per status.
  one line per new activity: "+ KIND  contact name  step N - detail".
"""


def default_url() -> str:
    """The server's own address (HOST and PORT, as `server.py` reads them), so both agree without flags."""
    from config import Settings

    settings = Settings()
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return f"ws://{host}:{settings.port}/graphql"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m live.watch",
        description=__doc__.splitlines()[0],
        epilog=OUTPUT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("campaign_id", help="the campaign's ID, as the API returns it")
    parser.add_argument("--key", default=os.environ.get("OUTBOUND_API_KEY"), help="API key (or OUTBOUND_API_KEY)")
    url = default_url()
    parser.add_argument(
        "--url", default=url, help=f"the server's GraphQL websocket (default from HOST and PORT: {url})"
    )
    parser.add_argument("--no-activity", action="store_true", help="only the numbers")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.key:
        parser.error("an API key is needed: --key KEY or OUTBOUND_API_KEY")
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(watch(args.url, args.key, args.campaign_id, activity=not args.no_activity))
    return 130


if __name__ == "__main__":
    sys.exit(main())
