"""Jobs' SQL: the row, reads by id, the row lock, status changes, creation, the callers'
listings, offers and applications.

Listings are keyset paginated on ``(created_at, id)`` descending: ``before`` is the last
row of the previous page, and a page asks for one row more than it returns to know
whether another follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from hub.realtime.events import iso


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    customer_id: str
    contractor_id: str | None
    trade: str
    title: str
    description: str
    lat: float
    lng: float
    address: str | None
    status: str
    budget_cents: int | None
    currency: str
    scheduled_for: datetime | None
    created_at: datetime
    updated_at: datetime

    def public(self) -> dict[str, Any]:
        """The contract's job object (timestamps already ISO strings, safe for sockets)."""
        out: dict[str, Any] = {
            "id": self.id,
            "customer_id": self.customer_id,
            "trade": self.trade,
            "title": self.title,
            "description": self.description,
            "location": {"lat": self.lat, "lng": self.lng},
            "address": self.address,
            "status": self.status,
            "budget_cents": self.budget_cents,
            "currency": self.currency,
            "scheduled_for": iso(self.scheduled_for) if self.scheduled_for else None,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }
        if self.contractor_id is not None:
            out["contractor_id"] = self.contractor_id
        return out


JOB_COLUMNS = (
    "id, customer_id, contractor_id, trade, title, description, lat, lng, address, status, "
    "budget_cents, currency, scheduled_for, created_at, updated_at"
)


def job_from(row: asyncpg.Record | None) -> Job | None:
    return None if row is None else Job(**dict(row))


async def job_by_id(conn: asyncpg.Connection, job_id: str) -> Job | None:
    row = await conn.fetchrow(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1", job_id)
    return job_from(row)


async def job_for_update(conn: asyncpg.Connection, job_id: str) -> Job | None:
    """Lock the job's row until the transaction ends: status changes are serialised."""
    row = await conn.fetchrow(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 FOR UPDATE", job_id)
    return job_from(row)


async def set_status(
    conn: asyncpg.Connection, job_id: str, status: str, contractor_id: str | None = None
) -> Job:
    """Set the status (and, when given, the contractor) of a job locked by the caller."""
    row = await conn.fetchrow(
        f"""
        UPDATE jobs
        SET status = $2, contractor_id = coalesce($3, contractor_id), updated_at = now()
        WHERE id = $1
        RETURNING {JOB_COLUMNS}
        """,
        job_id,
        status,
        contractor_id,
    )
    job = job_from(row)
    if job is None:
        raise LookupError(f"job {job_id} vanished under its row lock")
    return job


async def mark_arrival_seen(conn: asyncpg.Connection, job_id: str) -> None:
    """Record that live tracking's geofence saw the contractor arrive (the first time)."""
    await conn.execute(
        "UPDATE jobs SET arrival_seen_at = coalesce(arrival_seen_at, now()) WHERE id = $1",
        job_id,
    )


async def is_applicant(conn: asyncpg.Connection, job_id: str, contractor_id: str) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM job_applications WHERE job_id = $1 AND contractor_id = $2",
        job_id,
        contractor_id,
    )
    return found is not None


async def is_offered(conn: asyncpg.Connection, job_id: str, contractor_id: str) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM job_offers WHERE job_id = $1 AND contractor_id = $2",
        job_id,
        contractor_id,
    )
    return found is not None


Before = tuple[datetime, str] | None

_J_COLUMNS = ", ".join(f"j.{c.strip()}" for c in JOB_COLUMNS.split(","))


async def insert_job(
    conn: asyncpg.Connection,
    job_id: str,
    customer_id: str,
    trade: str,
    title: str,
    description: str,
    lat: float,
    lng: float,
    address: str | None,
    budget_cents: int | None,
    currency: str,
    scheduled_for: datetime | None,
) -> Job:
    row = await conn.fetchrow(
        f"""
        INSERT INTO jobs (id, customer_id, trade, title, description, lat, lng, address,
                          budget_cents, currency, scheduled_for)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        RETURNING {JOB_COLUMNS}
        """,
        job_id,
        customer_id,
        trade,
        title,
        description,
        lat,
        lng,
        address,
        budget_cents,
        currency,
        scheduled_for,
    )
    job = job_from(row)
    if job is None:
        raise LookupError("INSERT ... RETURNING returned no row")
    return job


def _page_args(before: Before) -> tuple[datetime | None, str]:
    return (before[0], before[1]) if before is not None else (None, "")


def _page(first: int) -> str:
    """The keyset condition, order and limit, with parameters numbered from ``first``."""
    at, key, limit = f"${first}", f"${first + 1}", f"${first + 2}"
    return f"""
        AND ({at}::timestamptz IS NULL OR (j.created_at, j.id) < ({at}::timestamptz, {key}::text))
        ORDER BY j.created_at DESC, j.id DESC
        LIMIT {limit}
    """


