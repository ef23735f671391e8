"""The sequence engine: pure decisions (`decide`), step execution (`runner`), the scheduler, channels.

The database is the source of truth and the queue only transport: the scheduler claims due leads with a
conditional UPDATE and enqueues `sequences.run_step(lead_id, version)`; a worker re-reads the lead,
asks `decide` what to do, and applies it by compare-and-set, so any delivery may be repeated safely.
"""
