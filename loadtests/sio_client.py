"""A lean Socket.IO v5 client (Engine.IO v4, websocket transport only) for gevent.

Why not ``locust.contrib.socketio.SocketIOUser``: it wraps python-socketio's threaded
client, which (under gevent) spawns a new greenlet for every received message, pushes
every emit through a queue to a writer greenlet, decodes each frame through two layers
of packet objects, and records every emit and every received event as a 0 ms locust
request. On a 2-core box where the generator's CPU per message bounds the load it can
make, this client does one ``ws.recv()`` and one JSON decode per frame in a single
reader greenlet, sends from the caller's greenlet, and leaves timing to the caller.
``loadtests/client_cpu.py`` measures the difference (docs/LOADTESTS.md).

Frames handled (text only; the hub sends no binary):
``0{open}``, ``2`` ping -> ``3`` pong, ``1`` close, ``40{sid}`` connected,
``44{err}`` connect_error, ``42[ev, data]`` event, ``42<id>[...]`` event asking an ack,
``43<id>[data]`` ack, ``41`` server-side disconnect.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import gevent
import orjson
import websocket
from gevent.event import AsyncResult

EventHandler = Callable[[str, Any], None]
CloseHandler = Callable[[bool, str], None]  # (expected, reason)


class SocketError(Exception):
    """Base of this client's errors."""


class ConnectRefused(SocketError):
    """The server answered the connect with ``connect_error`` (``44``)."""


class AckTimeout(SocketError):
    """No acknowledgement within the timeout."""


class SocketClosed(SocketError):
    """The socket closed while an acknowledgement was awaited."""


def socket_url(host: str) -> str:
    """``http://h:p`` -> ``ws://h:p/socket.io/?EIO=4&transport=websocket``."""
    parts = urlsplit(host)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, "/socket.io/", "EIO=4&transport=websocket", ""))