async def jobs_of_customer(
    conn: asyncpg.Connection, customer_id: str, before: Before, limit: int
) -> list[Job]:
    rows = await conn.fetch(
        f"SELECT {_J_COLUMNS} FROM jobs j WHERE j.customer_id = $1 {_page(2)}",
        customer_id,
        *_page_args(before),
        limit,
    )
    return [Job(**dict(r)) for r in rows]


async def jobs_of_contractor(
    conn: asyncpg.Connection, contractor_id: str, before: Before, limit: int
) -> list[Job]:
    """Jobs assigned to the contractor, applied to, or open and offered to them."""
    rows = await conn.fetch(
        f"""
        WITH mine AS (
            SELECT id FROM jobs WHERE contractor_id = $1
            UNION
            SELECT job_id FROM job_applications WHERE contractor_id = $1
            UNION
            SELECT o.job_id FROM job_offers o JOIN jobs oj ON oj.id = o.job_id
            WHERE o.contractor_id = $1 AND oj.status = 'open'
        )
        SELECT {_J_COLUMNS} FROM jobs j JOIN mine ON mine.id = j.id WHERE true {_page(2)}
        """,
        contractor_id,
        *_page_args(before),
        limit,
    )
    return [Job(**dict(r)) for r in rows]


async def offered_jobs(
    conn: asyncpg.Connection, contractor_id: str, before: Before, limit: int
) -> list[Job]:
    """Open jobs offered to the contractor."""
    rows = await conn.fetch(
        f"""
        SELECT {_J_COLUMNS} FROM jobs j JOIN job_offers o ON o.job_id = j.id
        WHERE o.contractor_id = $1 AND j.status = 'open' {_page(2)}
        """,
        contractor_id,
        *_page_args(before),
        limit,
    )
    return [Job(**dict(r)) for r in rows]


async def all_jobs(conn: asyncpg.Connection, before: Before, limit: int) -> list[Job]:
    """Every job (admins)."""
    rows = await conn.fetch(
        f"SELECT {_J_COLUMNS} FROM jobs j WHERE true {_page(1)}",
        *_page_args(before),
        limit,
    )
    return [Job(**dict(r)) for r in rows]


@dataclass(frozen=True, slots=True)
class Offer:
    contractor_id: str
    distance_m: float
    score: float


async def insert_offers(conn: asyncpg.Connection, job_id: str, offers: Sequence[Offer]) -> None:
    await conn.executemany(
        """
        INSERT INTO job_offers (job_id, contractor_id, distance_m, score)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (job_id, contractor_id) DO NOTHING
        """,
        [(job_id, o.contractor_id, o.distance_m, o.score) for o in offers],
    )


@dataclass(frozen=True, slots=True)
class Application:
    id: str
    job_id: str
    contractor_id: str
    conversation_id: str
    quote_cents: int
    message: str
    status: str
    created_at: datetime

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "job_id": self.job_id,
            "contractor_id": self.contractor_id,
            "conversation_id": self.conversation_id,
            "quote_cents": self.quote_cents,
            "message": self.message,
            "status": self.status,
            "created_at": self.created_at,
        }


_APP_COLUMNS = (
    "id, job_id, contractor_id, conversation_id, quote_cents, message, status, created_at"
)


async def insert_application(
    conn: asyncpg.Connection,
    application_id: str,
    job_id: str,
    contractor_id: str,
    conversation_id: str,
    quote_cents: int,
    message: str,
) -> Application | None:
    """Insert an application; None when this contractor already applied to this job."""
    row = await conn.fetchrow(
        f"""
        INSERT INTO job_applications
            (id, job_id, contractor_id, conversation_id, quote_cents, message)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (job_id, contractor_id) DO NOTHING
        RETURNING {_APP_COLUMNS}
        """,
        application_id,
        job_id,
        contractor_id,
        conversation_id,
        quote_cents,
        message,
    )
    return None if row is None else Application(**dict(row))


async def applications_of_job(conn: asyncpg.Connection, job_id: str) -> list[Application]:
    rows = await conn.fetch(
        f"SELECT {_APP_COLUMNS} FROM job_applications WHERE job_id = $1 ORDER BY created_at, id",
        job_id,
    )
    return [Application(**dict(r)) for r in rows]


async def application_for_update(
    conn: asyncpg.Connection, job_id: str, application_id: str
) -> Application | None:
    row = await conn.fetchrow(
        f"""
        SELECT {_APP_COLUMNS} FROM job_applications
        WHERE id = $1 AND job_id = $2 FOR UPDATE
        """,
        application_id,
        job_id,
    )
    return None if row is None else Application(**dict(row))


async def accept_application(conn: asyncpg.Connection, job_id: str, application_id: str) -> None:
    """Mark one application accepted and decline the job's other pending ones."""
    await conn.execute(
        """
        UPDATE job_applications
        SET status = CASE WHEN id = $2 THEN 'accepted' ELSE 'declined' END
        WHERE job_id = $1 AND (id = $2 OR status = 'pending')
        """,
        job_id,
        application_id,
    )
