"""Fast, latest-wins room broadcast for superseding data (live job locations).

``sio.emit(event, data, room=...)`` in python-socketio costs one Task per recipient, then
engineio's per-client queue and writer task: ~40 µs of CPU per delivered event.
:meth:`RoomBroadcaster.broadcast` encodes the Socket.IO packet once, frames it once as a
websocket text frame, and writes those same bytes to each websocket member of the room with
one ``transport.write`` (see :mod:`hub.engine.eio` for why that cannot interleave with the frames
engineio sends on the same connection). Long-polling members get the packet through
engineio's queue instead.

Latest-wins: a member whose connection cannot keep up (its transport write buffer is above the
engine's ``wire_high_water``) is not sent more; the broadcaster keeps only the newest frame per
``key`` for that member and the engine writes it once the buffer drains. A polling member has
at most one queued packet per key, updated in place until it is polled. Everything else sent
to the socket (``sio.emit``: chat, acks, pings) is never dropped nor coalesced.

Scope: members connected to this process (``manager.rooms``), like python-socketio's own
local fan-out; a multi-node deployment publishes the event to every node and each node calls
:meth:`RoomBroadcaster.broadcast` for its local members.
"""

from __future__ import annotations

from typing import Any

import orjson

from hub.engine.eio import HubEngineServer, HubSocket, ws_frame


class RoomBroadcaster:
    """Broadcasts superseding events to the local members of a room, latest-wins per key.

    Args:
        sio: a ``socketio.AsyncServer`` whose Engine.IO server is a
            :class:`hub.engine.eio.HubEngineServer` (e.g. :class:`hub.engine.eio.HubServer`).
    """

    def __init__(self, sio: Any) -> None:
        if not isinstance(sio.eio, HubEngineServer):
            raise TypeError("RoomBroadcaster needs a server built on hub.engine.eio")
        self._sio = sio
        self._eio: HubEngineServer = sio.eio

    def broadcast(
        self,
        room: str,
        event: str,
        data: Any,
        *,
        key: str,
        namespace: str = "/",
        skip_sid: str | None = None,
    ) -> int:
        """Send Socket.IO event ``event`` with argument ``data`` to the members of ``room``.

        Synchronous: every websocket member is written to (or has the frame held) before it
        returns; nothing awaits. ``data`` must be serialisable by orjson.

        Args:
            room: Socket.IO room name in ``namespace``.
            event: event name the clients receive.
            data: the single event argument, JSON-encoded once for all members.
            key: what the event supersedes, e.g. the job id; per member, a newer event with
                the same key replaces an older one that has not reached the wire yet.
            namespace: Socket.IO namespace of the room and of the packet.
            skip_sid: Socket.IO sid not to send to (the publisher).

        Returns:
            How many members it was written or queued for (held frames included).
        """
        members = self._sio.manager.rooms.get(namespace, {}).get(room)
        if not members:
            return 0
        body = orjson.dumps([event, data])
        # Engine.IO MESSAGE (4) carrying Socket.IO EVENT (2): 42["event",data] or 42/ns,[...]
        payload = b"42" + body if namespace == "/" else b"42" + namespace.encode() + b"," + body
        frame = ws_frame(payload)
        text: str | None = None  # the polling members' copy, made only if there are any
        sockets = self._eio.sockets
        high_water = self._eio.wire_monitor.high_water
        sent = 0
        # A synchronous loop: membership cannot change while it runs, so no copy is needed.
        for sid, eio_sid in members.items():
            if sid == skip_sid:
                continue
            sock: HubSocket | None = sockets.get(eio_sid)
            if sock is None:
                continue
            wire = sock.wire
            if wire is not None:
                # Wire.send_latest inline for its common case (this runs once per delivery,
                # and the call was a measurable share of it): open, nothing held, the buffer
                # at or below the high water.
                tr = wire.transport
                if tr.is_closing():
                    continue
                if wire.latest is None and tr.get_write_buffer_size() <= high_water:
                    tr.write(frame)
                    sent += 1
                else:
                    sent += wire.send_latest(key, frame)
            else:
                if text is None:
                    text = payload[1:].decode()  # the Engine.IO packet adds the "4" itself
                sent += sock.queue_latest(key, text)
        return sent
