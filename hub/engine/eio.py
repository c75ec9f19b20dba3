"""Engine.IO / Socket.IO server classes of the hub: direct websocket writes, lean per-socket state.

python-engineio's stock websocket session costs, per connection, an ``asyncio.Queue`` plus a
writer task that moves every packet from the queue to ``ws.send``; per *received* frame, a new
Task wrapped in ``asyncio.wait_for``; and per ping cycle, another Task sleeping 25 s. On one
core that caps a Socket.IO fan-out at ~25k deliveries/s and ~30 KB per idle connection.

:class:`HubServer` is a drop-in ``socketio.AsyncServer`` (aiohttp only) whose Engine.IO layer
(:class:`HubEngineServer`, :class:`HubSocket`) instead:

* gives every websocket session a :class:`Wire`: packets are encoded and written straight to
  the connection's transport as complete websocket frames (no writer task; the queue is
  dropped once the Wire exists);
* reads frames in the request handler's own task, with no Task or timeout per frame (dead
  peers are found by the Engine.IO ping/pong, which closes the session);
* pings every session from one shared timer (:class:`PingWheel`) instead of a Task each;
* disables permessage-deflate, so a frame is the same bytes for every recipient and a
  compressor (~256 KB of zlib state) is never allocated per connection;
* keeps nothing alive per idle session that it does not need (no last message, no OPEN
  packet, shared environ keys): ~16.5 MB per 1,000 idle websockets instead of ~30 MB, about
  14 of which are aiohttp's own request/response/reader objects.

Long-polling sessions keep python-engineio's queue; a polling session that upgrades to
websocket gets its Wire once the upgrade completes, after its queued packets.

Why frames written through a Wire cannot interleave with anything else on the socket: every
write is one synchronous ``transport.write`` of a whole frame, and the only other writer of the
connection is aiohttp itself, which writes its control frames (pong, close) whole and
synchronously too (compression, the only path with an ``await`` mid-frame, is off). The event
loop never runs two of these writes concurrently, so the byte stream is a sequence of whole
frames.

Versions: written against python-engineio 4.15 / python-socketio 5.18 internals
(``AsyncSocket._websocket_handler``, ``AsyncServer._handle_connect``); the tests in
``tests/hub/test_broadcast.py`` exercise every overridden path over a real port.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import math
import random
import struct
import sys
import time
import urllib.parse
from typing import Any

import engineio
import socketio
from aiohttp import WSMessage, WSMsgType, web
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet
from engineio.async_socket import AsyncSocket

log = logging.getLogger(__name__)

OP_TEXT = 0x1
OP_BINARY = 0x2


def ws_frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    """Encode one final, unmasked, uncompressed websocket frame (server to client)."""
    n = len(payload)
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, n) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, n) + payload


def eio_frame(pkt: Any) -> bytes:
    """The websocket frame carrying one engineio ``Packet``."""
    data = pkt.encode()
    if isinstance(data, str):
        return ws_frame(data.encode(), OP_TEXT)
    return ws_frame(bytes(data), OP_BINARY)


PING_FRAME = ws_frame(b"2")
CLOSE_FRAME = ws_frame(b"1")


class _RetiredTransport(asyncio.Transport):
    """Put in place of a closing websocket's transport: the Wire's own closed check then
    refuses writes, at no cost on the per-delivery path."""

    def is_closing(self) -> bool:
        return True


RETIRED = _RetiredTransport()


class Wire:
    """Writes whole websocket frames directly to one connection's transport.

    * :meth:`send` never drops: the frame goes to the transport, which buffers without bound
      (this is where chat, acks, pings and Socket.IO control packets go).
    * :meth:`send_latest` is for superseding data such as the position of a job: while the
      transport's write buffer is above ``high_water`` it keeps only the newest frame per
      ``key`` (memory per wire is bounded by the number of keys), and :class:`WireMonitor`
      writes the kept frames once the buffer is back at or below ``low_water``.
    * A connection whose buffer stays above ``high_water`` for ``max_stall`` seconds is
      aborted by the monitor; the normal disconnect path then runs.
    """

    __slots__ = ("latest", "monitor", "since", "transport")

    def __init__(self, transport: asyncio.Transport, monitor: WireMonitor) -> None:
        self.transport = transport
        self.monitor = monitor
        self.latest: dict[str, bytes] | None = None  # key -> newest held frame
        self.since: float | None = None  # loop time congestion was first seen

    def retire(self) -> None:
        """Stop writing: the websocket is closing (no data frame may follow a close frame)."""
        self.transport = RETIRED
        self.latest = None

    def send(self, frame: bytes) -> bool:
        """Write ``frame`` now (never dropped). False if the connection is gone."""
        tr = self.transport
        if tr.is_closing():
            return False
        tr.write(frame)
        if self.since is None and tr.get_write_buffer_size() > self.monitor.high_water:
            self.monitor.watch(self)  # so a reader that never drains gets disconnected
        return True

    def send_latest(self, key: str, frame: bytes) -> bool:
        """Write ``frame`` now, or hold it as the newest for ``key`` while congested.

        Returns False only if the connection is gone.
        """
        tr = self.transport
        if tr.is_closing():
            return False
        latest = self.latest
        if latest is None:
            if tr.get_write_buffer_size() <= self.monitor.high_water:
                tr.write(frame)
                return True
            # Once anything is held, newer frames are held too (behind it), so a flush can
            # never put an older position on the wire after a newer one.
            latest = self.latest = {}
            self.monitor.watch(self)
        latest[key] = frame
        return True


class WireMonitor:
    """Flushes held frames of congested wires and disconnects wires that stay congested.

    One instance per engine server; its timer runs only while some wire is congested, every
    ``interval`` seconds, and looks only at those wires.
    """

    def __init__(
        self, *, high_water: int, low_water: int, max_stall: float, interval: float
    ) -> None:
        if not 0 <= low_water <= high_water:
            raise ValueError("need 0 <= low_water <= high_water")
        self.high_water = high_water
        self.low_water = low_water
        self.max_stall = max_stall
        self.interval = interval
        self._wires: set[Wire] = set()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def congested(self) -> int:
        """How many wires are currently congested."""
        return len(self._wires)

    def watch(self, wire: Wire) -> None:
        loop = asyncio.get_running_loop()
        if wire.since is None:
            wire.since = loop.time()
        self._wires.add(wire)
        if self._timer is None:
            self._timer = loop.call_later(self.interval, self._tick)

    def _tick(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        for wire in list(self._wires):
            tr = wire.transport
            if tr.is_closing():
                wire.latest = None
            elif tr.get_write_buffer_size() <= self.low_water:
                if wire.latest:
                    tr.write(b"".join(wire.latest.values()))
                wire.latest = None
            elif wire.since is not None and now - wire.since > self.max_stall:
                log.info("aborting a websocket whose buffer stayed full %.1fs", now - wire.since)
                wire.latest = None
                tr.abort()  # the reader sees EOF and runs the usual disconnect path
            else:
                continue
            wire.since = None
            self._wires.discard(wire)
        if self._wires:
            self._timer = loop.call_later(self.interval, self._tick)


class _NoQueue:
    """Stands in for the ``asyncio.Queue`` of a websocket session once its Wire exists.

    The queue (four deques, ~3 KB) would sit empty for the rest of the session: every send
    goes through the Wire. Anything that still tried to queue would be a bug, so it raises.
    """

    def put_nowait(self, item: Any) -> None:
        raise RuntimeError("websocket sessions send through their Wire, not a queue")

    async def put(self, item: Any) -> None:
        self.put_nowait(item)

    def get_nowait(self) -> Any:
        raise asyncio.QueueEmpty

    async def join(self) -> None:
        return None


NO_QUEUE = _NoQueue()


class DirectWebSocket:
    """engineio's aiohttp websocket driver, without compression and exposing the response.

    Used for polling sessions that upgrade (engineio calls ``driver(handler, server)`` then
    ``await driver(environ)``); sessions that open directly on websocket skip it.
    """

    def __init__(self, handler: Any, server: Any) -> None:
        self.handler = handler
        self.server = server
        self.sock: web.WebSocketResponse | None = None
        self.environ: dict[str, Any] = {}

    async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
        self.sock = await prepare_websocket(
            environ, self.server.max_http_buffer_size, self.server.writer_parts
        )
        self.environ = environ
        await self.handler(self)
        return self.sock

    async def send(self, message: str | bytes) -> None:
        assert self.sock is not None
        if isinstance(message, bytes):
            await self.sock.send_bytes(message)
        else:
            await self.sock.send_str(message)

    async def wait(self) -> str | bytes:
        assert self.sock is not None
        msg = await self.sock.receive()
        if not isinstance(msg.data, str | bytes):
            raise OSError()
        return msg.data


class SharedWriterParts:
    """What every uncompressed server-side websocket writer of one server can share.

    aiohttp's ``WebSocketWriter`` gives each connection a masking random source (only
    clients mask), a send lock and a task set (both only for compressed frames): about
    0.6 KB per connection that an uncompressed server websocket never uses. One set of them
    per server (so per event loop, for the lock) replaces them after the handshake.
    """

    def __init__(self) -> None:
        self.random_bits = functools.partial(random.getrandbits, 32)
        self.lock = asyncio.Lock()
        self.tasks: set[asyncio.Task[None]] = set()


async def prepare_websocket(
    environ: dict[str, Any], max_msg_size: int, shared: SharedWriterParts | None = None
) -> web.WebSocketResponse:
    """Accept the websocket handshake of the request in ``environ``.

    ``compress=False``: no permessage-deflate, so every frame is written whole and
    synchronously by everyone (see the module docstring) and no zlib state is allocated.
    With ``shared``, the connection then drops what it will never use (:func:`_slim`).
    """
    sock = web.WebSocketResponse(compress=False, max_msg_size=max_msg_size)
    request = environ["aiohttp.request"]
    await sock.prepare(request)
    if shared is not None:
        _slim(sock, request, shared)
    return sock


def _slim(sock: web.WebSocketResponse, request: web.Request, shared: SharedWriterParts) -> None:
    """An idle websocket's footprint (each is held for hours): ~1.3 KB less per connection.

    * The connection's HTTP request parser is done once the upgrade is accepted (aiohttp
      hands the bytes to the websocket reader; the parser is only read again for a
      *declined* upgrade or a new request, and this connection has neither): dropped.
    * The writer's per-connection parts for masking and compression: shared
      (:class:`SharedWriterParts`).

    Every attribute is checked before it is touched, so an aiohttp that lays these out
    differently only loses the saving.
    """
    protocol = request.protocol
    if getattr(protocol, "_payload_parser", None) is not None and hasattr(protocol, "_parser"):
        protocol._parser = None
    writer = getattr(sock, "_writer", None)
    if writer is None or getattr(writer, "compress", True):
        return
    for name, value in (
        ("get_random_bits", shared.random_bits),
        ("_send_lock", shared.lock),
        ("_background_tasks", shared.tasks),
    ):
        if hasattr(writer, name):
            setattr(writer, name, value)


class PingWheel:
    """Sends Engine.IO pings for all sessions from one timer (not a Task or timer each).

    A session due in ``ping_interval`` seconds goes into the list of the tick it falls in;
    each tick pings the sessions of its list that are still open. Pings go out at most one
    ``resolution`` late, well inside the client's ``pingInterval + pingTimeout`` allowance.
    """

    def __init__(self, interval: float, resolution: float = 0.5) -> None:
        self.interval = interval
        self.resolution = resolution
        self._due: dict[int, list[HubSocket]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def add(self, sock: HubSocket) -> None:
        loop = asyncio.get_running_loop()
        tick = math.ceil((loop.time() + self.interval) / self.resolution)
        bucket = self._due.get(tick)
        if bucket is None:
            bucket = self._due[tick] = []
        bucket.append(sock)
        if self._timer is None:
            self._timer = loop.call_at(tick * self.resolution, self._fire)

    def _fire(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        # half a tick of slack: a timer firing a hair early must not find nothing due
        now_tick = loop.time() / self.resolution + 0.5
        for tick in [t for t in self._due if t <= now_tick]:
            for sock in self._due.pop(tick):
                sock.ping_now()
        if self._due:
            self._timer = loop.call_at(min(self._due) * self.resolution, self._fire)


class HubSocket(AsyncSocket):  # type: ignore[misc]
    """An Engine.IO session: a :class:`Wire` once on websocket, engineio's queue before."""

    # set by engineio's BaseSocket.__init__ (declared for the type checker)
    server: Any
    sid: str
    queue: Any
    last_ping: float | None
    connected: bool
    upgrading: bool
    upgraded: bool
    closing: bool
    closed: bool

    wire: Wire | None = None
    _sock: web.WebSocketResponse | None = None
    # polling only: key -> the queued, not yet polled packet holding that key's newest data
    _latest_queued: dict[str, Any] | None = None

    # ------------------------------------------------------------------ sending
    async def send(self, pkt: Any) -> None:
        wire = self.wire
        if wire is None:
            await super().send(pkt)
        elif await self.check_ping_timeout():
            wire.send(eio_frame(pkt))

    def queue_latest(self, key: str, text: str) -> bool:
        """Polling transport: queue a MESSAGE packet, replacing a queued one with the same key.

        Returns False if the session is closing.
        """
        if self.closing or self.closed:
            return False
        queued = self._latest_queued
        if queued is None:
            queued = self._latest_queued = {}
        pkt = queued.get(key)
        if pkt is not None:  # still waiting for a poll: overwrite in place
            pkt.data = text
            pkt.encode_cache = None
            return True
        pkt = eio_packet.Packet(eio_packet.MESSAGE, data=text)
        queued[key] = pkt
        self.queue.put_nowait(pkt)
        return True

    async def poll(self) -> list[Any]:
        packets: list[Any] = await super().poll()
        if self._latest_queued:
            taken = {id(p) for p in packets}
            self._latest_queued = {
                k: p for k, p in self._latest_queued.items() if id(p) not in taken
            }
        return packets

    # ------------------------------------------------------------------ ping
    def schedule_ping(self) -> None:
        # Same protocol as engineio (ping ping_interval after the last pong; last_ping is the
        # marker the service task checks against ping_timeout), but no Task per ping.
        if self.last_ping:
            self.last_ping = None
            self.server.ping_wheel.add(self)

    def ping_now(self) -> None:
        """Send a PING now (called by the :class:`PingWheel`)."""
        if self.closing or self.closed:
            return
        self.last_ping = time.time()
        if self.wire is not None:
            self.wire.send(PING_FRAME)
        else:
            self.queue.put_nowait(eio_packet.Packet(eio_packet.PING))

    # ------------------------------------------------------------------ closing
    async def close(
        self, wait: bool = True, abort: bool = False, reason: str | None = None
    ) -> None:
        wire = self.wire
        if wire is None:
            await super().close(wait=wait, abort=abort, reason=reason)
            return
        if self.closed or self.closing:
            return
        self.closing = True
        await self.server._trigger_event(
            "disconnect",
            self.sid,
            reason or self.server.reason.SERVER_DISCONNECT,
            run_async=False,
        )
        self.closed = True
        if not abort and self._sock is not None:
            # Closed by the server (disconnect(), ping timeout): tell the client, then end the
            # websocket, which also wakes the reader loop blocked in receive().
            wire.send(CLOSE_FRAME)
            wire.retire()
            self.server.keep_task(asyncio.ensure_future(self._sock.close()))
        else:
            wire.retire()

    # ------------------------------------------------------------------ websocket session
    async def serve_websocket(
        self, environ: dict[str, Any], upgraded: DirectWebSocket | None = None
    ) -> web.WebSocketResponse:
        """Run the websocket session until the websocket or the session ends.

        ``upgraded``: the already accepted websocket of a polling session that upgraded;
        otherwise the session was opened directly on websocket and is accepted here.
        """
        if upgraded is None:
            sock = await prepare_websocket(
                environ, self.server.max_http_buffer_size, self.server.writer_parts
            )
            self.connected = True
            self.upgraded = True
        else:
            assert upgraded.sock is not None
            sock = upgraded.sock
        transport = environ["aiohttp.request"].transport
        if transport is None:  # the peer went away during the handshake
            await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)
            return sock
        self._attach(sock, transport)
        try:
            # No local keeps the last message or handler coroutine alive while waiting: an
            # idle connection's footprint is what the protocol needs, not its last frame.
            while not self.closed and await self._dispatch(await sock.receive()):
                pass
        finally:
            await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)
        return sock

    async def _websocket_handler(self, ws: DirectWebSocket) -> None:
        """engineio's hook for a polling session upgrading to websocket."""
        if await self._upgrade(ws):
            await self.serve_websocket(ws.environ, upgraded=ws)

    async def _upgrade(self, ws: DirectWebSocket) -> bool:
        """The polling-to-websocket probe (same protocol steps as engineio's)."""
        self.upgrading = True  # engineio answers polling GETs with NOOP while this is set
        try:
            pkt = eio_packet.Packet(encoded_packet=await ws.wait())
            if pkt.packet_type != eio_packet.PING or pkt.data != "probe":
                return False
            await ws.send(eio_packet.Packet(eio_packet.PONG, data="probe").encode())
            await self.queue.put(eio_packet.Packet(eio_packet.NOOP))  # ends the pending poll
            pkt = eio_packet.Packet(encoded_packet=await ws.wait())
            if pkt.packet_type != eio_packet.UPGRADE:
                return False
            self.upgraded = True
            return True
        except (OSError, ValueError):
            return False
        finally:
            self.upgrading = False

    def _attach(self, sock: web.WebSocketResponse, transport: asyncio.Transport) -> None:
        wire = Wire(transport, self.server.wire_monitor)
        # Packets queued before the websocket existed (OPEN, or everything a polling session
        # had pending) go first, in order; then the queue is dropped for good.
        queue = self.queue
        while not queue.empty():
            pkt = queue.get_nowait()
            if pkt is not None:
                wire.send(eio_frame(pkt))
        self.queue = NO_QUEUE
        self._latest_queued = None
        self._sock = sock
        self.wire = wire

    async def _dispatch(self, msg: WSMessage) -> bool:
        """Handle one websocket message; False once the websocket is closing or closed."""
        if msg.type is WSMsgType.TEXT:
            data = msg.data
            if data[:1] != "4":
                await self._receive_other(data)
                return True
            payload: str | bytes = data[1:]  # MESSAGE: the hot path, straight to Socket.IO
        elif msg.type is WSMsgType.BINARY:
            payload = msg.data
        else:  # CLOSE, CLOSING, CLOSED, ERROR
            return False
        handler = self.server.handlers.get("message")
        if handler is not None:
            try:
                ret = handler(self.sid, payload)
                if inspect.isawaitable(ret):
                    await ret
            except Exception:
                log.exception("message handler error")
        return True

    async def _receive_other(self, data: str) -> None:
        # PONG, CLOSE, UPGRADE, NOOP: engineio's own handling; unknown or bad ones are ignored
        with contextlib.suppress(eio_exceptions.UnknownPacketError, ValueError, IndexError):
            await self.receive(eio_packet.Packet(encoded_packet=data))


