"""Live updates: committed changes pushed to websocket subscribers (graphql-transport-ws at /graphql).

The events themselves are the domain's (domain/events.py, announced after COMMIT through domain/tx.py);
the websocket transport that serves them is the API's (schema/transport.py).

    bus.py       the bus: in-process, or Redis pub/sub with ONE pattern subscription per process
    hub.py       per-campaign topics: one stats read per change (coalesced), shared by every subscriber
    mailbox.py   a subscriber's bounded queue (snapshots: keep the newest; activity: fail when too far behind)
    keys.py      revoked API keys: evicted from the auth cache and their websockets closed, on every process
    runtime.py   start/stop the bus and hub in a server's lifespan; publish committed events on the bus
    watch.py     `python -m live.watch CAMPAIGN_ID --key KEY`: follow a campaign from a terminal
"""
