"""Settling payments: capture when due, release on cancellation, renewal of aging holds,
Stripe's answers applied, and the sweeper that retries what a dead node or an unreachable
Stripe left.

Stripe is called outside any transaction (a slow provider must not hold a connection or a
row lock). A capture is claimed in the payment's row first, so the job listener, a webhook's
follow-up and the sweepers of every node never call Stripe for it at once; the idempotency
key makes even a taken-over claim capture once.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from hub.core.errors import DomainError
from hub.jobs.store import Job
from hub.notifications.outbox import Outbox
from hub.payments import states, store
from hub.payments.calls import PaymentConfig, call, configured, key
from hub.payments.changes import Changes, announce, transition
from hub.payments.provider import Intent, IntentRequest, PaymentProvider
from hub.realtime import events
from hub.realtime.notify import Notifier

log = logging.getLogger(__name__)


class Settlement:
    """Capture, release and renewal of jobs' payments (``provider`` None: not configured)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        provider: PaymentProvider | None,
        notifier: Notifier,
        outbox: Outbox,
        config: PaymentConfig,
    ) -> None:
        self._pool = pool
        self._provider = provider
        self._notifier = notifier
        self._outbox = outbox
        self.config = config
        self._tasks: set[asyncio.Task[None]] = set()

    async def settle(self, job_id: str) -> None:
        """Capture the job's payment if it is due (completed after a seen arrival, or
        confirmed) and held; once: a claim in the row, and Stripe's idempotency key."""
        provider = configured(self._provider)
        async with self._pool.acquire() as conn:
            if not await store.capture_allowed(conn, job_id):
                return
            payment = await store.claim_capture(conn, job_id)
        if payment is None:
            return  # not held (yet), captured already, or another node is capturing
        try:
            intent = await call(
                provider.capture(
                    payment.intent_id, key("job", job_id, "capture", payment.generation)
                )
            )
        except DomainError:
            async with self._pool.acquire() as conn:
                await store.release_claim(conn, job_id)
            raise
        await self.apply_intent(intent)

    async def release(self, job_id: str) -> None:
        """The job was cancelled before capture: cancel the intent (the hold is released)."""
        provider = configured(self._provider)
        async with self._pool.acquire() as conn:
            payment = await store.payment_of(conn, job_id)
        if payment is None or payment.status not in states.HOLDING:
            return
        intent = await call(
            provider.cancel(payment.intent_id, key("job", job_id, "cancel", payment.generation))
        )
        await self.apply_intent(intent)

    async def renew(self, job_id: str) -> None:
        """Replace a hold close to its expiry: a new intent for the same amount (the app asks
        the customer for the card again), then the old one is cancelled."""
        provider = configured(self._provider)
        async with self._pool.acquire() as conn:
            payment = await store.payment_of(conn, job_id)
        if payment is None or payment.status != "authorized":
            return
        request = IntentRequest(
            payment.amount_cents,
            payment.currency,
            payment.fee_cents,
            payment.destination,
            job_id,
            payment.customer_id,
        )
        generation = payment.generation + 1
        intent = await call(
            provider.create_intent(request, key("job", job_id, "intent", generation))
        )
        changes = Changes()
        async with self._pool.acquire() as conn, conn.transaction():
            renewed = await store.replace_intent(
                conn, job_id, payment.generation, intent.id, intent.client_secret
            )
            if renewed is not None:
                # Not a move of the machine: a new intent starts where every intent starts.
                changes.payments.append(renewed)
                changes.pushes += await self._outbox.add(
                    conn,
                    events.PAYMENT_STATUS,
                    events.payment_status(job_id, renewed.status),
                    [renewed.customer_id],
                )
        if renewed is None:
            return  # another node renewed it
        log.info("payment hold renewed", extra={"job_id": job_id, "generation": generation})
        await announce(self._notifier, changes)
        # The old intent is no longer the payment's: its events find no row. Cancelling it
        # releases its hold now rather than at Stripe's expiry.
        await call(
            provider.cancel(payment.intent_id, key("job", job_id, "cancel", payment.generation))
        )

    async def apply_intent(self, intent: Intent) -> None:
        """An intent's state as Stripe answered it, applied to its payment (legal moves only)."""
        changes = Changes()
        async with self._pool.acquire() as conn, conn.transaction():
            payment = await store.payment_by_intent(conn, intent.id)
            if payment is None:
                return
            await transition(
                conn, self._outbox, changes, payment, states.from_intent(intent.status)
            )
        await announce(self._notifier, changes)

    # --- reacting to jobs, and the sweeper ----------------------------------------------

    async def on_job_status(self, job: Job) -> None:
        """A job status listener: capture on completion, release on cancellation. A failure
        is logged; the sweeper tries again."""
        if self._provider is None or job.status not in ("completed", "cancelled"):
            return
        try:
            if job.status == "completed":
                await self.settle(job.id)
            else:
                await self.release(job.id)
        except DomainError as exc:  # Stripe away or refusing: the sweeper tries again
            log.warning("payment follow-up failed", extra={"job_id": job.id, "error": exc.message})
        except Exception:
            log.exception("payment follow-up failed", extra={"job_id": job.id})

    def soon(self, job_id: str) -> None:
        """Try the capture in a task of ours (a webhook answers before Stripe is called)."""
        task = asyncio.create_task(self._settle_logged(job_id), name=f"payment settle {job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle_logged(self, job_id: str) -> None:
        try:
            await self.settle(job_id)
        except DomainError as exc:
            log.warning("payment capture failed", extra={"job_id": job_id, "error": exc.message})
        except Exception:
            log.exception("payment capture failed", extra={"job_id": job_id})

    async def sweep(self) -> int:
        """One round: capture what is due, release the holds of cancelled jobs, renew aging
        holds. Returns how many payments it acted on."""
        async with self._pool.acquire() as conn:
            due = await store.due_for_capture(conn)
            cancelled = await store.holding_for_cancelled_jobs(conn)
            aging = await store.aging_holds(conn, self.config.hold_renew_after_s)
        work = (
            [(self.settle, j) for j in due]
            + [(self.release, j) for j in cancelled]
            + [(self.renew, j) for j in aging if j not in due]
        )
        for action, job_id in work:
            try:
                await action(job_id)
            except Exception:
                log.warning("payment sweep step failed", extra={"job_id": job_id}, exc_info=True)
        return len(work)

    async def run(self) -> None:
        """The sweeper: a round every ``sweep_interval_s`` until cancelled."""
        while True:
            await asyncio.sleep(self.config.sweep_interval_s)
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("payment sweep failed")

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