def _is_websocket_upgrade(environ: dict[str, Any]) -> bool:
    connection = [v.strip() for v in environ.get("HTTP_CONNECTION", "").lower().split(",")]
    return "upgrade" in connection and environ.get("HTTP_UPGRADE", "").lower() == "websocket"


# environ keys a websocket session keeps besides the headers (HTTP_*)
_ENVIRON_KEPT = frozenset(
    {
        "REQUEST_METHOD",
        "QUERY_STRING",
        "PATH_INFO",
        "REMOTE_ADDR",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "wsgi.url_scheme",
        "aiohttp.request",
    }
)
# environ keys whose values are mostly the same for every client (never a secret or an id)
_SHARED_VALUES = (
    "REQUEST_METHOD",
    "QUERY_STRING",
    "RAW_URI",
    "PATH_INFO",
    "SERVER_PROTOCOL",
    "wsgi.url_scheme",
    "HTTP_HOST",
    "HTTP_CONNECTION",
    "HTTP_UPGRADE",
    "HTTP_ORIGIN",
    "HTTP_USER_AGENT",
    "HTTP_ACCEPT",
    "HTTP_ACCEPT_ENCODING",
    "HTTP_ACCEPT_LANGUAGE",
    "HTTP_CACHE_CONTROL",
    "HTTP_PRAGMA",
    "HTTP_SEC_WEBSOCKET_VERSION",
    "HTTP_SEC_WEBSOCKET_EXTENSIONS",
)


