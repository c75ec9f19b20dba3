"""Stripe's webhooks: verified, recorded once, applied in the transaction that records them.

The event id is inserted first; a replay finds it and changes nothing. Payment changes go
through the status machine, so events in any order, late or repeated, end in the newest
status (a ``payment_intent.amount_capturable_updated`` after ``succeeded`` is ignored).
Events of an intent that is no longer its payment's (a renewed hold) find no row.
Unknown event types are recorded and ignored.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

from hub.core.errors import ValidationFailed
from hub.notifications.outbox import Outbox
from hub.payments import states, store
from hub.payments.actions import Payments
from hub.payments.changes import Changes, announce, transition
from hub.payments.provider import Account, BadSignature, Event
from hub.realtime.notify import Notifier
from hub.trust import audit

log = logging.getLogger(__name__)

PAYMENT_DISPUTED = "payment.disputed"

# payment_intent.* events and the status each one says the intent reached.
_INTENT_EVENTS = {
    "payment_intent.amount_capturable_updated": "authorized",
    "payment_intent.succeeded": "captured",
    "payment_intent.canceled": "cancelled",
}


class Webhooks:
    """Applies Stripe's events to payments and connected accounts."""

    def __init__(
        self, pool: asyncpg.Pool, payments: Payments, notifier: Notifier, outbox: Outbox
    ) -> None:
        self._pool = pool
        self._payments = payments
        self._notifier = notifier
        self._outbox = outbox

    async def receive(self, payload: bytes, signature: str | None) -> bool:
        """Verify and apply one delivery; False when it was a replay.

        Raises:
            ValidationFailed: a missing, forged or stale signature (nothing is stored).
            Unavailable: payments are not configured.
        """
        provider = self._payments.provider()
        try:
            event = provider.verify(payload, signature)
        except BadSignature as exc:
            raise ValidationFailed(f"webhook signature: {exc}", {"rule": "signature"}) from None
        changes = Changes()
        async with self._pool.acquire() as conn, conn.transaction():
            if not await store.record_event(conn, event.id, event.type, event.created):
                return False
            await self._apply(conn, event, changes)
        await announce(self._notifier, changes)
        for payment in changes.payments:
            if payment.status == "authorized":
                self._payments.settlement.soon(payment.job_id)  # due already: confirmed, or done
        return True

    async def _apply(self, conn: asyncpg.Connection, event: Event, changes: Changes) -> None:
        obj = event.object
        if event.type == "account.updated":
            await store.update_account(conn, _account(obj), event.created)
            return
        if event.type in _INTENT_EVENTS or event.type == "payment_intent.payment_failed":
            intent_id = str(obj.get("id"))
        elif event.type in ("charge.refunded", "charge.dispute.created"):
            intent_id = str(obj.get("payment_intent"))
        else:
            log.info("stripe event ignored", extra={"type": event.type, "event": event.id})
            return
        payment = await store.payment_by_intent(conn, intent_id)
        if payment is None:
            log.info("stripe event for no current intent", extra={"event": event.id})
            return
        if event.type == "payment_intent.payment_failed":
            error = obj.get("last_payment_error") or {}
            await store.record_error(conn, intent_id, str(error.get("message") or "failed"))
        elif event.type == "charge.refunded":
            refunded = int(obj.get("amount_refunded") or 0)
            target = states.after_refund(payment.amount_cents, refunded)
            await transition(conn, self._outbox, changes, payment, target, refunded_cents=refunded)
        elif event.type == "charge.dispute.created":
            await transition(conn, self._outbox, changes, payment, "disputed")
            await audit.record(
                conn,
                None,
                PAYMENT_DISPUTED,
                "job",
                payment.job_id,
                None,
                {
                    "dispute": obj.get("id"),
                    "amount_cents": int(obj.get("amount") or 0),
                    "reason": obj.get("reason"),
                    "intent": intent_id,
                },
            )
        else:
            await transition(conn, self._outbox, changes, payment, _INTENT_EVENTS[event.type])


def _account(obj: dict[str, Any]) -> Account:
    return Account(
        str(obj.get("id")),
        bool(obj.get("charges_enabled")),
        bool(obj.get("payouts_enabled")),
        bool(obj.get("details_submitted")),
    )
