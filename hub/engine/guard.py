"""Transport guards on top of :mod:`hub.engine.eio`: what python-socketio/engineio leave open.

Found by reading python-engineio 4.15 / python-socketio 5.18; each guard names the gap.

Engine.IO (:class:`GuardedEngineServer`, a :class:`hub.engine.eio.HubEngineServer`):

* **Malformed long-polling bodies.** engineio decodes a POST body inside a bare ``except``
  that logs a traceback, answers 200 and keeps the session, once per request. Here the body
  is read (exactly ``Content-Length`` bytes; stock uses ``read(n)``, which may return fewer)
  and checked before engineio sees it; a body that is not UTF-8 or not an Engine.IO payload
  raises :class:`MalformedPayload`, which engineio already handles: the session is closed
  and the request answered 400, with no traceback.
* **Disconnects that never return.** ``AsyncServer.disconnect()`` waits for each
  session's queue to be drained by a poll that may never come (a vanished polling client,
  a session that only ever made its first GET), holding the caller (shutdown included)
  forever. Here it closes without waiting.
* **Sessions that outlive their websocket.** When a peer vanishes, aiohttp cancels the
  request task, so the engine's removal of the session after its websocket ends never
  runs; the closed session stayed in ``sockets`` until a service-task sweep. It is removed
  as soon as it is closed.
* **Long-polls that outlive their session.** When a polling client sends CLOSE, its
  pending GET waits for the next ping (up to ``ping_interval``); here it is answered at once.
* **Unbounded outgoing queues.** A socket whose peer stopped reading grows engineio's queue
  (polling) or its transport's write buffer (websocket :class:`hub.engine.eio.Wire`) without
  bound until the ping timeout. :meth:`GuardedEngineServer.send_packet` refuses to add to a
  backlog over ``max_backlog_bytes`` / ``max_backlog_packets`` and closes that socket
  instead; nobody else waits on it.

Socket.IO (:class:`GuardedServer`, a :class:`hub.engine.eio.HubServer`):

* **Half-open handshakes.** A client may open an Engine.IO session and never send the
  Socket.IO CONNECT ("40"), or only refused ones; python-socketio keeps it forever while it
  answers pings. Sessions not connected to a namespace ``connect_timeout`` seconds after
  they opened are closed.
* **Malformed packets.** A Socket.IO packet that does not decode, or an EVENT whose data is
  not ``[name, ...]``, raises inside python-socketio and logs a traceback per packet. The
  client is dropped instead (one log line), or, for a well-framed event with a bad name,
  answered ``not_found`` / ``validation_error`` when it asked for an ack.
* **Reserved names.** python-socketio dispatches a client event named ``connect`` or
  ``disconnect`` to the same handler as the real lifecycle events; they are refused here.
* **Binary floods.** A binary event announces its attachment count; more than
  ``max_attachments`` drops the client (the hub's protocol is JSON only).

:meth:`GuardedServer.drop` ends a client for good: Socket.IO DISCONNECT, then the Engine.IO
session closed without waiting (``sio.disconnect`` alone leaves the Engine.IO session open).

**Origins.** engineio with a list of CORS origins refuses every other one, the hub's own
included (so its tracking page breaks once CORS_ORIGINS is set), with a bare 400 before the
Socket.IO connect. Here engineio never refuses: the gateway does, at connect, with the
contract's ``connect_error`` body; this server only sends CORS headers to the origins that
:func:`origin_allowed` accepts, for long-polling from those pages.

The websocket frame limit needs no code: :class:`hub.engine.eio.DirectWebSocket` gives aiohttp
``max_msg_size = max_http_buffer_size``, so a bigger frame ends that websocket (close 1009)
and only that session is closed; a bigger polling body is engineio's ContentTooLongError.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from typing import Any, Protocol

import orjson
from aiohttp import web
from engineio import exceptions as eio_exceptions
from engineio import payload as eio_payload
from socketio import packet as sio_packet

from hub.core.errors import NotFound
from hub.engine.eio import HubEngineServer, HubServer, Wire, ws_frame

log = logging.getLogger(__name__)

RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)


def _plain_event(data: Any) -> tuple[int | None, str] | None:
    """``(ack id, JSON text)`` of a Socket.IO EVENT on namespace "/" sent as text, ``2[...]``
    or ``2<id>[...]`` (what every client event is); None for anything else, which takes
    python-socketio's full decode (other types and namespaces, binary, unusual ids)."""
    if type(data) is not str or data[:1] != "2":
        return None
    if data[1:2] == "[":
        return None, data[1:]
    end = 1
    while end < len(data) and end <= 16 and "0" <= data[end] <= "9":
        end += 1
    if end == 1 or end > 16 or data[end : end + 1] != "[":
        return None
    return int(data[1:end]), data[end:]


