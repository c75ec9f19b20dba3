"""Cut tokens at once on every node: the per-user token generation, followed across nodes.

PostgreSQL holds the truth (``users.token_gen``, raised by a suspension). Each node keeps the
generation of every user whose tokens were ever cut (few), so checking a token costs a dict
lookup and no round trip (:meth:`Revocations.is_revoked`, plugged into the token codec).

How a change reaches every node:

1. the action commits, then calls :meth:`Revocations.cut`: this node applies it at once
   (its REST calls refuse the old tokens before the admin's request returns), then it is
   published on the bus; every other node applies it when the message arrives (a Redis
   round trip);
2. the bus is at-most-once, so each node also polls the database every ``poll_s`` for
   generations changed since its last look (an index on ``token_gen_changed_at``): a node
   that missed the message catches up within ``poll_s``.

Applying a higher generation runs the ``on_cut`` hooks (the trust feature's: tell this
node's sockets of the user why, then disconnect them). Generations only grow, so a message
arriving late or twice changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

import asyncpg
import msgspec

from hub.engine.bus import Bus, Subscription

log = logging.getLogger(__name__)

CHANNEL = "trust:revocations"

CutHook = Callable[[str, str], Awaitable[None]]  # (user_id, reason)


class Cut(msgspec.Struct, frozen=True):
    user_id: str
    gen: int
    reason: str = "suspended"


class Revocations:
    """This node's view of cut token generations.

    Args:
        bus: the nodes' bus.
        poll_s: how often the database is read for changes the bus may have lost.
    """

    def __init__(self, bus: Bus, poll_s: float = 2.0) -> None:
        self._bus = bus
        self.poll_s = poll_s
        self._gens: dict[str, int] = {}
        self._hooks: list[CutHook] = []
        self._subscription: Subscription | None = None
        self._since: datetime | None = None
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(Cut)

    def is_revoked(self, user_id: str, gen: int) -> bool:
        """True when tokens of generation ``gen`` of the user were cut."""
        return gen < self._gens.get(user_id, 0)

    def on_cut(self, hook: CutHook) -> None:
        self._hooks.append(hook)

    async def load(self, conn: asyncpg.Connection) -> None:
        """Read every cut generation (at start, and by :meth:`poll` since the last look)."""
        rows = await conn.fetch(
            """
            SELECT id, token_gen, token_gen_changed_at FROM users
            WHERE token_gen_changed_at IS NOT NULL
              AND ($1::timestamptz IS NULL OR token_gen_changed_at >= $1 - interval '1 minute')
            ORDER BY token_gen_changed_at
            """,
            self._since,
        )
        for row in rows:
            await self.apply(Cut(row["id"], row["token_gen"]))
        if rows:
            # A minute back, not from the newest row: now() is its transaction's start, so a
            # change committed late can carry an older time than one already read. Reading a
            # row again is harmless (generations only grow).
            self._since = rows[-1]["token_gen_changed_at"]

    async def apply(self, cut: Cut) -> bool:
        """Raise this node's generation of the user; True (and hooks run) when it grew."""
        if cut.gen <= self._gens.get(cut.user_id, 0):
            return False
        self._gens[cut.user_id] = cut.gen
        for hook in self._hooks:
            try:
                await hook(cut.user_id, cut.reason)
            except Exception:
                log.exception("revocation hook failed", extra={"user_id": cut.user_id})
        return True

    async def cut(self, user_id: str, gen: int, reason: str) -> None:
        """After the commit that raised the generation: here at once, then every node."""
        cut = Cut(user_id, gen, reason)
        await self.apply(cut)
        await self._bus.publish(CHANNEL, self._encoder.encode(cut))

    async def start(self, pool: asyncpg.Pool) -> None:
        # Subscribe before loading, so nothing committed in between is missed.
        self._subscription = await self._bus.subscribe(CHANNEL, self._on_message)
        async with pool.acquire() as conn:
            await self.load(conn)

    async def poll(self, pool: asyncpg.Pool) -> None:
        """Read the database every ``poll_s`` until cancelled (the bus may lose messages)."""
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                async with pool.acquire() as conn:
                    await self.load(conn)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("revocation poll failed")

    async def close(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()
            self._subscription = None

    async def _on_message(self, message: bytes) -> None:
        await self.apply(self._decoder.decode(message))
