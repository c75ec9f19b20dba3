"""Device actions (POST and DELETE /devices) and the inbox (GET /notifications)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from hub.core import cursors
from hub.core.errors import NotFound
from hub.notifications import store
from hub.notifications.store import Notification


@dataclass(frozen=True, slots=True)
class InboxPage:
    items: list[Notification]
    next_cursor: str | None


class Devices:
    """Push tokens of users, and the notifications they were sent.

    A token belongs to one user at a time: registering it again refreshes its last-seen
    time, and registering it as another user moves it (the previous owner's queued pushes
    to it are dropped, so one user's messages never reach the next user of a device).
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def register(self, user_id: str, platform: str, token: str) -> bool:
        """Register ``token`` for the user; True when it moved from another user."""
        async with self._pool.acquire() as conn, conn.transaction():
            return await store.register_device(conn, token, user_id, platform)

    async def unregister(self, user_id: str, token: str) -> None:
        """Delete the user's token; NotFound for another user's or an unknown token."""
        async with self._pool.acquire() as conn:
            if not await store.delete_device(conn, token, user_id):
                raise NotFound("no such device token")

    async def inbox(self, user_id: str, cursor: str | None, limit: int) -> InboxPage:
        """The user's notifications, newest first, ``limit`` at a time."""
        before = cursors.serial_position(cursor, "n") if cursor else None
        async with self._pool.acquire() as conn:
            rows = await store.page(conn, user_id, before, limit + 1)
        items = rows[:limit]
        more = len(rows) > limit
        return InboxPage(items, cursors.after_serial("n", items[-1].id) if more and items else None)
