"""Batched writes of job breadcrumbs: the hot path appends, one task writes every second.

:meth:`BreadcrumbWriter.add` is synchronous and O(1). :meth:`BreadcrumbWriter.run` (a task
owned by the tracking feature) writes everything pending in one ``INSERT ... SELECT FROM
unnest(...)`` per interval, so 1,000 contractors at 1 Hz cost one statement a second. The
buffer is bounded: past ``max_pending`` rows (the database down for a while) the oldest are
dropped and counted. A failed write keeps its rows for the next attempt, within the bound.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

import asyncpg

from hub.tracking import store
from hub.tracking.store import CrumbRow

log = logging.getLogger(__name__)


class BreadcrumbWriter:
    """Buffers breadcrumb rows and writes them in batches.

    Args:
        pool: database pool.
        interval_s: time between two writes.
        max_pending: bound of the buffer, in rows.
    """

    def __init__(
        self, pool: asyncpg.Pool, interval_s: float = 1.0, max_pending: int = 200_000
    ) -> None:
        self._pool = pool
        self.interval_s = interval_s
        self.max_pending = max_pending
        self._pending: deque[CrumbRow] = deque()
        self._lock = asyncio.Lock()
        self.dropped = 0
        self.written = 0
        self.writes = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def add(self, row: CrumbRow) -> None:
        """Queue one row (hot path: never waits)."""
        pending = self._pending
        if len(pending) >= self.max_pending:
            pending.popleft()
            self.dropped += 1
        pending.append(row)

    async def flush(self) -> int:
        """Write everything pending now; return how many rows were written.

        Raises:
            Exception: the database error; the rows stay pending.
        """
        async with self._lock:
            if not self._pending:
                return 0
            rows = list(self._pending)
            self._pending.clear()
            try:
                async with self._pool.acquire() as conn:
                    await store.insert_breadcrumbs(conn, rows)
            except BaseException:
                self._requeue(rows)
                raise
            self.writes += 1
            self.written += len(rows)
            return len(rows)

    def _requeue(self, rows: list[CrumbRow]) -> None:
        # Older rows go back in front of what arrived meanwhile; past the bound the oldest go.
        room = self.max_pending - len(self._pending)
        keep = rows[-room:] if room > 0 else []
        self.dropped += len(rows) - len(keep)
        self._pending.extendleft(reversed(keep))

    async def run(self) -> None:
        """Flush every ``interval_s`` until cancelled; a failed write is logged and retried."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.flush()
            except Exception:
                log.exception("breadcrumb write failed", extra={"pending": self.pending})

    async def close(self, timeout_s: float = 5.0) -> None:
        """Write what is still pending (after the :meth:`run` task was cancelled)."""
        if not self._pending:
            return
        try:
            async with asyncio.timeout(timeout_s):
                await self.flush()
        except Exception:
            log.exception("breadcrumbs lost at shutdown", extra={"rows": self.pending})