def _opens_websocket(request: Any, transports: list[str]) -> bool:
    """Whether engineio's ``handle_request`` would open a websocket session for it."""
    if not isinstance(request, web.Request) or request.method != "GET":
        return False
    if request.headers.get("Upgrade", "").lower() != "websocket" or "websocket" not in transports:
        return False
    query = urllib.parse.parse_qs(request.query_string)  # not request.query: that is cached
    return (
        "sid" not in query
        and "j" not in query
        and query.get("transport") == ["websocket"]
        and query.get("EIO") == ["4"]
    )


class HubEngineServer(engineio.AsyncServer):  # type: ignore[misc]
    """``engineio.AsyncServer`` (aiohttp) creating :class:`HubSocket` sessions.

    Extra keyword arguments (python-socketio passes unknown ones through to here):

    * ``wire_high_water`` (bytes, default 16 KiB): a websocket whose transport holds more
      unsent bytes than this is congested; superseding frames are then coalesced per key.
    * ``wire_low_water`` (bytes, default 4 KiB): held frames are flushed once at or below it.
    * ``wire_max_stall`` (s, default 30): a connection congested this long is aborted.
    * ``wire_flush_interval`` (s, default 0.01): how often congested wires are checked.
    """

    _async: dict[str, Any]
    start_service_task: bool

    def __init__(
        self,
        *args: Any,
        wire_high_water: int = 16 * 1024,
        wire_low_water: int = 4 * 1024,
        wire_max_stall: float = 30.0,
        wire_flush_interval: float = 0.01,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("async_mode", "aiohttp")
        super().__init__(*args, **kwargs)
        if self.async_mode != "aiohttp":
            raise ValueError("HubEngineServer supports async_mode='aiohttp' only")
        # a per-instance copy: the driver table is a module global shared by all servers
        self._async = dict(self._async, websocket=DirectWebSocket)
        self.wire_monitor = WireMonitor(
            high_water=wire_high_water,
            low_water=wire_low_water,
            max_stall=wire_max_stall,
            interval=wire_flush_interval,
        )
        # a tick well inside the client's allowance (it waits pingInterval + pingTimeout)
        self.ping_wheel = PingWheel(self.ping_interval, min(0.5, self.ping_timeout / 4))
        self._tasks: set[asyncio.Future[Any]] = set()
        self.writer_parts = SharedWriterParts()

    async def handle_request(self, *args: Any, **kwargs: Any) -> Any:
        """engineio's entry point; a new websocket session takes a lean path.

        engineio's ``handle_request`` is awaited for the whole life of the session it opens:
        its frame (some twenty locals, the parsed query among them) would stay alive with
        every websocket. :meth:`_open_websocket` does what it does for that one case (GET
        with ``transport=websocket``, ``EIO=4``, no ``sid``, no JSONP, a websocket upgrade)
        and keeps only the request and environ; everything else goes to engineio.
        """
        if len(args) == 1 and not kwargs and _opens_websocket(args[0], self.transports):
            return await self._open_websocket(args[0])
        return await super().handle_request(*args, **kwargs)

    async def _open_websocket(self, request: web.Request) -> Any:
        translate = self._async["translate_request"]
        full = translate(request)
        if inspect.isawaitable(full):
            full = await full
        # python-socketio keeps the session's environ as long as it lives: keep what an app
        # reads (method, path, query, address, scheme, headers, the aiohttp request), not the
        # WSGI server boilerplate (~0.6 KB less per websocket)
        environ = {k: v for k, v in full.items() if k in _ENVIRON_KEPT or k.startswith("HTTP_")}
        del full
        if self.cors_allowed_origins != []:  # engineio's origin check, unchanged
            origin = environ.get("HTTP_ORIGIN")
            if origin:
                allowed = self._cors_allowed_origins(environ)
                if allowed is not None and origin not in allowed:
                    self._log_error_once(origin + " is not an accepted origin.", "bad-origin")
                    return await self._make_response(
                        self._bad_request(origin + " is not an accepted origin."), environ
                    )
        r = await self._handle_connect(environ, "websocket")
        if not isinstance(r, dict):
            return r
        return await self._make_response(r, environ)

    def keep_task(self, task: asyncio.Future[Any]) -> None:
        """Hold a reference to a fire-and-forget task until it is done."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle_connect(
        self, environ: dict[str, Any], transport: str, jsonp_index: int | None = None
    ) -> Any:
        # Mirrors engineio.AsyncServer._handle_connect (4.15), which hard-codes its socket
        # class. Changes: HubSocket; a websocket session runs in HubSocket.serve_websocket
        # directly (engineio goes through handle_get_request, _upgrade_websocket and its
        # driver: three more frames alive per session); the OPEN packet is not kept in a local
        # of this frame, which lives as long as the session; environ keys are interned.
        if self.start_service_task:
            self.start_service_task = False
            self.service_task_handle = self.start_background_task(self._service_task)

        sid = self.generate_id()
        s = HubSocket(self, sid)
        self.sockets[sid] = s
        await s.send(
            eio_packet.Packet(
                eio_packet.OPEN,
                {
                    "sid": sid,
                    "upgrades": self._upgrades(sid, transport),
                    "pingTimeout": int(self.ping_timeout * 1000),
                    "pingInterval": int(self.ping_interval + self.ping_interval_grace_period)
                    * 1000,
                    "maxPayload": self.max_http_buffer_size,
                },
            )
        )
        # python-socketio keeps environ for the whole session; its HTTP_* keys are built per
        # request, so share them between sessions (same dict, same contents), and the values
        # that every client of an app sends alike too (~0.3 KB per session)
        for k in [k for k in environ if k.startswith("HTTP_")]:
            environ[sys.intern(k)] = environ.pop(k)
        for k in _SHARED_VALUES:
            v = environ.get(k)
            if type(v) is str:
                environ[k] = sys.intern(v)

        ret = await self._trigger_event("connect", sid, environ, run_async=False)
        if ret is not None and ret is not True:
            del self.sockets[sid]
            self.logger.warning("Application rejected connection")
            return self._unauthorized(ret or None)

        s.schedule_ping()

        if transport == "websocket":
            if _is_websocket_upgrade(environ):
                ret = await s.serve_websocket(environ)  # fewer frames than engineio's path
            else:
                ret = await s.handle_get_request(environ)
            if s.closed and sid in self.sockets:
                del self.sockets[sid]
            return ret
        s.connected = True
        headers = None
        if self.cookie:
            attrs = (
                self.cookie
                if isinstance(self.cookie, dict)
                else {"name": self.cookie, "path": "/", "SameSite": "Lax"}
            )
            headers = [("Set-Cookie", self._generate_sid_cookie(sid, attrs))]
        try:
            return self._ok(await s.poll(), headers=headers, jsonp_index=jsonp_index)
        except eio_exceptions.QueueEmpty:
            return self._bad_request()


class HubServer(socketio.AsyncServer):  # type: ignore[misc]
    """``socketio.AsyncServer`` on :class:`HubEngineServer`; same constructor and behaviour.

    Accepts the ``wire_*`` options of :class:`HubEngineServer`. ``async_mode`` defaults to
    (and must be) ``"aiohttp"``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("async_mode", "aiohttp")
        super().__init__(*args, **kwargs)

    def _engineio_server_class(self) -> type[HubEngineServer]:
        return HubEngineServer
