"""Live updates: committed changes pushed to websocket subscribers (graphql-transport-ws at /graphql).

    events.py    channel names and event kinds; published after COMMIT (domain.tx.after_commit)
    bus.py       the bus: in-process, or Redis pub/sub with ONE pattern subscription per process
    hub.py       per-campaign topics: one stats read per change (coalesced), shared by every subscriber
    mailbox.py   a subscriber's bounded queue (snapshots: keep the newest; activity: fail when too far behind)
    fastpath.py  our two subscriptions rendered once per change and query document, same bytes to everyone
    runtime.py   start/stop the bus and hub in a server's lifespan
    watch.py     `python -m live.watch CAMPAIGN_ID --key KEY`: follow a campaign from a terminal
"""
