"""The push worker: every node runs one; together they drain the outbox exactly once.

A round claims due outbox rows with ``FOR UPDATE SKIP LOCKED`` inside a transaction, sends
them, records each outcome and commits: while a node holds rows no other node can take
them, and a node that dies mid-round releases them (its transaction aborts) for another to
send. A push therefore reaches a device once, except when a node dies after the push
service accepted a push and before its commit; the collapse key makes such a repeat replace
the first on the device rather than add to it.

Within a round, rows for the same device and collapse key (a burst of messages in one
conversation queued while the worker was busy or the service was down) are sent as one:
the newest. Failures follow FCM's guidance (outcomes of :class:`hub.notifications.push.Result`):
a dead token is deleted with its queued pushes; an unavailable, overloaded or failing
service is retried with exponential backoff and jitter, never sooner than its Retry-After,
and the node pauses and probes with one push until the service answers again; a row that
has used its attempts is marked failed. The drain rate is bounded (``rate_per_s``), so a
storm after an outage neither floods the service nor starves the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from hub.notifications import store
from hub.notifications.content import render
from hub.notifications.push import Outcome, Push, PushSender, Result
from hub.notifications.store import Due, OutboxStats

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Tuning of the push worker (from the settings; defaults suit one node)."""

    batch_size: int = 100
    rate_per_s: float = 500.0
    max_attempts: int = 10
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 600.0
    pause_cap_s: float = 30.0  # FCM back after a long outage: noticed within this
    poll_s: float = 1.0
    ttl_s: float = 3600.0  # a push older than this is dropped unsent (FCM would drop it too)
    stats_every_s: float = 5.0


