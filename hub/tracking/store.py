"""SQL of live tracking: the contractor's active job, breadcrumbs, share links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

ACTIVE_STATUSES = ["en_route", "arrived", "in_progress"]

CrumbRow = tuple[str, float, str, float, float, float | None, float | None, float | None]
"""``(job_id, ts_ms, contractor_id, lat, lng, accuracy_m, heading, speed_mps)``: a tuple,
built once per sampled point on the hot path."""


@dataclass(frozen=True, slots=True)
class ActiveJob:
    """A job a contractor is on the way to, at, or working on."""

    id: str
    customer_id: str
    contractor_id: str
    status: str
    lat: float
    lng: float
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Crumb:
    ts: float
    lat: float
    lng: float
    accuracy_m: float | None
    heading: float | None
    speed_mps: float | None


@dataclass(frozen=True, slots=True)
class ShareLink:
    jti: str
    job_id: str
    expires_at: datetime
    revoked_at: datetime | None
    job_status: str


async def active_job_of(conn: asyncpg.Connection, contractor_id: str) -> ActiveJob | None:
    """The contractor's most recently changed active job (normally their only one)."""
    row = await conn.fetchrow(
        """
        SELECT id, customer_id, contractor_id, status, lat, lng, updated_at
        FROM jobs
        WHERE contractor_id = $1 AND status = any($2::text[])
        ORDER BY updated_at DESC, id DESC
        LIMIT 1
        """,
        contractor_id,
        ACTIVE_STATUSES,
    )
    return None if row is None else ActiveJob(**dict(row))


async def insert_breadcrumbs(conn: asyncpg.Connection, rows: list[CrumbRow]) -> None:
    """Insert many breadcrumbs in one statement; rows of jobs that no longer exist and
    repeats of a stored ``(job_id, ts_ms)`` are skipped."""
    if not rows:
        return
    columns = list(zip(*rows, strict=True))
    await conn.execute(
        """
        INSERT INTO job_breadcrumbs
            (job_id, ts_ms, contractor_id, lat, lng, accuracy_m, heading, speed_mps)
        SELECT u.job_id, u.ts_ms, u.contractor_id, u.lat, u.lng, u.accuracy_m, u.heading,
               u.speed_mps
        FROM unnest($1::text[], $2::float8[], $3::text[], $4::float8[], $5::float8[],
                    $6::real[], $7::real[], $8::real[])
             AS u (job_id, ts_ms, contractor_id, lat, lng, accuracy_m, heading, speed_mps)
        WHERE EXISTS (SELECT 1 FROM jobs j WHERE j.id = u.job_id)
        ON CONFLICT (job_id, ts_ms) DO NOTHING
        """,
        *[list(c) for c in columns],
    )


async def breadcrumbs_of(conn: asyncpg.Connection, job_id: str, limit: int) -> list[Crumb]:
    """The job's latest ``limit`` breadcrumbs, oldest first."""
    rows = await conn.fetch(
        """
        SELECT ts_ms, lat, lng, accuracy_m, heading, speed_mps
        FROM job_breadcrumbs
        WHERE job_id = $1
        ORDER BY ts_ms DESC
        LIMIT $2
        """,
        job_id,
        limit,
    )
    return [
        Crumb(r["ts_ms"], r["lat"], r["lng"], r["accuracy_m"], r["heading"], r["speed_mps"])
        for r in reversed(rows)
    ]


async def insert_share_link(
    conn: asyncpg.Connection, jti: str, job_id: str, created_by: str, expires_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO share_links (jti, job_id, created_by, expires_at) VALUES ($1, $2, $3, $4)",
        jti,
        job_id,
        created_by,
        expires_at,
    )


async def share_link(conn: asyncpg.Connection, jti: str) -> ShareLink | None:
    """The link with its job's current status."""
    row = await conn.fetchrow(
        """
        SELECT s.jti, s.job_id, s.expires_at, s.revoked_at, j.status AS job_status
        FROM share_links s JOIN jobs j ON j.id = s.job_id
        WHERE s.jti = $1
        """,
        jti,
    )
    return None if row is None else ShareLink(**dict(row))


async def revoke_share_links(conn: asyncpg.Connection, job_id: str) -> int:
    """Revoke every live link of the job; return how many."""
    result: str = await conn.execute(
        "UPDATE share_links SET revoked_at = now() WHERE job_id = $1 AND revoked_at IS NULL",
        job_id,
    )
    return int(result.rsplit(" ", 1)[-1])
