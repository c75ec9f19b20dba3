"""The transactional outbox: an event's notifications are written with the event.

Actions call :meth:`Outbox.add` inside the transaction that stores the chat message, the
job status change or the offer, so a committed event always has its notifications (and
their queued pushes) even when the node dies right after the commit; the push worker of
any node sends them (:mod:`hub.notifications.worker`). After the commit the action tells
the ``Notifier``, which wakes this node's worker so the push leaves at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import asyncpg

from hub.notifications import store
from hub.notifications.content import collapse_key
from hub.realtime.presence import Presence


class Outbox:
    """Writes notifications for users with no socket on any node.

    Args:
        presence: the cross-node presence; asked inside the transaction, just before the
            commit, which recipients have a socket anywhere (they get the socket event).
    """

    def __init__(self, presence: Presence) -> None:
        self._presence = presence

    async def add(
        self,
        conn: asyncpg.Connection,
        kind: str,
        payload: dict[str, Any],
        user_ids: Iterable[str],
    ) -> int:
        """Store ``kind``/``payload`` for each offline user of ``user_ids`` and queue a push
        to each of their devices, on ``conn`` (in the caller's transaction).

        Returns how many pushes were queued (0: nothing for the worker to do).
        """
        wanted = list(dict.fromkeys(user_ids))
        if not wanted:
            return 0
        online = await self._presence.online_among(wanted)
        offline = [u for u in wanted if u not in online]
        if not offline:
            return 0
        return await store.enqueue(conn, offline, kind, payload, collapse_key(kind, payload))
