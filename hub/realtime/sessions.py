"""What follows a socket's life: presence, and the end of expired credentials.

* :class:`PresenceFeed` records each user socket in :class:`hub.realtime.presence.Presence` and
  tells the user's conversation partners when the user comes online (first socket) or goes
  offline (last socket gone and not back within ``offline_grace_s``, so a quick reconnect
  does not flap).
* :class:`ExpirySweeper` disconnects sockets whose credentials expired more than
  ``grace_s`` ago without an ``auth:refresh``, after sending them ``auth:expired``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from hub.chat import store as chat_store
from hub.realtime.gateway import Gateway, Identity
from hub.realtime.notify import Notifier
from hub.realtime.presence import Presence

log = logging.getLogger(__name__)


class PresenceFeed:
    """Gateway connect/disconnect hooks keeping presence and announcing changes.

    Args:
        presence: who is online (memory or Redis).
        pool: the database, for the user's conversation partners.
        notifier: the only emitter.
        offline_grace_s: how long a user with no socket still counts as online for the
            ``presence`` events.
    """

    def __init__(
        self,
        presence: Presence,
        pool: asyncpg.Pool,
        notifier: Notifier,
        offline_grace_s: float = 2.0,
    ) -> None:
        self._presence = presence
        self._pool = pool
        self._notifier = notifier
        self._grace = offline_grace_s
        self._leaving: dict[str, asyncio.Task[None]] = {}  # user -> pending offline notice

    async def connected(self, identity: Identity) -> None:
        user = identity.user_id
        if user is None:
            return
        came_online = await self._presence.connect(user, identity.sid)
        leaving = self._leaving.pop(user, None)
        if leaving is not None:
            leaving.cancel()  # back within the grace: partners never saw the user leave
            return
        if came_online:
            await self._announce(user, True)

    async def disconnected(self, identity: Identity) -> None:
        user = identity.user_id
        if user is None:
            return
        if await self._presence.disconnect(user, identity.sid) and user not in self._leaving:
            # Leaves _leaving by itself after the grace, or is popped and cancelled by a
            # reconnect or by close().
            self._leaving[user] = asyncio.create_task(self._offline_after_grace(user))

    async def _offline_after_grace(self, user: str) -> None:
        await asyncio.sleep(self._grace)
        self._leaving.pop(user, None)  # from here on, a reconnect is a new "online"
        try:
            if not await self._presence.online_among([user]):
                await self._announce(user, False)
        except Exception:
            log.exception("presence notice failed", extra={"user_id": user})

    async def _announce(self, user: str, online: bool) -> None:
        async with self._pool.acquire() as conn:
            partners = await chat_store.partners(conn, user)
        if partners:
            await self._notifier.presence(user, online, partners)

    async def close(self) -> None:
        """Cancel pending offline notices (the node is stopping)."""
        tasks = list(self._leaving.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._leaving.clear()


class ExpirySweeper:
    """Ends sockets whose credentials expired ``grace_s`` ago and were not refreshed.

    Args:
        gateway: the local sockets and their identities.
        clock: the token codec's clock (seconds since the epoch).
        notifier: sends ``auth:expired`` to the socket first.
        drop: disconnects a socket for good (``GuardedServer.drop``).
        grace_s: how long past expiry a socket may stay, to let a refresh arrive.
        interval_s: how often the sockets are checked.
    """

    def __init__(
        self,
        gateway: Gateway,
        clock: Callable[[], float],
        notifier: Notifier,
        drop: Callable[[str], Awaitable[None]],
        grace_s: float,
        interval_s: float,
    ) -> None:
        self._gateway = gateway
        self._clock = clock
        self._notifier = notifier
        self._drop = drop
        self.grace_s = grace_s
        self.interval_s = interval_s

    async def sweep(self) -> int:
        """Disconnect every expired socket now; return how many."""
        deadline = self._clock() - self.grace_s
        expired = [i.sid for i in self._gateway.identities.values() if i.expires_at <= deadline]
        for sid in expired:
            identity = self._gateway.identities.get(sid)
            if identity is None or identity.expires_at > deadline:
                continue  # left or refreshed meanwhile
            await self._notifier.auth_expired(sid)
            await self._drop(sid)
        return len(expired)

    async def run(self) -> None:
        """Sweep every ``interval_s`` until cancelled."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                count = await self.sweep()
            except Exception:
                log.exception("expiry sweep failed")
                continue
            if count:
                log.info("disconnected sockets with expired credentials", extra={"count": count})
