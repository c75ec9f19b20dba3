"""A payment's status change: checked against the machine, stored, its pushes queued in the
same transaction, and ``payment:status`` emitted after the commit."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import asyncpg

from hub.notifications.outbox import Outbox
from hub.payments import states, store
from hub.payments.store import Payment
from hub.realtime import events
from hub.realtime.notify import Notifier

log = logging.getLogger(__name__)


@dataclass
class Changes:
    """Status changes made in one transaction, to announce once it committed."""

    payments: list[Payment] = field(default_factory=list)
    pushes: int = 0


async def transition(
    conn: asyncpg.Connection,
    outbox: Outbox,
    changes: Changes,
    payment: Payment,
    new_status: str,
    *,
    refunded_cents: int | None = None,
    actor_id: str | None = None,
) -> Payment:
    """Move ``payment`` (locked by the caller) to ``new_status`` when the machine allows it;
    otherwise only grow ``refunded_cents``. Returns the payment as stored.

    An illegal move is not an error here: it is a late or repeated piece of news (a webhook
    after the API's answer, events out of order), and the payment keeps its newer status.
    """
    if not states.is_legal(payment.status, new_status):
        if refunded_cents is not None and refunded_cents > payment.refunded_cents:
            return await store.set_refunded(conn, payment.job_id, refunded_cents)
        if new_status != payment.status:
            log.info(
                "payment change ignored (not forward)",
                extra={"job_id": payment.job_id, "status": payment.status, "to": new_status},
            )
        return payment
    moved = await store.move(conn, payment.job_id, new_status, refunded_cents)
    changes.payments.append(moved)
    payload = events.payment_status(moved.job_id, moved.status)
    parties = [u for u in (moved.customer_id, moved.contractor_id) if u != actor_id]
    changes.pushes += await outbox.add(conn, events.PAYMENT_STATUS, payload, parties)
    return moved


async def announce(notifier: Notifier, changes: Changes) -> None:
    """After the commit: ``payment:status`` to each payment's customer and contractor; a
    failed emit does not undo the change (their push, if offline, is queued already)."""
    notifier.pushes_queued(changes.pushes)
    for payment in changes.payments:
        try:
            await notifier.payment_status(
                payment.job_id, payment.status, payment.customer_id, payment.contractor_id
            )
        except Exception:
            log.exception("payment:status emit failed", extra={"job_id": payment.job_id})
