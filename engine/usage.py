"""Capped allowances, reserved atomically so two workers never exceed a cap.

A reservation is one statement: insert the period's row with used=1, or add 1 to it only while
`used < cap`. Nothing returned means refused. Call inside the action's transaction, so a rollback
gives the reservation back.
"""

from __future__ import annotations

from models.sql import db, execute, fetch, placeholders


async def reserve(identity_id: int, allowance: str, period: str, cap: int) -> bool:
    if cap <= 0:
        return False
    conn = db()
    a, b, c, d = placeholders(conn, 4)
    rows = await fetch(
        conn,
        f"INSERT INTO identity_usage (identity_id, kind, period, used) VALUES ({a}, {b}, {c}, 1)"
        " ON CONFLICT (identity_id, kind, period) DO UPDATE SET used = identity_usage.used + 1"
        f" WHERE identity_usage.used < {d} RETURNING used",
        [identity_id, allowance, period, cap],
    )
    return bool(rows)


async def release(identity_id: int, allowance: str, period: str) -> None:
    """Give back a reservation whose action did not happen."""
    conn = db()
    a, b, c = placeholders(conn, 3)
    await execute(
        conn,
        f"UPDATE identity_usage SET used = used - 1 WHERE identity_id = {a} AND kind = {b} AND period = {c}"
        " AND used > 0",
        [identity_id, allowance, period],
    )


async def spend_inmail_credit(identity_id: int) -> bool:
    """InMail credits are a balance: spend one only if there is one."""
    conn = db()
    (a,) = placeholders(conn, 1)
    changed = await execute(
        conn,
        f"UPDATE identity SET inmail_credits = inmail_credits - 1 WHERE id = {a} AND inmail_credits > 0",
        [identity_id],
    )
    return changed == 1


async def refund_inmail_credit(identity_id: int) -> None:
    conn = db()
    (a,) = placeholders(conn, 1)
    await execute(conn, f"UPDATE identity SET inmail_credits = inmail_credits + 1 WHERE id = {a}", [identity_id])


async def usage_of(identity_id: int, periods: list[str]) -> dict[tuple[str, str], int]:
    if not periods:
        return {}
    # Plain SQL: this runs for every step, and the query builder cost more than the query.
    conn = db()
    a, *marks = placeholders(conn, 1 + len(periods))
    rows = await fetch(
        conn,
        f"SELECT kind, period, used FROM identity_usage WHERE identity_id = {a} AND period IN ({', '.join(marks)})",
        [identity_id, *periods],
    )
    return {(row["kind"], row["period"]): row["used"] for row in rows}
