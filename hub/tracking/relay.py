"""``job:location`` on several nodes: a job's watchers may be connected to other nodes.

On one node the tracker broadcasts each point at once (``Notifier.job_location``). With
several nodes it hands the payload to :meth:`LocationRelay.offer` instead, which only keeps
it as its job's newest and wakes the relay task: still no await per point. The task sends
each pending payload with ``Notifier.job_location_all_nodes`` (the Socket.IO manager's
``publish_latest``: this node's watchers at once, the job room's bus channel for the nodes
that have watchers of it). While a publish is in flight, newer points replace older pending
ones of the same job: under load a watcher may skip intermediate points, never the newest
(the contract's latest-wins).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

PublishLatest = Callable[[str, dict[str, Any]], Awaitable[None]]
"""``(job_id, payload)``: ``job:location`` to the job's watchers on every node."""


class LocationRelay:
    """Sends fanned-out ``job:location`` payloads to every node, latest-wins per job.

    Args:
        publish: ``Notifier.job_location_all_nodes``.
    """

    def __init__(self, publish: PublishLatest) -> None:
        self._publish = publish
        self._pending: dict[str, dict[str, Any]] = {}
        self._wake = asyncio.Event()
        self.published = 0
        self.superseded = 0
        self.delivered = 0  # job:location written to this node's watchers (any node's points)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def offer(self, job_id: str, payload: dict[str, Any]) -> None:
        """Queue ``payload`` as its job's newest (hot path: never waits)."""
        if job_id in self._pending:
            self.superseded += 1
        self._pending[job_id] = payload
        self._wake.set()

    async def run(self) -> None:
        """Publish pending payloads as they come, until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                job_id, payload = next(iter(self._pending.items()))
                del self._pending[job_id]
                try:
                    await self._publish(job_id, payload)
                    self.published += 1
                except Exception:  # latest-wins: the job's next point replaces this one
                    log.exception("location relay publish failed", extra={"job_id": job_id})
