"""Feature context of socket sessions: presence and the end of expired credentials.

Starts after the database. Hooks :class:`hub.realtime.sessions.PresenceFeed` into the gateway's
connect/disconnect and runs the :class:`hub.realtime.sessions.ExpirySweeper` task, cancelled and
awaited on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from api import keys
from hub.realtime.sessions import ExpirySweeper, PresenceFeed

OFFLINE_GRACE_S = 2.0


def expiry_grace_s(access_ttl_s: float) -> float:
    """How long past expiry a socket may wait for its ``auth:refresh``: a quarter of the
    access token's life, at most 10 s (so short-lived test tokens get a short grace)."""
    return min(10.0, access_ttl_s / 4)


async def realtime_feature(app: web.Application) -> AsyncIterator[None]:
    sio = app[keys.SIO]
    gateway = app[keys.GATEWAY]
    notifier = app[keys.NOTIFIER]
    tokens = app[keys.TOKENS]

    feed = PresenceFeed(app[keys.PRESENCE], app[keys.POOL], notifier, OFFLINE_GRACE_S)
    gateway.on_connected(feed.connected)
    gateway.on_disconnected(feed.disconnected)

    grace = expiry_grace_s(tokens.access_ttl_s)
    sweeper = ExpirySweeper(
        gateway, tokens.now, notifier, sio.drop, grace_s=grace, interval_s=min(1.0, grace / 2)
    )
    task = asyncio.create_task(sweeper.run(), name="expiry-sweeper")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await feed.close()