class SioClient:
    """One connection. ``connect()`` blocks the calling greenlet until the namespace
    is connected (or raises); events then arrive on ``on_event`` in the reader greenlet,
    which must not block for long (spawn for anything slow).

    Args:
        url: from :func:`socket_url`.
        auth: the Socket.IO ``auth`` object (``{"token": ...}``).
        on_event: called with ``(event, data)`` for each server event.
        on_close: called once with ``(expected, reason)`` when the socket is gone;
            ``expected`` is True only after :meth:`close`.
    """

    def __init__(
        self,
        url: str,
        auth: dict[str, Any],
        on_event: EventHandler,
        on_close: CloseHandler,
        connect_timeout: float = 10.0,
    ) -> None:
        self._url = url
        self._auth = auth
        self._on_event = on_event
        self._on_close = on_close
        self._connect_timeout = connect_timeout
        self._ws: websocket.WebSocket | None = None
        self._acks: dict[int, Callable[[Any], None]] = {}
        self._next_id = 0
        self._closing = False
        self._closed = False
        self._reader: gevent.Greenlet | None = None
        self.connected = False

    # --- connecting -------------------------------------------------------------------

    def connect(self) -> None:
        """Open the websocket, do the Engine.IO and Socket.IO handshakes.

        Raises:
            ConnectRefused: the hub refused (bad token); the message is its error body.
            OSError, websocket.WebSocketException, TimeoutError: transport failures.
        """
        ws = websocket.create_connection(
            self._url,
            timeout=self._connect_timeout,
            suppress_origin=True,  # like the native apps
            skip_utf8_validation=True,
            enable_multithread=True,
        )
        try:
            opened = ws.recv()
            if not isinstance(opened, str) or not opened.startswith("0"):
                raise SocketError(f"unexpected open frame {opened[:80]!r}")
            info = orjson.loads(opened[1:])
            ws.send("40" + orjson.dumps(self._auth).decode())
            while True:
                frame = ws.recv()
                if not isinstance(frame, str) or frame == "":
                    raise SocketError("closed during the handshake")
                if frame.startswith("40"):
                    break
                if frame.startswith("44"):
                    raise ConnectRefused(frame[2:300])
                if frame == "2":
                    ws.send("3")
            # A silent server is a dead one: no ping within interval + timeout.
            ws.settimeout((info.get("pingInterval", 25000) + info.get("pingTimeout", 20000)) / 1e3)
        except BaseException:
            ws.close()
            raise
        self._ws = ws
        self.connected = True
        self._reader = gevent.spawn(self._read_loop)

    # --- sending ----------------------------------------------------------------------

    def emit(
        self, event: str, data: Any, callback: Callable[[Any], None] | None = None
    ) -> int | None:
        """Send an event; ``callback(ack_data)`` runs in the reader greenlet (with a
        :class:`SocketClosed` when the socket goes first). Returns the ack id."""
        ws = self._ws
        if ws is None or not self.connected:
            raise SocketClosed("not connected")
        body = orjson.dumps([event, data]).decode()
        if callback is None:
            ws.send("42" + body)
            return None
        self._next_id += 1
        ack_id = self._next_id
        self._acks[ack_id] = callback
        try:
            ws.send(f"42{ack_id}{body}")
        except BaseException:
            self._acks.pop(ack_id, None)
            raise
        return ack_id

    def call(self, event: str, data: Any, timeout: float = 5.0) -> tuple[Any, float]:
        """Emit and wait for the ack: ``(ack_data, milliseconds)``.

        Raises:
            AckTimeout: no ack within ``timeout`` seconds.
            SocketClosed: the socket closed first.
        """
        result: AsyncResult = AsyncResult()
        started = time.perf_counter()
        ack_id = self.emit(event, data, result.set)
        try:
            value = result.get(timeout=timeout)
        except gevent.Timeout:
            self._acks.pop(ack_id, None)
            raise AckTimeout(f"{event}: no ack within {timeout:g}s") from None
        if isinstance(value, SocketClosed):
            raise value
        return value, (time.perf_counter() - started) * 1000.0

    def close(self) -> None:
        """Close on purpose: ``on_close`` is told it was expected."""
        self._closing = True
        ws = self._ws
        if ws is not None and self.connected:
            with contextlib.suppress(Exception):
                ws.send("41")
            ws.close(timeout=1)
        if self._reader is not None and gevent.getcurrent() is not self._reader:
            self._reader.join(timeout=2)
        self._finish("closed by the client")

    # --- receiving --------------------------------------------------------------------

    def _read_loop(self) -> None:
        ws = self._ws
        assert ws is not None
        reason = "closed by the server"
        try:
            while True:
                frame = ws.recv()
                if not frame:
                    break
                if not isinstance(frame, str):
                    continue
                kind = frame[0]
                if kind == "4":
                    if not self._message(frame):
                        reason = "server disconnected the namespace"
                        break
                elif kind == "2":
                    ws.send("3")
                elif kind == "1":
                    break
        except websocket.WebSocketTimeoutException:
            reason = "no ping from the server"
        except Exception as exc:  # the transport failed; tell the owner why
            reason = f"{type(exc).__name__}: {exc}"
        finally:
            self._finish(reason)

    def _message(self, frame: str) -> bool:
        """Handle an Engine.IO message; False when the namespace was disconnected."""
        sio = frame[1:2]
        pos = 2
        if frame[pos : pos + 1] == "/":  # a namespace other than "/": not used by the hub
            pos = frame.index(",", pos) + 1
        start = pos
        while pos < len(frame) and frame[pos].isdigit():
            pos += 1
        ack_id = int(frame[start:pos]) if pos > start else None
        if sio == "2":
            items = orjson.loads(frame[pos:])
            self._on_event(items[0], items[1] if len(items) > 1 else None)
            if ack_id is not None and self._ws is not None:
                self._ws.send(f"43{ack_id}[]")
        elif sio == "3" and ack_id is not None:
            callback = self._acks.pop(ack_id, None)
            if callback is not None:
                items = orjson.loads(frame[pos:])
                callback(items[0] if items else None)
        elif sio == "1":
            return False
        return True

    def _finish(self, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        self.connected = False
        pending, self._acks = self._acks, {}
        error = SocketClosed(reason)
        for callback in pending.values():
            with contextlib.suppress(Exception):
                callback(error)
        if self._ws is not None:
            with contextlib.suppress(Exception):
                self._ws.close(timeout=0.5)
        self._on_close(self._closing, reason)
