"""Jobs: the row, reads by id, the row lock, and status changes.

The REST-only queries (insert, listings, applications, offers) live in ``api/store/jobs.py``;
what the hub itself needs (live tracking moves ``en_route -> arrived``) lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from hub.events import iso


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
