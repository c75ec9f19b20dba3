"""The python-socketio server of the hub, attached to the aiohttp app."""

from __future__ import annotations

from typing import Any

import orjson
import socketio

from hub.engine.guard import GuardedServer


class OrjsonModule:
    """The ``json`` module python-socketio and python-engineio call, backed by orjson."""

    @staticmethod
    def dumps(obj: Any, *args: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(raw: str | bytes, *args: Any, **kwargs: Any) -> Any:
        return orjson.loads(raw)


def create_sio(
    manager: socketio.AsyncManager | None,
    cors_origins: tuple[str, ...],
    max_frame_bytes: int,
    ping_interval_s: float = 25,
    ping_timeout_s: float = 20,
    connect_timeout_s: float = 10,
    max_backlog_bytes: int = 1024 * 1024,
) -> GuardedServer:
    """An AsyncServer speaking Socket.IO v5 on websocket and long-polling.

    Origins are checked by the gateway at connect (so native apps without Origin work and
    the refusal carries the contract's error body); the engine only answers CORS for the
    hub's own and the listed origins, for the polling transport's requests.

    The server is :class:`hub.engine.guard.GuardedServer` (on :mod:`hub.engine.eio`): frames over
    ``max_frame_bytes`` close their client, sessions that do not complete the Socket.IO
    connect within ``connect_timeout_s`` are closed, and a client whose unsent backlog passes
    ``max_backlog_bytes`` (websocket) is disconnected.
    """
    return GuardedServer(
        client_manager=manager,
        json=OrjsonModule,
        allowed_origins=cors_origins,
        max_http_buffer_size=max_frame_bytes,
        ping_interval=ping_interval_s,
        ping_timeout=ping_timeout_s,
        # Events of one socket run in order: a location stream must not be reordered.
        async_handlers=False,
        logger=False,
        engineio_logger=False,
        connect_timeout=connect_timeout_s,
        max_backlog_bytes=max_backlog_bytes,
    )
