"""Payments' actions: onboarding, a job's payment, confirmation, refunds (capture, release
and renewal: :mod:`hub.payments.settlement`).

Stripe is called outside any transaction (a slow provider must not hold a connection or a
row lock), except for refunds, which are rare and admin-only and hold the payment's row so
two refunds never compute from the same total. Every change to a payment goes through
:func:`hub.payments.changes.transition` (legal moves only), in a transaction that also
queues the offline parties' pushes; ``payment:status`` is emitted after the commit.
"""

from __future__ import annotations

import secrets

import asyncpg

from hub.core.errors import Conflict, DomainError, Forbidden, NotFound, Unavailable, field_error
from hub.jobs import store as jobs_store
from hub.jobs.status import party_of, visible_job
from hub.jobs.store import Job
from hub.notifications.outbox import Outbox
from hub.payments import states, store
from hub.payments.calls import PaymentConfig, call, configured, key
from hub.payments.changes import Changes, announce, transition
from hub.payments.provider import IntentRequest, PaymentProvider
from hub.payments.settlement import Settlement
from hub.payments.store import ConnectAccount, Payment
from hub.realtime.notify import Notifier
from hub.trust import audit


class ContractorNotPayable(DomainError):
    code = "contractor_not_payable"


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
        self.settlement = Settlement(pool, provider, notifier, outbox, config)

    @property
    def configured(self) -> bool:
        return self._provider is not None

    def provider(self) -> PaymentProvider:
        return configured(self._provider)

    # --- onboarding ---------------------------------------------------------------------

    async def onboard(self, user_id: str, role: str) -> tuple[ConnectAccount, str]:
        """The contractor's Express account (created on the first call, once: Stripe's
        idempotency gives concurrent first calls the same account) and a fresh link."""
        provider = self.provider()
        if role != "contractor":
            raise Forbidden("only contractor accounts are paid out")
        async with self._pool.acquire() as conn:
            stored = await store.account_of(conn, user_id)
            email = await store.email_of(conn, user_id)
        if stored is None:
            created = await call(
                provider.create_account(user_id, email, key("contractor", user_id, "account"))
            )
            async with self._pool.acquire() as conn:
                stored = await store.keep_account(conn, user_id, created)
        # A link is good for minutes and each call wants a new one: the key is per call
        # (a library retry of this call reuses it).
        url = await call(
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
            fetched = await call(provider.account(stored.account_id))
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
            if existing is not None and existing.status == "cancelled":
                return await self._restart(provider, existing)
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
        intent = await call(provider.create_intent(request, key("job", job_id, "intent", 1)))
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

    async def _restart(self, provider: PaymentProvider, payment: Payment) -> tuple[Payment, bool]:
        """The job goes on but its intent was cancelled (Stripe expired the hold before the
        hub renewed it): a new intent for the same amount, fee and destination."""
        request = IntentRequest(
            payment.amount_cents,
            payment.currency,
            payment.fee_cents,
            payment.destination,
            payment.job_id,
            payment.customer_id,
        )
        generation = payment.generation + 1
        intent = await call(
            provider.create_intent(request, key("job", payment.job_id, "intent", generation))
        )
        async with self._pool.acquire() as conn:
            restarted = await store.replace_intent(
                conn,
                payment.job_id,
                payment.generation,
                intent.id,
                intent.client_secret,
                "cancelled",
            )
            if restarted is not None:
                return restarted, True
            current = await store.payment_of(conn, payment.job_id)  # restarted meanwhile
        assert current is not None
        return current, False

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
        await self.settlement.settle(job_id)
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
            refunded = await call(provider.refund(payment.intent_id, amount, refund_key))
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


def _payable(job: Job) -> None:
    if job.status == "cancelled":
        raise Conflict("the job was cancelled", {"status": job.status})
    if job.status == "open" or job.contractor_id is None:
        raise Conflict("the job is not assigned yet", {"status": job.status})