def origin_allowed(environ: dict[str, Any], allowed: tuple[str, ...]) -> bool:
    """True for no Origin (native apps), the hub's own origin, and the listed ones."""
    origin = environ.get("HTTP_ORIGIN")
    if not origin:
        return True
    origin = origin.rstrip("/")
    host = environ.get("HTTP_HOST", "")
    if origin in (f"http://{host}", f"https://{host}"):
        return True
    return origin in allowed or "*" in allowed


class MalformedPayload(eio_exceptions.EngineIOError):  # type: ignore[misc]
    """A long-polling body that is not a valid Engine.IO payload."""


class _Body:
    """The ``wsgi.input`` engineio reads a POST body from: bytes already read and checked."""

    def __init__(self, raw: bytes | None) -> None:
        self._raw = raw  # None: malformed

    async def read(self, length: int = -1) -> bytes:
        if self._raw is None:
            raise MalformedPayload("malformed long-polling payload")
        return self._raw


class GuardedEngineServer(HubEngineServer):
    """:class:`hub.engine.eio.HubEngineServer` with bounded backlogs and checked polling bodies.

    Extra keyword arguments (python-socketio passes unknown ones through to here):

    * ``max_backlog_bytes`` (default 1 MiB): a websocket whose transport holds more unsent
      bytes than this gets nothing more; it is closed.
    * ``max_backlog_packets`` (default 1000): the same for a polling session's queue.
    * ``allowed_origins``: browser origins (besides the hub's own) sent CORS headers.
      engineio's own ``cors_allowed_origins`` is forced to ``[]`` (no refusal here).
    """

    def __init__(
        self,
        *args: Any,
        max_backlog_bytes: int = 1024 * 1024,
        max_backlog_packets: int = 1000,
        allowed_origins: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> None:
        kwargs["cors_allowed_origins"] = []
        super().__init__(*args, **kwargs)
        self.allowed_origins = allowed_origins
        self.max_backlog_bytes = max_backlog_bytes
        self.max_backlog_packets = max_backlog_packets
        self._plain_translate = self._async["translate_request"]
        self._async = dict(self._async, translate_request=self._translate_request)

    async def _translate_request(self, request: web.Request) -> dict[str, Any]:
        environ: dict[str, Any] = self._plain_translate(request)
        if request.method != "POST":
            return environ
        sid = urllib.parse.parse_qs(request.query_string).get("sid", [None])[0]
        if sid not in self.sockets:
            return environ  # engineio answers "Invalid session" without reading the body
        declared = request.content_length
        if declared is not None and declared > self.max_http_buffer_size:
            return environ  # engineio refuses it by Content-Length, unread
        raw = await self._read_body(request, declared)
        if raw is not None:
            environ["CONTENT_LENGTH"] = str(len(raw))
        environ["wsgi.input"] = _Body(raw if raw is not None and _is_payload(raw) else None)
        return environ

    def _cors_headers(self, environ: dict[str, Any]) -> list[tuple[str, str]]:
        origin = environ.get("HTTP_ORIGIN")
        if not origin or not origin_allowed(environ, self.allowed_origins):
            return []
        headers = [("Access-Control-Allow-Origin", origin)]
        if environ["REQUEST_METHOD"] == "OPTIONS":
            headers.append(("Access-Control-Allow-Methods", "OPTIONS, GET, POST"))
        if "HTTP_ACCESS_CONTROL_REQUEST_HEADERS" in environ:
            headers.append(
                ("Access-Control-Allow-Headers", environ["HTTP_ACCESS_CONTROL_REQUEST_HEADERS"])
            )
        if self.cors_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        return headers

    async def _read_body(self, request: web.Request, declared: int | None) -> bytes | None:
        """The whole body, or None when it is cut short or (chunked) over the limit."""
        try:
            if declared is not None:
                return await request.content.readexactly(declared)
            chunks: list[bytes] = []
            size = 0
            async for chunk in request.content.iter_any():
                size += len(chunk)
                if size > self.max_http_buffer_size:
                    return None
                chunks.append(chunk)
            return b"".join(chunks)
        except asyncio.IncompleteReadError:
            return None

    def backlog_exceeded(self, socket: Any) -> bool:
        wire = getattr(socket, "wire", None)
        if wire is not None:
            transport = wire.transport  # closing ones (retired wires included) take nothing
            return not transport.is_closing() and bool(
                transport.get_write_buffer_size() > self.max_backlog_bytes
            )
        return bool(socket.queue.qsize() > self.max_backlog_packets)

    def write_now(self, sid: str, frame: bytes) -> bool:
        """Write a whole websocket frame to a websocket session now, with :meth:`send_packet`'s
        backlog rule. False when the session has no websocket yet (polling) or is gone: the
        caller then takes the packet path."""
        socket = self.sockets.get(sid)
        wire: Wire | None = getattr(socket, "wire", None)
        if wire is None or socket.closed:
            return False
        if self.backlog_exceeded(socket):
            if not socket.closing:
                self._abort(socket, wire)
            return True
        return wire.send(frame)

    async def send_packet(self, sid: str, pkt: Any) -> None:
        socket = self.sockets.get(sid)
        if socket is None or socket.closed:
            return
        if self.backlog_exceeded(socket):
            await self._overflow(socket)
            return
        await socket.send(pkt)

    async def _overflow(self, socket: Any) -> None:
        if socket.closing:
            return
        wire = getattr(socket, "wire", None)
        if wire is not None:
            self._abort(socket, wire)
            return
        log.info("closing a socket whose peer stopped reading", extra={"sid": socket.sid})
        while not socket.queue.empty():  # free the backlog; the CLOSE packet goes alone
            socket.queue.get_nowait()
            socket.queue.task_done()
        await self.close_session(socket.sid, self.reason.TRANSPORT_ERROR)

    @staticmethod
    def _abort(socket: Any, wire: Wire) -> None:
        log.info("closing a socket whose peer stopped reading", extra={"sid": socket.sid})
        # Nothing more can reach this peer: drop the buffer; the reader then sees EOF and
        # runs the usual disconnect path.
        wire.transport.abort()

    async def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        ret = await super()._trigger_event(event, *args, **kwargs)
        if event == "disconnect":
            socket = self.sockets.get(args[0])
            if socket is not None:
                asyncio.get_running_loop().call_soon(self._after_close, socket)
        return ret

    def _after_close(self, socket: Any) -> None:
        # Called once close() has queued what it sends.
        if socket.upgraded:
            # A websocket session has nothing left to deliver. Forget it now: when the peer
            # vanishes, aiohttp cancels the request task and the engine's own removal after
            # the session never runs (the service task would only find it a sweep later).
            if socket.closed and self.sockets.get(socket.sid) is socket:
                del self.sockets[socket.sid]
        elif socket.queue.empty():
            # Polling: nothing queued (the client sent CLOSE, or the session was aborted),
            # so a long-poll GET still waiting would hang until the next ping; None ends it
            # with an empty answer. A queued CLOSE is left for the client's last poll.
            socket.queue.put_nowait(None)

    async def close_session(self, sid: str, reason: str | None = None) -> None:
        """Close one session without waiting for its queue to drain (CLOSE is still sent)."""
        socket = self.sockets.get(sid)
        if socket is not None:
            await socket.close(wait=False, reason=reason or self.reason.SERVER_DISCONNECT)

    async def disconnect(self, sid: str | None = None) -> None:
        sids = list(self.sockets) if sid is None else [sid]
        for one in sids:
            await self.close_session(one)
            self.sockets.pop(one, None)


def _is_payload(raw: bytes) -> bool:
    try:
        eio_payload.Payload(encoded_payload=raw.decode("utf-8"))
    except Exception:  # any decoding failure of client bytes: ValueError, IndexError, ...
        return False
    return True


class FastEvents(Protocol):
    """A namespace "/" handler some of whose events finish without awaiting.

    ``fast_prefixes``: the start of those events' JSON text (``'["location:update",'``);
    ``dispatch_now(sid, event, data)`` runs one with the namespace's usual checks and
    returns the ack's argument.
    """

    fast_prefixes: tuple[str, ...]

    def dispatch_now(self, sid: str, event: str, data: Any) -> Any: ...


class GuardedServer(HubServer):
    """:class:`hub.engine.eio.HubServer` on :class:`GuardedEngineServer`, with the Socket.IO guards.

    Extra keyword arguments: ``connect_timeout`` (s, default 10), ``max_attachments``
    (default 10), plus those of :class:`GuardedEngineServer`.
    """

    eio: GuardedEngineServer

    def __init__(
        self, *args: Any, connect_timeout: float = 10.0, max_attachments: int = 10, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.connect_timeout = connect_timeout
        self.max_attachments = max_attachments
        self._handshakes: dict[str, asyncio.TimerHandle] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._fast: FastEvents | None = None

    def register_namespace(self, namespace_handler: Any) -> None:
        super().register_namespace(namespace_handler)
        if namespace_handler.namespace == "/" and hasattr(namespace_handler, "dispatch_now"):
            self._fast = namespace_handler

    def _engineio_server_class(self) -> type[GuardedEngineServer]:
        return GuardedEngineServer

    async def drop(self, sid: str, namespace: str = "/") -> None:
        """Disconnect Socket.IO client ``sid`` and close its Engine.IO session."""
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace)
        await self.disconnect(sid, namespace)
        if eio_sid is not None:
            await self.eio.close_session(eio_sid)

    async def shutdown(self) -> None:
        for timer in self._handshakes.values():
            timer.cancel()
        self._handshakes.clear()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        await super().shutdown()

    # ------------------------------------------------------------------ handshake timeout
    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        ret = await super()._handle_eio_connect(eio_sid, environ)
        loop = asyncio.get_running_loop()
        self._handshakes[eio_sid] = loop.call_later(
            self.connect_timeout, self._handshake_expired, eio_sid
        )
        return ret

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        await super()._handle_connect(eio_sid, namespace, data)
        # Connected: the timer has nothing left to check. Cancel it now rather than letting
        # it fire 10 s later (each pending timer holds ~0.5 KB: a connection storm's worth
        # of them would sit in memory for that long).
        if self.manager.sid_from_eio_sid(eio_sid, namespace or "/") is not None:
            timer = self._handshakes.pop(eio_sid, None)
            if timer is not None:
                timer.cancel()

    def _handshake_expired(self, eio_sid: str) -> None:
        self._handshakes.pop(eio_sid, None)
        if eio_sid not in self.eio.sockets or self._in_namespace(eio_sid):
            return
        log.info("closing an Engine.IO session that never connected to a namespace")
        self._close_later(eio_sid)

    def _in_namespace(self, eio_sid: str) -> bool:
        return any(
            self.manager.sid_from_eio_sid(eio_sid, ns) for ns in self.manager.get_namespaces()
        )

    def _close_later(self, eio_sid: str) -> None:
        task = asyncio.ensure_future(self.eio.close_session(eio_sid))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: str) -> None:
        timer = self._handshakes.pop(eio_sid, None)
        if timer is not None:
            timer.cancel()
        await super()._handle_eio_disconnect(eio_sid, reason)

    # ------------------------------------------------------------------ malformed input
    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            event = _plain_event(data) if eio_sid not in self._binary_packet else None
            if event is not None:
                ack_id, payload = event
                fast = self._fast
                if (
                    fast is not None
                    and payload.startswith(fast.fast_prefixes)
                    and self._event_now(fast, eio_sid, ack_id, payload)
                ):
                    return
                # What python-socketio does for this packet, without building a Packet
                await self._handle_event(
                    eio_sid, None, ack_id, self.packet_class.json.loads(payload)
                )
            else:
                await super()._handle_eio_message(eio_sid, data)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            # Handler errors never get here (the gateway answers them); this is a packet
            # python-socketio could not decode or dispatch.
            log.info("dropping a client that sent a malformed packet: %s", type(exc).__name__)
            self._binary_packet.pop(eio_sid, None)
            await self.eio.close_session(eio_sid, self.reason.TRANSPORT_ERROR)
            return
        pending = self._binary_packet.get(eio_sid)
        if pending is not None and pending.attachment_count > self.max_attachments:
            log.info("dropping a client announcing %d binary attachments", pending.attachment_count)
            del self._binary_packet[eio_sid]
            await self.eio.close_session(eio_sid, self.reason.TRANSPORT_ERROR)

    def _event_now(self, fast: FastEvents, eio_sid: str, ack_id: int | None, text: str) -> bool:
        """An event that finishes without awaiting (``location:update``, once per point per
        contractor), run from the packet: python-socketio's ``_handle_event`` would wrap it
        in three coroutines and build, encode and queue an ACK packet for the answer. Same
        outcome as that path: a socket not connected to "/" is not served, the namespace
        runs its checks, the ack goes out before the next packet of the socket is read.
        False (nothing done) when the packet must take the usual path instead."""
        sid = self.manager.sid_from_eio_sid(eio_sid, "/")
        if sid is None or not self.manager.is_connected(sid, "/"):
            return False
        data = self.packet_class.json.loads(text)
        if type(data) is not list or not data or type(data[0]) is not str:
            return False
        answer = fast.dispatch_now(sid, data[0], data[1] if len(data) > 1 else None)
        if ack_id is None:
            return True
        frame = ws_frame(b"43" + str(ack_id).encode() + orjson.dumps([answer]))
        if self.eio.write_now(eio_sid, frame):
            return True
        # Not on a websocket (long-polling): the packet path queues it
        self._ack_later(eio_sid, ack_id, answer)
        return True

    def _ack_later(self, eio_sid: str, ack_id: int, answer: Any) -> None:
        pkt = self.packet_class(sio_packet.ACK, namespace="/", id=ack_id, data=[answer])
        task = asyncio.ensure_future(self._send_packet(eio_sid, pkt))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _handle_event(
        self, eio_sid: str, namespace: str | None, id: int | None, data: Any
    ) -> None:
        if isinstance(data, list) and data and isinstance(data[0], str):
            if data[0] not in RESERVED_EVENTS:
                await super()._handle_event(eio_sid, namespace, id, data)
                return
            error = NotFound(f"unknown event {data[0]!r}")
        elif isinstance(data, list) and data:
            error = NotFound("unknown event")
        else:
            raise ValueError("an event must be [name, ...]")  # dropped by _handle_eio_message
        ns = namespace or "/"
        if id is not None and self.manager.sid_from_eio_sid(eio_sid, ns) is not None:
            await self._send_packet(
                eio_sid,
                self.packet_class(
                    sio_packet.ACK,
                    namespace=ns,
                    id=id,
                    data=[{"ok": False, "error": error.body()}],
                ),
            )
