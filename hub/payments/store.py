"""Payments' SQL: connected accounts, the payment of a job, the Stripe events applied.

Store functions take a connection; the action that calls them owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from hub.payments.provider import Account
from hub.realtime.events import iso


@dataclass(frozen=True, slots=True)
class ConnectAccount:
    user_id: str
    account_id: str
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool

    def public(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "charges_enabled": self.charges_enabled,
            "payouts_enabled": self.payouts_enabled,
            "details_submitted": self.details_submitted,
        }


@dataclass(frozen=True, slots=True)
class Payment:
    job_id: str
    intent_id: str
    generation: int
    client_secret: str
    customer_id: str
    contractor_id: str
    status: str
    amount_cents: int
    currency: str
    fee_cents: int
    refunded_cents: int
    authorized_at: datetime | None
    captured_at: datetime | None
    confirmed_at: datetime | None
    destination: str  # the contractor's connected account

    def public(self) -> dict[str, Any]:
        """The contract's payment (GET /jobs/{id}/payment)."""
        out: dict[str, Any] = {
            "job_id": self.job_id,
            "payment_intent_id": self.intent_id,
            "status": self.status,
            "amount_cents": self.amount_cents,
            "currency": self.currency,
            "fee_cents": self.fee_cents,
            "refunded_cents": self.refunded_cents,
        }
        if self.captured_at is not None:
            out["captured_at"] = iso(self.captured_at)
        return out


_ACCOUNT = "user_id, account_id, charges_enabled, payouts_enabled, details_submitted"
_PAYMENT = (
    "job_id, intent_id, generation, client_secret, customer_id, contractor_id, status, "
    "amount_cents, currency, fee_cents, refunded_cents, authorized_at, captured_at, confirmed_at, "
    "destination"
)


def _payment(row: asyncpg.Record | None) -> Payment | None:
    return None if row is None else Payment(**dict(row))


# --- connected accounts ------------------------------------------------------------------


async def email_of(conn: asyncpg.Connection, user_id: str) -> str:
    return str(await conn.fetchval("SELECT email FROM users WHERE id = $1", user_id))


async def account_of(conn: asyncpg.Connection, user_id: str) -> ConnectAccount | None:
    row = await conn.fetchrow(
        f"SELECT {_ACCOUNT} FROM connect_accounts WHERE user_id = $1", user_id
    )
    return None if row is None else ConnectAccount(**dict(row))


async def keep_account(conn: asyncpg.Connection, user_id: str, account: Account) -> ConnectAccount:
    """Store the contractor's account unless one is stored already; return the stored one
    (two concurrent first calls got the same account from Stripe's idempotency)."""
    await conn.execute(
        """
        INSERT INTO connect_accounts
            (user_id, account_id, charges_enabled, payouts_enabled, details_submitted)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (user_id) DO NOTHING
        """,
        user_id,
        account.id,
        account.charges_enabled,
        account.payouts_enabled,
        account.details_submitted,
    )
    stored = await account_of(conn, user_id)
    if stored is None:
        raise LookupError(f"connected account of {user_id} vanished")
    return stored


async def update_account(
    conn: asyncpg.Connection, account: Account, event_created: int | None
) -> bool:
    """Set the account's flags; from an event only when it is not older than the last one
    applied (``event_created`` None: fetched from Stripe now, always current)."""
    status = await conn.execute(
        """
        UPDATE connect_accounts
        SET charges_enabled = $2, payouts_enabled = $3, details_submitted = $4,
            event_created = greatest(event_created, coalesce($5, event_created)),
            updated_at = now()
        WHERE account_id = $1 AND ($5::bigint IS NULL OR event_created <= $5)
        """,
        account.id,
        account.charges_enabled,
        account.payouts_enabled,
        account.details_submitted,
        event_created,
    )
    return bool(status != "UPDATE 0")


# --- payments ----------------------------------------------------------------------------


async def payment_of(
    conn: asyncpg.Connection, job_id: str, *, for_update: bool = False
) -> Payment | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_PAYMENT} FROM payments WHERE job_id = $1{lock}", job_id)
    return _payment(row)


