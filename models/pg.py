"""The asyncpg connection class of the app's pool: no session reset on every release.

asyncpg's pool sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;` each time a
connection goes back to the pool. Tortoise takes a pooled connection per statement outside a transaction
and per transaction, so that reset was one extra round trip for nearly every statement (about as many
round trips as the work itself on the engine's path). The app keeps no session state on pooled
connections: no session SET, no LISTEN, no cursors, and its one advisory lock (models/db.migrate) is
taken on a pool that is closed right after. An open transaction is still rolled back on release:
asyncpg does that whatever this query is.
"""

from __future__ import annotations

from asyncpg.connection import Connection


class NoResetConnection(Connection):
    def get_reset_query(self) -> str:
        return ""
