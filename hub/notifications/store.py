"""SQL of notifications (the inbox), device tokens and the push outbox.

Store functions take a connection; the action that calls them owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg


@dataclass(frozen=True, slots=True)
class Notification:
    id: int
    kind: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Due:
    """A claimed outbox row: one push to one device."""

    id: int
    token: str
    platform: str
    collapse_key: str
    attempts: int
    kind: str
    payload: dict[str, Any]
    subject: str | None  # the chat sender's name, or the job's title
    age_s: float  # since the event
    owned: bool  # False when the token moved to another user since it was queued


@dataclass(frozen=True, slots=True)
class OutboxStats:
    pending: int
    due: int
    oldest_due_age_s: float


# --- notifications -----------------------------------------------------------------------

_ENQUEUE = """
WITH n AS (
    INSERT INTO notifications (user_id, kind, payload)
    SELECT u, $2, $3 FROM unnest($1::text[]) AS u
    RETURNING id, user_id
)
INSERT INTO push_outbox (notification_id, token, collapse_key)
SELECT n.id, d.token, $4 FROM n JOIN devices d ON d.user_id = n.user_id
"""


async def enqueue(
    conn: asyncpg.Connection,
    user_ids: list[str],
    kind: str,
    payload: dict[str, Any],
    collapse_key: str,
) -> int:
    """Store a notification for each of ``user_ids`` and queue one push per device of
    theirs; returns how many pushes were queued."""
    status = await conn.execute(_ENQUEUE, user_ids, kind, payload, collapse_key)
    return int(status.rsplit(" ", 1)[-1])


async def for_user(conn: asyncpg.Connection, user_id: str) -> list[tuple[str, dict[str, Any]]]:
    rows = await conn.fetch(
        "SELECT kind, payload FROM notifications WHERE user_id = $1 ORDER BY id", user_id
    )
    return [(r["kind"], r["payload"]) for r in rows]


async def page(
    conn: asyncpg.Connection, user_id: str, before_id: int | None, limit: int
) -> list[Notification]:
    """Up to ``limit`` of the user's notifications with id < ``before_id``, newest first."""
    rows = await conn.fetch(
        """
        SELECT id, kind, payload, created_at FROM notifications
        WHERE user_id = $1 AND id < $2
        ORDER BY id DESC LIMIT $3
        """,
        user_id,
        before_id if before_id is not None else 2**63 - 1,
        limit,
    )
    return [Notification(r["id"], r["kind"], r["payload"], r["created_at"]) for r in rows]


# --- devices -----------------------------------------------------------------------------


async def register_device(
    conn: asyncpg.Connection, token: str, user_id: str, platform: str
) -> bool:
    """Give ``token`` to ``user_id`` (inserted, refreshed or moved); True when it moved
    from another user, whose queued pushes to it are dropped (they were theirs)."""
    previous = await conn.fetchval("SELECT user_id FROM devices WHERE token = $1 FOR UPDATE", token)
    moved = previous is not None and previous != user_id
    if moved:
        # A row in flight (locked by a worker) is left alone, not waited for: it is already
        # on its way, and the worker drops it rather than retry it to the new owner.
        await conn.execute(
            """
            DELETE FROM push_outbox WHERE id IN (
                SELECT id FROM push_outbox WHERE token = $1 FOR UPDATE SKIP LOCKED
            )
            """,
            token,
        )
    await conn.execute(
        """
        INSERT INTO devices (token, user_id, platform) VALUES ($1, $2, $3)
        ON CONFLICT (token) DO UPDATE
        SET user_id = excluded.user_id, platform = excluded.platform, last_seen_at = now()
        """,
        token,
        user_id,
        platform,
    )
    return moved


async def delete_device(conn: asyncpg.Connection, token: str, user_id: str) -> bool:
    """Delete the user's token (its queued pushes go with it); False when not theirs."""
    status = await conn.execute(
        "DELETE FROM devices WHERE token = $1 AND user_id = $2", token, user_id
    )
    return bool(status != "DELETE 0")


async def delete_tokens(conn: asyncpg.Connection, tokens: list[str]) -> int:
    """Delete tokens the push service refused for good; returns how many were deleted."""
    status = await conn.execute("DELETE FROM devices WHERE token = any($1::text[])", tokens)
    return int(status.rsplit(" ", 1)[-1])


# --- the outbox --------------------------------------------------------------------------

_CLAIM = """
SELECT o.id, o.token, d.platform, o.collapse_key, o.attempts, n.kind, n.payload,
       coalesce(s.name, j.title) AS subject,
       extract(epoch FROM now() - o.created_at)::float8 AS age_s,
       d.user_id = n.user_id AS owned
FROM push_outbox o
JOIN devices d ON d.token = o.token
JOIN notifications n ON n.id = o.notification_id
LEFT JOIN users s ON s.id = n.payload ->> 'sender_id'
LEFT JOIN jobs j ON j.id = n.payload ->> 'job_id'
WHERE o.state = 'pending' AND o.due_at <= now()
ORDER BY o.due_at, o.id
LIMIT $1
FOR UPDATE OF o SKIP LOCKED
"""


async def claim(conn: asyncpg.Connection, limit: int) -> list[Due]:
    """Lock up to ``limit`` due rows that no other node holds, oldest due first.

    Called inside the transaction that sends them and records the outcome: the row locks
    keep every other node off them until it commits (or dies, which releases them).
    """
    rows = await conn.fetch(_CLAIM, limit)
    return [
        Due(
            r["id"],
            r["token"],
            r["platform"],
            r["collapse_key"],
            r["attempts"],
            r["kind"],
            r["payload"],
            r["subject"],
            r["age_s"],
            r["owned"],
        )
        for r in rows
    ]


async def delete_rows(conn: asyncpg.Connection, ids: list[int]) -> None:
    """Rows delivered (or superseded by a newer push with the same collapse key)."""
    if ids:
        await conn.execute("DELETE FROM push_outbox WHERE id = any($1::bigint[])", ids)


async def reschedule(conn: asyncpg.Connection, retries: list[tuple[int, float, str]]) -> None:
    """``(id, delay_s, error)``: one more attempt, due after the delay."""
    if retries:
        await conn.executemany(
            """
            UPDATE push_outbox
            SET attempts = attempts + 1, due_at = now() + make_interval(secs => $2),
                last_error = $3
            WHERE id = $1
            """,
            retries,
        )


async def mark_failed(conn: asyncpg.Connection, failures: list[tuple[int, str]]) -> None:
    """``(id, error)``: given up on; kept for inspection, never claimed again."""
    if failures:
        await conn.executemany(
            "UPDATE push_outbox SET state = 'failed', attempts = attempts + 1, last_error = $2"
            " WHERE id = $1",
            failures,
        )


async def stats(conn: asyncpg.Connection) -> OutboxStats:
    row = await conn.fetchrow(
        """
        SELECT count(*) AS pending,
               count(*) FILTER (WHERE due_at <= now()) AS due,
               coalesce(extract(epoch FROM now() - min(due_at) FILTER (WHERE due_at <= now())),
                        0) AS oldest
        FROM push_outbox WHERE state = 'pending'
        """
    )
    return OutboxStats(row["pending"], row["due"], float(row["oldest"]))