async def payment_by_intent(conn: asyncpg.Connection, intent_id: str) -> Payment | None:
    """The payment whose *current* intent is ``intent_id``, locked."""
    row = await conn.fetchrow(
        f"SELECT {_PAYMENT} FROM payments WHERE intent_id = $1 FOR UPDATE", intent_id
    )
    return _payment(row)


async def accepted_quote(conn: asyncpg.Connection, job_id: str) -> int | None:
    value = await conn.fetchval(
        "SELECT quote_cents FROM job_applications WHERE job_id = $1 AND status = 'accepted'",
        job_id,
    )
    return None if value is None else int(value)


async def insert_payment(
    conn: asyncpg.Connection,
    job_id: str,
    intent_id: str,
    client_secret: str,
    customer_id: str,
    contractor_id: str,
    destination: str,
    amount_cents: int,
    currency: str,
    fee_cents: int,
) -> tuple[Payment, bool]:
    """Store the job's payment unless one exists; return the stored one and whether it was
    this call that stored it."""
    row = await conn.fetchrow(
        f"""
        INSERT INTO payments (job_id, intent_id, client_secret, customer_id, contractor_id,
                              destination, amount_cents, currency, fee_cents)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (job_id) DO NOTHING
        RETURNING {_PAYMENT}
        """,
        job_id,
        intent_id,
        client_secret,
        customer_id,
        contractor_id,
        destination,
        amount_cents,
        currency,
        fee_cents,
    )
    if row is not None:
        return Payment(**dict(row)), True
    stored = await payment_of(conn, job_id)
    if stored is None:
        raise LookupError(f"payment of {job_id} vanished")
    return stored, False


async def move(
    conn: asyncpg.Connection, job_id: str, status: str, refunded_cents: int | None = None
) -> Payment:
    """Set the status of a payment locked by the caller (legality checked by the caller);
    the first authorisation and capture keep their time."""
    row = await conn.fetchrow(
        f"""
        UPDATE payments
        SET status = $2,
            refunded_cents = greatest(refunded_cents, coalesce($3, refunded_cents)),
            authorized_at = CASE WHEN $2 = 'authorized' THEN coalesce(authorized_at, now())
                            ELSE authorized_at END,
            captured_at = CASE WHEN captured_at IS NULL
                                    AND $2 IN ('captured', 'partially_refunded', 'refunded')
                               THEN now() ELSE captured_at END,
            capture_requested_at = NULL,
            updated_at = now()
        WHERE job_id = $1
        RETURNING {_PAYMENT}
        """,
        job_id,
        status,
        refunded_cents,
    )
    payment = _payment(row)
    if payment is None:
        raise LookupError(f"payment of {job_id} vanished under its row lock")
    return payment


async def set_refunded(conn: asyncpg.Connection, job_id: str, refunded_cents: int) -> Payment:
    """Grow ``refunded_cents`` (never shrink it) without a status change."""
    row = await conn.fetchrow(
        f"""
        UPDATE payments SET refunded_cents = greatest(refunded_cents, $2), updated_at = now()
        WHERE job_id = $1 RETURNING {_PAYMENT}
        """,
        job_id,
        refunded_cents,
    )
    payment = _payment(row)
    if payment is None:
        raise LookupError(f"payment of {job_id} vanished under its row lock")
    return payment


async def confirm(conn: asyncpg.Connection, job_id: str) -> None:
    await conn.execute(
        "UPDATE payments SET confirmed_at = coalesce(confirmed_at, now()) WHERE job_id = $1",
        job_id,
    )


async def record_error(conn: asyncpg.Connection, intent_id: str, message: str) -> None:
    await conn.execute(
        "UPDATE payments SET last_error = $2, updated_at = now() WHERE intent_id = $1",
        intent_id,
        message[:500],
    )


async def claim_capture(conn: asyncpg.Connection, job_id: str) -> Payment | None:
    """Claim the capture of an authorised payment: one caller at a time (a claim older
    than a minute is a node that died mid-call, and is taken over)."""
    row = await conn.fetchrow(
        f"""
        UPDATE payments SET capture_requested_at = now()
        WHERE job_id = $1 AND status = 'authorized'
          AND (capture_requested_at IS NULL OR capture_requested_at < now() - interval '1 minute')
        RETURNING {_PAYMENT}
        """,
        job_id,
    )
    return _payment(row)


