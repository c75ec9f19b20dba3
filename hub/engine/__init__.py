"""The engine: the hub's Socket.IO transport. It knows no chat, jobs or SQL.

It carries Socket.IO packets between sockets and nodes, and it imports nothing of the domain
(``hub.chat``, ``hub.jobs``, ``hub.tracking``, ``hub.realtime`` ...) nor ``api``: only the
shared kernel ``hub.core.errors``. The domain reaches it through ``create_sio``,
``RoomBroadcaster``, ``BusManager`` and the ``Bus`` protocol.

* ``eio``: ``HubServer`` / ``HubEngineServer`` / ``HubSocket``: websocket sessions write whole
  frames straight to the transport (``Wire``), read in the request's task, ping from one timer.
* ``guard``: ``GuardedServer`` / ``GuardedEngineServer``: the gaps the libraries leave open
  (malformed input, half-open handshakes, unbounded backlogs, origins), plus the fast path.
* ``manager``: ``BusManager``, a python-socketio client manager over the bus, a channel per room.
* ``broadcast``: ``RoomBroadcaster``, latest-wins room broadcast, encoded and framed once.
* ``bus`` / ``bus_redis``: the fan-out bus, in memory and over Redis pub/sub (redis-py).
* ``server``: ``create_sio``, the server the app attaches.

**Library internals.** Read against the versions in :data:`MIRRORED`, which also lists the
files to re-read (a few are outside the engine). ``tests/hub/test_library_pins.py`` fails when
another minor is installed or ``pyproject.toml`` admits one: upgrading is a deliberate act.
"Overridden": our method replaces theirs; the rest we call, read or swap.

python-engineio 4.15 (``engineio.``):

* ``async_server.AsyncServer._handle_connect``: overridden by a copy of 4.15's (eio).
* ``AsyncServer.handle_request``: overridden; its websocket-open branch is redone (eio).
* ``AsyncServer._trigger_event``, ``.disconnect``, ``.send_packet``,
  ``base_server.BaseServer._cors_headers``: overridden (guard).
* ``async_socket.AsyncSocket.send``, ``.poll``, ``.close``, ``._websocket_handler``,
  ``.schedule_ping`` (no ``_send_ping`` task): overridden (eio).
* ``BaseServer._async``, the driver table: ``"websocket"`` swapped (eio),
  ``"translate_request"`` wrapped (guard); the driver calls of
  ``AsyncSocket._upgrade_websocket`` (eio).
* ``async_drivers.aiohttp.translate_request``'s environ: ``"aiohttp.request"`` (eio);
  ``"wsgi.input"`` as ``AsyncSocket.handle_post_request`` reads it, and ``handle_request``
  closing the session with a 400 on its ``EngineIOError`` (guard).
* ``BaseServer._cors_allowed_origins``, ``._log_error_once``, ``._bad_request``,
  ``._unauthorized``, ``._ok``, ``._upgrades``, ``._generate_sid_cookie``, ``.handlers``,
  ``.start_service_task``, ``.service_task_handle``, ``.ping_interval_grace_period``;
  ``AsyncServer._make_response``, ``._service_task`` (eio).
* ``base_socket.BaseSocket.queue`` (swapped for ``NO_QUEUE``; a queued ``None`` ends a poll),
  ``.last_ping``, ``.connected``, ``.upgrading``, ``.upgraded``, ``.closing``, ``.closed``;
  ``AsyncSocket.check_ping_timeout``, ``.receive``, ``.handle_get_request`` (eio, guard).
* ``packet.Packet.encode_cache`` (eio); ``BaseServer.sockets`` (eio, guard, broadcast,
  ``api/app.py``).

python-socketio 5.18 (``socketio.``):

* ``async_server.AsyncServer._engineio_server_class``: overridden (eio, guard).
* ``AsyncServer._handle_eio_connect``, ``._handle_connect``, ``._handle_eio_disconnect``,
  ``._handle_eio_message`` (decodes plain ``2[...]`` events itself), ``._handle_event``:
  overridden (guard).
* ``AsyncServer._binary_packet``, ``packet.Packet.attachment_count``, ``AsyncServer._send_packet``,
  the ACK of ``._handle_event_internal`` written directly (guard);
  ``AsyncServer._send_eio_packet`` (manager).
* ``async_manager.AsyncManager.emit``, ``.pre_connect`` (a copy of ``BaseManager``'s),
  ``.can_disconnect``, ``.disconnect``, ``.enter_room``, ``.leave_room``, ``.close_room``,
  ``base_manager.BaseManager.basic_enter_room`` (a copy, rooms but ``None``): overridden (manager).
* ``BaseManager.rooms`` (``[namespace][room][sid] = eio_sid``; room ``None`` a bidict whose
  ``ValueDuplicationError`` means already connected; ``_fwdm`` as ``get_participants`` reads
  it), ``.pending_connect``, ``._generate_ack_id`` (manager; ``rooms`` also broadcast).

aiohttp 3.14 (``aiohttp.``):

* ``web_ws.WebSocketResponse._writer``: the ``_websocket.writer.WebSocketWriter``'s ``compress``,
  ``get_random_bits``, ``_send_lock``, ``_background_tasks`` swapped for shared ones (eio).
* ``web_protocol.RequestHandler._payload_parser`` and ``._parser`` (a ``BaseProtocol`` slot):
  the HTTP parser dropped once the upgrade is accepted (eio).
* ``WebSocketWriter.send_frame`` writes uncompressed and control frames with synchronous
  ``transport.write``: so our whole frames on ``request.transport`` cannot interleave with
  its own (eio ``Wire``, broadcast, guard ``write_now``).

redis-py 8.1 (``redis.``):

* ``asyncio.Redis.connection_pool.connection_class`` / ``.connection_kwargs``,
  ``asyncio.cluster.ClusterNode.connection_class`` / ``.connection_kwargs`` (minus 8.x's
  ``maint_*``, ``orig_*``, ``oss_*`` keys), ``RedisCluster.nodes_manager.startup_nodes`` and
  ``.initialize()``: dedicated pub/sub connections and slot refreshes (bus_redis).
* ``asyncio.connection.Connection.connect``, ``.pack_commands``,
  ``.send_packed_command(check_health=False)``, ``.read_response(timeout=...,
  disconnect_on_error=False)`` (None on timeout), ``.disconnect(nowait=True)``; RESP2 pub/sub
  replies as ``[kind, channel, data]`` (bus_redis).
* ``send_packed_command`` wraps its write in ``asyncio.wait_for`` when ``socket_timeout`` is
  set, which on Python 3.11 can swallow a cancellation (bus_redis, ``live_state_redis``).

Outside the engine, asyncpg 0.32: ``api/db.py`` passes ``create_pool(reset=...)`` and relies on
``pool.PoolConnectionHolder.release`` running ``Connection._reset()`` (ROLLBACK) first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, NamedTuple


class Mirrored(NamedTuple):
    """The minor version (``"4.15"``) a library's internals were read against, and the files
    (from the repository root) to re-read against its changes before moving to another."""

    minor: str
    files: tuple[str, ...]


MIRRORED: Final[Mapping[str, Mirrored]] = {
    "python-engineio": Mirrored(
        "4.15",
        ("hub/engine/eio.py", "hub/engine/guard.py", "hub/engine/broadcast.py", "api/app.py"),
    ),
    "python-socketio": Mirrored(
        "5.18",
        (
            "hub/engine/eio.py",
            "hub/engine/guard.py",
            "hub/engine/manager.py",
            "hub/engine/broadcast.py",
        ),
    ),
    "aiohttp": Mirrored(
        "3.14", ("hub/engine/eio.py", "hub/engine/broadcast.py", "hub/engine/guard.py")
    ),
    "redis": Mirrored("8.1", ("hub/engine/bus_redis.py", "hub/tracking/live_state_redis.py")),
    "asyncpg": Mirrored("0.32", ("api/db.py",)),
}
"""Distribution name -> what the product mirrors of it (see the note above)."""
