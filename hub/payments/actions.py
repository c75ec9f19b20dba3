"""Payments' actions: onboarding, a job's payment, confirmation, capture, release, refunds,
hold renewal, and the sweeper that retries what a dead node or an unreachable Stripe left.

Stripe is called outside any transaction (a slow provider must not hold a connection or a
row lock), except for refunds, which are rare and admin-only and hold the payment's row so
two refunds never compute from the same total. Every change to a payment goes through
:func:`hub.payments.changes.transition` (legal moves only), in a transaction that also
queues the offline parties' pushes; ``payment:status`` is emitted after the commit.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

import asyncpg

from hub.core.errors import Conflict, DomainError, Forbidden, NotFound, Unavailable, field_error
from hub.jobs import store as jobs_store
from hub.jobs.status import party_of, visible_job
from hub.jobs.store import Job
from hub.notifications.outbox import Outbox
from hub.payments import states, store
from hub.payments.changes import Changes, announce, transition
from hub.payments.provider import (
    Intent,
    IntentRequest,
    PaymentProvider,
    ProviderRefused,
    ProviderUnavailable,
)
from hub.payments.store import ConnectAccount, Payment
from hub.realtime.notify import Notifier
from hub.trust import audit

log = logging.getLogger(__name__)

T = TypeVar("T")

NOT_CONFIGURED = "payments are not configured on this hub (no STRIPE_SECRET_KEY)"


class ContractorNotPayable(DomainError):
    code = "contractor_not_payable"


@dataclass(frozen=True)
class PaymentConfig:
    fee_bps: int  # the platform's fee, in basis points of the amount
    hold_renew_after_s: float  # an authorisation older than this is renewed (not yet due)
    sweep_interval_s: float  # how often the sweeper looks for work


def key(*parts: object) -> str:
    """An idempotency key derived from what is done to what: ``tradeshub:job:j_1:capture:1``."""
    return ":".join(["tradeshub", *(str(p) for p in parts)])


class Payments:
    """Payments of jobs through a :class:`PaymentProvider` (None: not configured, every
    action answers ``unavailable``)."""

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

    @property
    def configured(self) -> bool:
        return self._provider is not None

    def provider(self) -> PaymentProvider:
        if self._provider is None:
            raise Unavailable(NOT_CONFIGURED)
        return self._provider

    # --- onboarding ---------------------------------------------------------------------

    async def onboard(self, user_id: str, role: str) -> tuple[ConnectAccount, str]:
        """The contractor's Express account (created on the first call, once: Stripe's
        idempotency gives concurrent first calls the same account) and a fresh link."""
        provider = self.provider()
        if role != "contractor":
            raise Forbidden("only contractor accounts are paid out")
        async with self._pool.acquire() as conn:
            stored = await store.account_of(conn, user_id)
            email = await conn.fetchval("SELECT email FROM users WHERE id = $1", user_id)
        if stored is None:
            created = await _call(
                provider.create_account(user_id, str(email), key("contractor", user_id, "account"))
            )
            async with self._pool.acquire() as conn:
                stored = await store.keep_account(conn, user_id, created)
        # A link is good for minutes and each call wants a new one: the key is per call
        # (a library retry of this call reuses it).
        url = await _call(
            provider.onboarding_link(
                stored.account_id, key("contractor", user_id, "link", secrets.token_hex(8))
            )
        )
        return stored, url

    async def connect_status(self, user_id: str, role: str) -> ConnectAccount | None:
        """The contractor's account as last heard; fetched from Stripe while not yet able
        to take charges (an ``account.updated`` may not have arrived yet)."""
        provider = self.provider()
        if role != "contractor":
            raise Forbidden("only contractor accounts are paid out")
        async with self._pool.acquire() as conn:
            stored = await store.account_of(conn, user_id)
        if stored is None or stored.charges_enabled:
            return stored
        try:
            fetched = await _call(provider.account(stored.account_id))
        except Unavailable:
            return stored  # what we know is still an answer
        async with self._pool.acquire() as conn:
            await store.update_account(conn, fetched, None)
            return await store.account_of(conn, user_id)

    # --- a job's payment ----------------------------------------------------------------

    async def start(self, job_id: str, user_id: str, role: str) -> tuple[Payment, bool]:
        """The job's PaymentIntent, created on the first call (``True``), the same one after."""
        provider = self.provider()
        async with self._pool.acquire() as conn:
            job = await visible_job(conn, job_id, user_id, role)
            if job.customer_id != user_id:
                raise Forbidden("only the job's customer pays for it")
            _payable(job)
            existing = await store.payment_of(conn, job_id)
            if existing is not None:
                return existing, False
            assert job.contractor_id is not None  # _payable checked
            quote = await store.accepted_quote(conn, job_id)
            account = await store.account_of(conn, job.contractor_id)
        if quote is None or quote <= 0:
            raise Conflict("the job has no accepted quote to pay", {"status": job.status})
        if account is None or not account.charges_enabled:
            raise ContractorNotPayable("the contractor cannot take payments yet (onboarding)")
        fee = states.fee_of(quote, self.config.fee_bps)
        request = IntentRequest(
            quote, job.currency, fee, account.account_id, job.id, job.customer_id
        )
        intent = await _call(provider.create_intent(request, key("job", job_id, "intent", 1)))
        async with self._pool.acquire() as conn:
            return await store.insert_payment(
                conn,
                job_id,
                intent.id,
                intent.client_secret,
                job.customer_id,
                job.contractor_id,
                account.account_id,
                quote,
                job.currency,
                fee,
            )

    async def get(self, job_id: str, user_id: str, role: str) -> Payment:
        async with self._pool.acquire() as conn:
            job = await visible_job(conn, job_id, user_id, role)
            if party_of(job, user_id, role) is None:
                raise Forbidden("only the job's customer, its contractor or an admin")
            payment = await store.payment_of(conn, job_id)
        if payment is None:
            raise NotFound("the job has no payment yet")
        return payment

    async def confirm(self, job_id: str, user_id: str, role: str) -> Payment:
        """The customer says the work was done: capture now (or once the card is held)."""
        self.provider()
        async with self._pool.acquire() as conn, conn.transaction():
            job = await visible_job(conn, job_id, user_id, role)
            if job.customer_id != user_id:
                raise Forbidden("only the job's customer confirms the work")
            payment = await store.payment_of(conn, job_id, for_update=True)
            if payment is None:
                raise NotFound("the job has no payment yet")
            if job.status == "cancelled" or payment.status == "cancelled":
                raise Conflict("the job or its payment was cancelled", {"status": payment.status})
            await store.confirm(conn, job_id)
        await self.settle(job_id)
        return await self.get(job_id, user_id, role)

    async def refund(
        self, job_id: str, admin_id: str, amount: int | None, request_id: str | None
    ) -> Payment:
        """An admin's refund, all of what is left when ``amount`` is None."""
        provider = self.provider()
        changes = Changes()
        async with self._pool.acquire() as conn, conn.transaction():
            if await jobs_store.job_by_id(conn, job_id) is None:
                raise NotFound("no such job")
            payment = await store.payment_of(conn, job_id, for_update=True)
            if payment is None:
                raise NotFound("the job has no payment")
            if payment.status not in ("captured", "partially_refunded"):
                raise Conflict(
                    f"a {payment.status} payment cannot be refunded", {"status": payment.status}
                )
            left = payment.amount_cents - payment.refunded_cents
            amount = left if amount is None else amount
            if not 0 < amount <= left:
                raise field_error("amount_cents", f"between 1 and {left}")
            # Derived from the total before: a retried request is the same refund, a later
            # one (after this one counted) another.
            refund_key = key("job", job_id, "refund", payment.refunded_cents, amount)
            refunded = await _call(provider.refund(payment.intent_id, amount, refund_key))
            total = payment.refunded_cents + refunded
            payment = await transition(
                conn,
                self._outbox,
                changes,
                payment,
                states.after_refund(payment.amount_cents, total),
                refunded_cents=total,
                actor_id=admin_id,
            )
            await audit.record(
                conn,
                admin_id,
                audit.PAYMENT_REFUNDED,
                "job",
                job_id,
                request_id,
                {"amount_cents": refunded, "refunded_cents": total, "intent": payment.intent_id},
            )
        await announce(self._notifier, changes)
        return payment

    # --- capture, release, renewal ------------------------------------------------------

    async def settle(self, job_id: str) -> None:
        """Capture the job's payment if it is due (completed after a seen arrival, or
        confirmed) and held; once: a claim in the row, and Stripe's idempotency key."""
        provider = self.provider()
        async with self._pool.acquire() as conn:
            if not await store.capture_allowed(conn, job_id):
                return
            payment = await store.claim_capture(conn, job_id)
        if payment is None:
            return  # not held (yet), captured already, or another node is capturing
        try:
            intent = await _call(
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
        provider = self.provider()
        async with self._pool.acquire() as conn:
            payment = await store.payment_of(conn, job_id)
        if payment is None or payment.status not in states.HOLDING:
            return
        intent = await _call(
            provider.cancel(payment.intent_id, key("job", job_id, "cancel", payment.generation))
        )
        await self.apply_intent(intent)

    async def renew(self, job_id: str) -> None:
        """Replace a hold close to its expiry: a new intent for the same amount (the app asks
        the customer for the card again), then the old one is cancelled."""
        provider = self.provider()
        async with self._pool.acquire() as conn:
            payment = await store.payment_of(conn, job_id)
            destination = await conn.fetchval(
                "SELECT destination FROM payments WHERE job_id = $1", job_id
            )
        if payment is None or payment.status != "authorized":
            return
        request = IntentRequest(
            payment.amount_cents,
            payment.currency,
            payment.fee_cents,
            str(destination),
            job_id,
            payment.customer_id,
        )
        generation = payment.generation + 1
        intent = await _call(
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
                    "payment:status",
                    {"job_id": job_id, "status": renewed.status},
                    [renewed.customer_id],
                )
        if renewed is None:
            return  # another node renewed it
        log.info("payment hold renewed", extra={"job_id": job_id, "generation": generation})
        await announce(self._notifier, changes)
        # The old intent is no longer the payment's: its events find no row. Cancelling it
        # releases its hold now rather than at Stripe's expiry.
        await _call(
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


def _payable(job: Job) -> None:
    if job.status == "cancelled":
        raise Conflict("the job was cancelled", {"status": job.status})
    if job.status == "open" or job.contractor_id is None:
        raise Conflict("the job is not assigned yet", {"status": job.status})


async def _call(call: Awaitable[T]) -> T:
    """A provider call, its failures as the contract's errors (nothing was stored yet)."""
    try:
        return await call
    except ProviderUnavailable as exc:
        raise Unavailable("the payment provider is unavailable; try again shortly") from exc
    except ProviderRefused as exc:
        raise Conflict(f"the payment provider refused the request: {exc}") from exc
