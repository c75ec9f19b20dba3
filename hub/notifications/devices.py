"""Device actions (POST and DELETE /devices) and the inbox (GET /notifications)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import asyncpg

from hub.core.errors import NotFound, field_error
from hub.notifications import store
from hub.notifications.store import Notification


@dataclass(frozen=True, slots=True)
class InboxPage:
    items: list[Notification]
    next_cursor: str | None


def encode_cursor(notification_id: int) -> str:
    """Opaque cursor after a notification: base64url of ``n<id>``."""
    return base64.urlsafe_b64encode(f"n{notification_id}".encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> int:
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
        if not text.startswith("n") or len(text) > 21:
            raise ValueError(text)
        value = int(text[1:])
        if value < 0:
            raise ValueError(text)
        return value
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise field_error("cursor", "not a cursor this API returned") from None


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
        before = decode_cursor(cursor) if cursor else None
        async with self._pool.acquire() as conn:
            rows = await store.page(conn, user_id, before, limit + 1)
        items = rows[:limit]
        more = len(rows) > limit
        return InboxPage(items, encode_cursor(items[-1].id) if more and items else None)
