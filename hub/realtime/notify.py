"""The one place that emits events to clients, called by actions after their commit.

Also the offline path: when an event concerns a user with no connected socket on any
node, the ``OfflineSink`` is called with the user, the kind and the payload (push
notifications plug in there).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

import asyncpg
import socketio

from hub.engine.broadcast import RoomBroadcaster
from hub.notifications import store as notifications
from hub.realtime import events
from hub.realtime.presence import Presence

log = logging.getLogger(__name__)


class OfflineSink(Protocol):
    async def notify(self, user_id: str, kind: str, payload: dict[str, Any]) -> None: ...


class RecordingSink:
    """Records each offline notification in the ``notifications`` table.

    Push delivery (FCM) replaces or wraps this sink in its own issue; until then the
    record is what a support agent or a test reads.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def notify(self, user_id: str, kind: str, payload: dict[str, Any]) -> None:
        async with self._pool.acquire() as conn:
            await notifications.record(conn, user_id, kind, payload)


class Notifier:
    """Emits contract events to rooms; calls the offline sink for absent users."""

    def __init__(self, sio: socketio.AsyncServer, presence: Presence, offline: OfflineSink):
        self._sio = sio
        self._presence = presence
        self._offline = offline
        self._broadcaster: RoomBroadcaster | None = None  # made at first use

    async def emit_to_users(
        self,
        event: str,
        payload: dict[str, Any],
        user_ids: Iterable[str],
        skip_sid: str | None = None,
    ) -> None:
        """To every socket of ``user_ids`` (on every node), but ``skip_sid``."""
        rooms = [events.user_room(u) for u in dict.fromkeys(user_ids)]
        if rooms:
            await self._sio.emit(event, payload, room=rooms, skip_sid=skip_sid)

    async def notify_offline(
        self, kind: str, payload: dict[str, Any], user_ids: Iterable[str]
    ) -> None:
        """Call the offline sink for each of ``user_ids`` with no socket anywhere."""
        wanted = set(user_ids)
        if not wanted:
            return
        online = await self._presence.online_among(wanted)
        for user_id in wanted - online:
            try:
                await self._offline.notify(user_id, kind, payload)
            except Exception:  # a push failure must not fail the action that committed
                log.exception("offline notification failed", extra={"user_id": user_id})

    async def job_offer(self, contractor_id: str, job: dict[str, Any], distance_m: float) -> None:
        await self.emit_to_users(
            events.JOB_OFFER, events.job_offer(job, distance_m), [contractor_id]
        )

    async def job_status(
        self, job_id: str, status: str, at: datetime, customer_id: str, contractor_id: str | None
    ) -> None:
        """To the job's watchers and to its customer's and contractor's sockets."""
        payload = events.job_status(job_id, status, at)
        users = [customer_id] + ([contractor_id] if contractor_id else [])
        rooms = [events.job_room(job_id)] + [events.user_room(u) for u in users]
        await self._sio.emit(events.JOB_STATUS, payload, room=rooms)
        await self.notify_offline(events.JOB_STATUS, payload, users)

    def job_location(self, job_id: str, payload: dict[str, Any], room: str | None = None) -> int:
        """``job:location`` to the job's watchers on this node, latest-wins per job.

        Synchronous (the location hot path never awaits): the frame is encoded once and
        written to each watcher by :class:`hub.engine.broadcast.RoomBroadcaster`. Returns how many
        watchers it was written or held for. ``room`` is ``events.job_room(job_id)``,
        passed by callers that keep it.
        """
        broadcaster = self._broadcaster
        if broadcaster is None:
            broadcaster = self._broadcaster = RoomBroadcaster(self._sio)
        return broadcaster.broadcast(
            room or events.job_room(job_id), events.JOB_LOCATION, payload, key=job_id
        )

    async def job_location_all_nodes(self, job_id: str, payload: dict[str, Any]) -> None:
        """``job:location`` to the job's watchers on every node (several nodes), through the
        Socket.IO manager's latest-wins ``publish_latest`` (``hub.engine.manager.BusManager``);
        each node with watchers delivers it with :meth:`job_location`."""
        await self._sio.manager.publish_latest(
            events.job_room(job_id), events.JOB_LOCATION, payload, key=job_id
        )

    async def chat_message(
        self,
        message: dict[str, Any],
        participant_ids: Iterable[str],
        sender_id: str,
        skip_sid: str | None = None,
    ) -> None:
        """To every socket of the participants but the sending one (it has the ack); the
        offline recipients get a notification."""
        participants = list(participant_ids)
        await self.emit_to_users(events.CHAT_MESSAGE, message, participants, skip_sid)
        await self.notify_offline(
            events.CHAT_MESSAGE, message, [u for u in participants if u != sender_id]
        )

    async def chat_typing(self, conversation_id: str, user_id: str, others: list[str]) -> None:
        await self.emit_to_users(
            events.CHAT_TYPING, events.chat_typing(conversation_id, user_id), others
        )

    async def chat_read(
        self, conversation_id: str, user_id: str, seq: int, others: list[str]
    ) -> None:
        await self.emit_to_users(
            events.CHAT_READ, events.chat_read(conversation_id, user_id, seq), others
        )

    async def presence(self, user_id: str, online: bool, partner_ids: list[str]) -> None:
        await self.emit_to_users(events.PRESENCE, events.presence(user_id, online), partner_ids)

    async def server_closing(self, reason: str) -> None:
        """To every socket of this node (not through the bus: other nodes stay up), just
        before this node closes them, so clients reconnect elsewhere at once."""
        await self._sio.emit(
            events.SERVER_CLOSING, events.server_closing(reason), ignore_queue=True
        )

    async def auth_expired(self, sid: str) -> None:
        """To one socket, just before it is disconnected for expired credentials."""
        await self._sio.emit(events.AUTH_EXPIRED, events.auth_expired(), to=sid)
