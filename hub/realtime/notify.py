"""The one place that emits events to clients, called by actions after their commit.

Push notifications for users with no socket anywhere are written by the actions inside
their transaction (:class:`hub.notifications.outbox.Outbox`); after the commit the action
calls :meth:`Notifier.pushes_queued`, which wakes this node's push worker, so the push leaves
as soon as the socket events do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import socketio

from hub.engine.broadcast import RoomBroadcaster
from hub.realtime import events

log = logging.getLogger(__name__)


class Notifier:
    """Emits contract events to rooms, and starts the pushes an action queued."""

    def __init__(self, sio: socketio.AsyncServer) -> None:
        self._sio = sio
        self._broadcaster: RoomBroadcaster | None = None  # made at first use
        self._push_wake: Callable[[], None] | None = None

    def use_push_worker(self, wake: Callable[[], None]) -> None:
        """Called by the push feature: ``wake()`` starts a round of this node's worker."""
        self._push_wake = wake

    def pushes_queued(self, count: int) -> None:
        """An action committed ``count`` pushes to the outbox: send them now (without a
        worker, as without FCM credentials, they stay stored and listed)."""
        if count and self._push_wake is not None:
            self._push_wake()

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

    async def payment_status(
        self, job_id: str, status: str, customer_id: str, contractor_id: str
    ) -> None:
        """To the job's customer's and contractor's sockets."""
        await self.emit_to_users(
            events.PAYMENT_STATUS,
            events.payment_status(job_id, status),
            [customer_id, contractor_id],
        )

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
        skip_sid: str | None = None,
    ) -> None:
        """To every socket of the participants but the sending one (it has the ack)."""
        await self.emit_to_users(events.CHAT_MESSAGE, message, participant_ids, skip_sid)

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

    async def auth_revoked(self, sid: str, reason: str) -> None:
        """To one socket of this node, just before it is disconnected because its user's
        tokens were cut (suspension): not through the bus, every node tells its own."""
        await self._sio.emit(events.AUTH_REVOKED, events.auth_revoked(reason), to=sid)

    async def auth_expired(self, sid: str) -> None:
        """To one socket, just before it is disconnected for expired credentials."""
        await self._sio.emit(events.AUTH_EXPIRED, events.auth_expired(), to=sid)
