"""Who is online: a user is online while at least one of their sockets is connected.

Contract (both implementations): ``connect`` and ``disconnect`` are idempotent per
(user, socket); ``connect`` returns True when the user went from offline to online,
``disconnect`` True when their last socket left; ``online_among`` answers for a batch.
``MemoryPresence`` knows one node; ``hub.realtime.presence_redis.RedisPresence`` knows every node's
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

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class MemoryPresence:
    """Sockets per user on this process.

    A user's only socket is kept as its sid, a set only from the second one on: most users
    have one socket, and an empty set costs ~0.2 KB per connected user.
    """

    def __init__(self) -> None:
        self._sockets: dict[str, str | set[str]] = {}

    async def connect(self, user_id: str, sid: str) -> bool:
        held = self._sockets.get(user_id)
        if held is None:
            self._sockets[user_id] = sid
            return True
        if isinstance(held, str):
            if held != sid:
                self._sockets[user_id] = {held, sid}
        else:
            held.add(sid)
        return False

    async def disconnect(self, user_id: str, sid: str) -> bool:
        held = self._sockets.get(user_id)
        if held is None:
            return False
        if isinstance(held, str):
            if held != sid:
                return False
            del self._sockets[user_id]
            return True
        if sid not in held:
            return False
        held.discard(sid)
        if len(held) == 1:
            self._sockets[user_id] = held.pop()
        return False

    async def online_among(self, user_ids: Iterable[str]) -> set[str]:
        return {u for u in user_ids if u in self._sockets}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None
