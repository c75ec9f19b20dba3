"""Offline notifications, recorded until push delivery exists."""

from __future__ import annotations

from typing import Any

import asyncpg


async def record(
    conn: asyncpg.Connection, user_id: str, kind: str, payload: dict[str, Any]
) -> None:
    await conn.execute(
        "INSERT INTO notifications (user_id, kind, payload) VALUES ($1, $2, $3)",
        user_id,
        kind,
        payload,
    )


async def for_user(conn: asyncpg.Connection, user_id: str) -> list[tuple[str, dict[str, Any]]]:
    rows = await conn.fetch(
        "SELECT kind, payload FROM notifications WHERE user_id = $1 ORDER BY id", user_id
    )
    return [(r["kind"], r["payload"]) for r in rows]
