"""Feature context of chat: the actions, their socket events and REST twins' key.

Starts after the database. Registers ``chat:*`` on the gateway; the per-socket
``chat:send`` buckets are dropped with their sockets. On shutdown, the fan-outs in flight
finish before the database closes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from api import keys
from hub.chat.actions import Chat
from hub.chat.handlers import ChatEvents
from hub.core.buckets import TokenBuckets
from hub.trust.masking import ContactMasker

SEND_RATE_PER_S = 5.0
SEND_BURST = 10


async def chat_feature(app: web.Application) -> AsyncIterator[None]:
    # Contact details are hidden until the job is booked (hub/trust/masking.py).
    chat = Chat(
        app[keys.POOL],
        app[keys.NOTIFIER],
        app[keys.OUTBOX],
        mask_contacts=ContactMasker().mask,
    )
    app[keys.CHAT] = chat
    socket_events = ChatEvents(chat, TokenBuckets(SEND_RATE_PER_S, SEND_BURST))
    gateway = app[keys.GATEWAY]
    gateway.add_handlers(socket_events.handlers())
    gateway.on_disconnected(socket_events.forget)
    try:
        yield
    finally:
        await chat.close()
