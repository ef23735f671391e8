"""The domain layer: lifecycle, audience, sequencing, activity and live stats.

Both `resolvers/` (requests) and `tasks/` (jobs) call these functions; neither holds rules of its own.
"""