class PushWorker:
    """Drains the push outbox of the shared database through ``sender``.

    Args:
        pool: the database.
        sender: the push service.
        config: batch size, rate, attempts, backoff.
        jitter: a random factor in [0, 1); injected by tests that need fixed delays.
        clock: monotonic seconds.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        sender: PushSender,
        config: WorkerConfig = WorkerConfig(),
        *,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._sender = sender
        self._config = config
        self._jitter = jitter
        self._clock = clock
        self._wake = asyncio.Event()
        self._paused_until = 0.0
        self._failures_in_a_row = 0  # rounds that met a retryable failure
        self._stats_at = float("-inf")
        self.stats = OutboxStats(0, 0, 0.0)
        # Counters exported by the metrics (api/features/push.py).
        self.sent = 0
        self.failed = 0
        self.retried = 0
        self.pruned = 0
        self.collapsed = 0
        self.expired = 0

    def wake(self) -> None:
        """Pushes were queued by a commit on this node: start a round now."""
        self._wake.set()

    async def run(self) -> None:
        """Rounds until cancelled; a failing round (the database away) is logged and
        retried after a capped backoff."""
        errors = 0
        while True:
            try:
                await self._refresh_stats()
                pause = self._paused_until - self._clock()
                if pause > 0:
                    await asyncio.sleep(pause)
                probing = self._failures_in_a_row > 0
                sent = await self.round(1 if probing else self._config.batch_size)
                errors = 0
                if sent == 0:
                    await self._idle()
            except asyncio.CancelledError:
                raise
            except Exception:
                errors += 1
                log.exception("push round failed")
                await asyncio.sleep(min(self._config.pause_cap_s, 0.5 * 2**errors))

    async def _idle(self) -> None:
        try:
            async with asyncio.timeout(self._config.poll_s):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def _refresh_stats(self) -> None:
        now = self._clock()
        if now - self._stats_at >= self._config.stats_every_s:
            self._stats_at = now
            async with self._pool.acquire() as conn:
                self.stats = await store.stats(conn)

    async def round(self, limit: int) -> int:
        """Claim, send and record up to ``limit`` due pushes; returns how many rows were
        claimed (0 when nothing was due). Waits afterwards as long as the rate asks."""
        self._wake.clear()
        started = self._clock()
        async with self._pool.acquire() as conn, conn.transaction():
            due = await store.claim(conn, limit)
            if not due:
                return 0
            # Too old to matter, or for a user who no longer holds the device: not sent.
            fresh = [d for d in due if d.age_s < self._config.ttl_s and d.owned]
            expired = [d.id for d in due if d.age_s >= self._config.ttl_s or not d.owned]
            keep, superseded = _collapse(fresh)
            self.expired += len(expired)
            self.collapsed += len(superseded)
            pushes, unreadable = _pushes(keep)
            sendable = [d for d in keep if d.id not in unreadable]
            try:
                results = await self._sender.send(pushes)
            except Exception as exc:  # a sender bug must not lose the rows: retry them
                log.exception("push sender failed")
                results = [Result(Outcome.RETRY, f"sender error: {exc!r}")] * len(pushes)
            # A row that cannot be rendered fails alone (it would fail every round).
            rows = sendable + [d for d in keep if d.id in unreadable]
            results += [Result(Outcome.FAIL, unreadable[d.id]) for d in keep if d.id in unreadable]
            dead = await self._record(conn, rows, [d.id for d in superseded] + expired, results)
        if dead:
            # After the commit, holding no row: deleting a device cascades to its queued
            # rows, which another node may hold; waiting for them must not hold ours.
            async with self._pool.acquire() as conn:
                self.pruned += await store.delete_tokens(conn, dead)
        # Pace outside the transaction: n pushes take at least n / rate seconds.
        rest = len(keep) / self._config.rate_per_s - (self._clock() - started)
        if rest > 0:
            await asyncio.sleep(rest)
        return len(due)

    async def _record(
        self, conn: asyncpg.Connection, keep: list[Due], done: list[int], results: list[Result]
    ) -> list[str]:
        """Record the outcomes of ``keep``; ``done`` are rows to delete unsent (collapsed,
        expired, disowned). Returns the tokens to delete."""
        sent = 0
        dead: list[str] = []
        retries: list[tuple[int, float, str]] = []
        failures: list[tuple[int, str]] = []
        retry_after = 0.0
        for row, result in zip(keep, results, strict=True):
            if result.outcome is Outcome.SENT:
                sent += 1
                done.append(row.id)
            elif result.outcome is Outcome.DROP_TOKEN:
                dead.append(row.token)
                done.append(row.id)
            elif result.outcome is Outcome.RETRY and row.attempts + 1 < self._config.max_attempts:
                retry_after = max(retry_after, result.retry_after_s or 0.0)
                retries.append((row.id, self._row_delay(row.attempts, result), result.error))
            else:
                failures.append((row.id, result.error or result.outcome.value))
        await store.delete_rows(conn, done)
        await store.reschedule(conn, retries)
        await store.mark_failed(conn, failures)
        self.sent += sent
        self.retried += len(retries)
        self.failed += len(failures)
        if failures:
            log.warning("pushes failed for good", extra={"count": len(failures)})
        if retries:
            self._failures_in_a_row += 1
            pause = self._backoff(self._failures_in_a_row - 1, self._config.pause_cap_s)
            self._paused_until = self._clock() + max(pause, retry_after)
            log.info(
                f"push service unavailable ({retries[0][2]}); pausing",
                extra={"pause_s": round(max(pause, retry_after), 2), "retries": len(retries)},
            )
        elif keep:
            self._failures_in_a_row = 0
        return sorted(set(dead))

    def _row_delay(self, attempts: int, result: Result) -> float:
        delay = self._backoff(attempts, self._config.backoff_cap_s)
        return max(delay, result.retry_after_s or 0.0)

    def _backoff(self, attempt: int, cap: float) -> float:
        """Exponential from the base, capped, with jitter over its upper half."""
        delay = min(cap, self._config.backoff_base_s * 2.0 ** min(attempt, 30))
        return float(delay * (0.5 + self._jitter() / 2))


def _pushes(rows: list[Due]) -> tuple[list[Push], dict[int, str]]:
    """The push of each row, and the rows whose stored payload could not be rendered."""
    pushes: list[Push] = []
    unreadable: dict[int, str] = {}
    for row in rows:
        try:
            pushes.append(Push(row.token, row.platform, render(row.kind, row.payload, row.subject)))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.error("unreadable notification payload", extra={"outbox_id": row.id})
            unreadable[row.id] = f"unreadable payload: {exc!r}"
    return pushes, unreadable


def _collapse(due: list[Due]) -> tuple[list[Due], list[Due]]:
    """The newest row per (device, collapse key), and the older rows it supersedes."""
    newest: dict[tuple[str, str], Due] = {}
    for row in due:
        key = (row.token, row.collapse_key)
        current = newest.get(key)
        if current is None or row.id > current.id:
            newest[key] = row
    keep = sorted(newest.values(), key=lambda r: r.id)
    kept = {r.id for r in keep}
    return keep, [r for r in due if r.id not in kept]
