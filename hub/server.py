"""The python-socketio server of the hub, attached to the aiohttp app."""

from __future__ import annotations

from typing import Any

import orjson
import socketio


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
) -> socketio.AsyncServer:
    """An AsyncServer speaking Socket.IO v5 on websocket and long-polling.

    Origins are checked by the gateway at connect (so native apps without Origin work and
    the refusal carries the contract's error body); engine.io's own CORS check is relaxed
    to the listed origins for the polling transport's preflights.
    """
    return socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        json=OrjsonModule,
        cors_allowed_origins=list(cors_origins) or [],
        max_http_buffer_size=max_frame_bytes,
        ping_interval=ping_interval_s,
        ping_timeout=ping_timeout_s,
        # Events of one socket run in order: a location stream must not be reordered.
        async_handlers=False,
        logger=False,
        engineio_logger=False,
    )
