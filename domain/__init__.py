"""The domain layer: lifecycle, audience, sequencing, activity and live stats.

Both `resolvers/` (requests) and `engine/` (jobs) call these functions; neither holds rules of its own.
It imports only `models/` (and config): live events and jobs leave through `domain.tx.announce`.
"""