async def release_claim(conn: asyncpg.Connection, job_id: str) -> None:
    await conn.execute("UPDATE payments SET capture_requested_at = NULL WHERE job_id = $1", job_id)


async def replace_intent(
    conn: asyncpg.Connection,
    job_id: str,
    generation: int,
    intent_id: str,
    client_secret: str,
    from_status: str = "authorized",
) -> Payment | None:
    """A new intent for the payment, needing the customer's card again: the renewal of an
    aging hold (generation ``generation`` still ``authorized``), or the restart of one whose
    intent Stripe cancelled (``cancelled``). None when another caller replaced it first."""
    row = await conn.fetchrow(
        f"""
        UPDATE payments
        SET intent_id = $3, client_secret = $4, generation = generation + 1,
            status = 'requires_payment_method', authorized_at = NULL,
            capture_requested_at = NULL, last_error = NULL, updated_at = now()
        WHERE job_id = $1 AND generation = $2 AND status = $5
        RETURNING {_PAYMENT}
        """,
        job_id,
        generation,
        intent_id,
        client_secret,
        from_status,
    )
    return _payment(row)


# --- what the sweeper looks for ----------------------------------------------------------


async def due_for_capture(conn: asyncpg.Connection, limit: int = 100) -> list[str]:
    """Authorised payments whose job is done (completed after an arrival the geofence saw)
    or confirmed by the customer, not being captured by a live node."""
    rows = await conn.fetch(
        """
        SELECT p.job_id FROM payments p JOIN jobs j ON j.id = p.job_id
        WHERE p.status = 'authorized'
          AND (p.confirmed_at IS NOT NULL
               OR (j.status = 'completed' AND j.arrival_seen_at IS NOT NULL))
          AND j.status <> 'cancelled'
          AND (p.capture_requested_at IS NULL
               OR p.capture_requested_at < now() - interval '1 minute')
        LIMIT $1
        """,
        limit,
    )
    return [r["job_id"] for r in rows]


async def holding_for_cancelled_jobs(conn: asyncpg.Connection, limit: int = 100) -> list[str]:
    rows = await conn.fetch(
        """
        SELECT p.job_id FROM payments p JOIN jobs j ON j.id = p.job_id
        WHERE p.status IN ('requires_payment_method', 'authorized') AND j.status = 'cancelled'
        LIMIT $1
        """,
        limit,
    )
    return [r["job_id"] for r in rows]


async def aging_holds(conn: asyncpg.Connection, older_than_s: float, limit: int = 100) -> list[str]:
    """Authorised payments held longer than ``older_than_s``, not due for capture."""
    rows = await conn.fetch(
        """
        SELECT p.job_id FROM payments p JOIN jobs j ON j.id = p.job_id
        WHERE p.status = 'authorized'
          AND p.authorized_at < now() - make_interval(secs => $1)
          AND p.confirmed_at IS NULL
          AND j.status NOT IN ('cancelled', 'completed')
        LIMIT $2
        """,
        older_than_s,
        limit,
    )
    return [r["job_id"] for r in rows]


async def capture_allowed(conn: asyncpg.Connection, job_id: str) -> bool:
    """Whether the job's payment may be captured now (see :func:`due_for_capture`)."""
    found = await conn.fetchval(
        """
        SELECT 1 FROM payments p JOIN jobs j ON j.id = p.job_id
        WHERE p.job_id = $1 AND j.status <> 'cancelled'
          AND (p.confirmed_at IS NOT NULL
               OR (j.status = 'completed' AND j.arrival_seen_at IS NOT NULL))
        """,
        job_id,
    )
    return found is not None


# --- Stripe events --------------------------------------------------------------------


async def record_event(conn: asyncpg.Connection, event_id: str, type_: str, created: int) -> bool:
    """Store the event id; False when it was stored before (a replay)."""
    status = await conn.execute(
        """
        INSERT INTO stripe_events (id, type, created) VALUES ($1, $2, $3)
        ON CONFLICT (id) DO NOTHING
        """,
        event_id,
        type_,
        created,
    )
    return bool(status == "INSERT 0 1")
