"""Socket events of live tracking: parse, authorise, call the action, answer.

``location:update`` / ``location:batch`` (contractors) go to :class:`hub.tracking.tracker.Tracker`;
``job:watch`` / ``job:unwatch`` (the job's parties and its share-link viewers) join and leave
the job's room, whose ``job:location`` events the tracker broadcasts. Registered on the
gateway by the tracking feature context (``api/features/tracking.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hub.core.errors import Forbidden
from hub.realtime.events import job_room
from hub.realtime.gateway import EventHandler, Identity, SyncEventHandler, ok
from hub.tracking.payloads import parse_batch, parse_point, parse_watch
from hub.tracking.tracker import Tracker
from hub.tracking.view import TrackView

RoomMove = Callable[[str, str], Awaitable[None]]
"""``(sid, room)``: ``AsyncServer.enter_room`` / ``leave_room`` on namespace "/"."""

# Acks of the hot path, built once (python-socketio only serialises them).
_ACCEPTED = {"ok": True, "accepted": True}
_NOT_ACCEPTED = {"ok": True, "accepted": False}


def _contractor(identity: Identity) -> str:
    if identity.role != "contractor" or identity.user_id is None:
        raise Forbidden("only contractors send locations")
    return identity.user_id


class TrackingEvents:
    """``location:update``, ``location:batch``, ``job:watch``, ``job:unwatch``.

    Args:
        tracker: the hot path.
        view: permissions and the ack's current state.
        enter_room: puts a socket in a room.
        leave_room: takes it out.
    """

    def __init__(
        self, tracker: Tracker, view: TrackView, enter_room: RoomMove, leave_room: RoomMove
    ) -> None:
        self._tracker = tracker
        self._view = view
        self._enter = enter_room
        self._leave = leave_room

    def handlers(self) -> dict[str, EventHandler | SyncEventHandler]:
        return {
            "location:update": self.update,
            "location:batch": self.batch,
            "job:watch": self.watch,
            "job:unwatch": self.unwatch,
        }

    def update(self, identity: Identity, data: Any) -> dict[str, Any]:
        # Not async: the gateway runs it straight from the packet (its fast path), once per
        # point per contractor.
        contractor_id = _contractor(identity)
        accepted = self._tracker.ingest(contractor_id, parse_point(data))
        return _ACCEPTED if accepted else _NOT_ACCEPTED

    async def batch(self, identity: Identity, data: Any) -> dict[str, Any]:
        contractor_id = _contractor(identity)
        return ok(accepted=self._tracker.ingest_batch(contractor_id, parse_batch(data)))

    async def watch(self, identity: Identity, data: Any) -> dict[str, Any]:
        job_id = parse_watch(data)
        job = await self._view.watchable(
            job_id, identity.user_id, identity.role, identity.share_job_id
        )
        # Join first, then read: a point fanned out in between is in the ack or delivered.
        await self._enter(identity.sid, job_room(job.id))
        return ok(job={"id": job.id, "status": job.status}, **(await self._view.live_fields(job)))

    async def unwatch(self, identity: Identity, data: Any) -> dict[str, Any]:
        job_id = parse_watch(data)
        await self._leave(identity.sid, job_room(job_id))
        return ok()
