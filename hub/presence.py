"""Who is online: a user is online while at least one of their sockets is connected.

Contract (both implementations): ``connect`` and ``disconnect`` are idempotent per
(user, socket); ``connect`` returns True when the user went from offline to online,
``disconnect`` True when their last socket left; ``online_among`` answers for a batch.
``MemoryPresence`` knows one node; ``hub.presence_redis.RedisPresence`` knows every node's
sockets: each entry is a lease the owning node renews, so a node that dies without
cleaning up stops counting within the lease (TTL, 30 s by default).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class Presence(Protocol):
    async def connect(self, user_id: str, sid: str) -> bool: ...

    async def disconnect(self, user_id: str, sid: str) -> bool: ...

    async def online_among(self, user_ids: Iterable[str]) -> set[str]: ...


class MemoryPresence:
    """Sockets per user on this process."""

    def __init__(self) -> None:
        self._sockets: dict[str, set[str]] = {}

    async def connect(self, user_id: str, sid: str) -> bool:
        sids = self._sockets.setdefault(user_id, set())
        was_offline = not sids
        sids.add(sid)
        return was_offline

    async def disconnect(self, user_id: str, sid: str) -> bool:
        sids = self._sockets.get(user_id)
        if not sids or sid not in sids:
            return False
        sids.discard(sid)
        if not sids:
            del self._sockets[user_id]
            return True
        return False

    async def online_among(self, user_ids: Iterable[str]) -> set[str]:
        return {u for u in user_ids if u in self._sockets}
