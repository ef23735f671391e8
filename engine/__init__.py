"""The sequence engine: pure decisions (`decide`), step execution (`runner`), the scheduler, channels.

A lead's step, top-down: tasks/sequences.py (the actor) -> chain.py (steps due at once, in one message) ->
runner.py `step`: load (snapshot.py) -> decide (decide.py, pure) -> apply (apply.py, the one module that
writes) -> send (send.py) -> apply the outcome (apply.py) -> hand on (back in chain.py). placement.py says
where a lead stands after a decision (pure field changes, shared with domain/), hours.py the time rules.

The database is the source of truth and the queue only transport: the scheduler claims due leads with a
conditional UPDATE and enqueues `sequences.run_step(lead_id, version)`; a worker re-reads the lead,
asks `decide` what to do, and applies it by compare-and-set, so any delivery may be repeated safely.

Where it runs:
- embedded (no REDIS_URL, `make run`): scheduler and worker threads inside the server, on its event loop.
- PostgreSQL + Redis: the scheduler in the API (SCHEDULER=true) or alone (`python -m tasks.scheduler`,
  as many as wanted), workers as `dramatiq tasks` processes. OUTBOUND_LEASE_SECONDS (default 30) is how
  long a claim holds a lead before another scheduler may take it again (a worker died).
"""
