"""Administration's SQL: the users list, suspension and what it ends, jobs and stats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from hub.jobs.store import JOB_COLUMNS, Job, job_from

Before = tuple[datetime, str] | None


@dataclass(frozen=True, slots=True)
class AdminUser:
    id: str
    email: str
    name: str
    role: str
    status: str
    created_at: datetime
    suspended_at: datetime | None
    suspended_reason: str | None
    two_factor: bool
    token_gen: int

    def public(self) -> dict[str, object]:
        """The contract's ``{id, email, name, role, status, created_at}``, plus what an
        operator needs next to it (when and why suspended, two-factor on or off)."""
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "role": self.role,
            "status": self.status,
            "created_at": self.created_at,
            "suspended_at": self.suspended_at,
            "suspended_reason": self.suspended_reason,
            "two_factor": self.two_factor,
        }


_USER_COLUMNS = (
    "id, email, name, role, status, created_at, suspended_at, suspended_reason,"
    " totp_enabled_at IS NOT NULL AS two_factor, token_gen"
)


def _user(row: asyncpg.Record | None) -> AdminUser | None:
    return None if row is None else AdminUser(**dict(row))


def like_pattern(q: str) -> str:
    """A case-insensitive substring pattern for LIKE, with its wildcards escaped."""
    escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_users(
    conn: asyncpg.Connection,
    q: str | None,
    role: str | None,
    status: str | None,
    before: Before,
    limit: int,
) -> list[AdminUser]:
    """Users newest first, filtered; ``q`` matches a substring of the email or the name."""
    rows = await conn.fetch(
        f"""
        SELECT {_USER_COLUMNS} FROM users
        WHERE ($1::text IS NULL OR lower(email) LIKE $1 OR lower(name) LIKE $1)
          AND ($2::text IS NULL OR role = $2)
          AND ($3::text IS NULL OR status = $3)
          AND ($4::timestamptz IS NULL OR (created_at, id) < ($4::timestamptz, $5::text))
        ORDER BY created_at DESC, id DESC
        LIMIT $6
        """,
        like_pattern(q) if q else None,
        role,
        status,
        before[0] if before else None,
        before[1] if before else "",
        limit,
    )
    return [AdminUser(**dict(r)) for r in rows]


async def user_for_update(conn: asyncpg.Connection, user_id: str) -> AdminUser | None:
    row = await conn.fetchrow(
        f"SELECT {_USER_COLUMNS} FROM users WHERE id = $1 FOR UPDATE", user_id
    )
    return _user(row)


async def admin_view(conn: asyncpg.Connection, user_id: str) -> AdminUser | None:
    row = await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE id = $1", user_id)
    return _user(row)


async def suspend(conn: asyncpg.Connection, user_id: str, reason: str) -> AdminUser:
    """Mark the user suspended and raise their token generation (old tokens die)."""
    row = await conn.fetchrow(
        f"""
        UPDATE users SET status = 'suspended', suspended_at = now(), suspended_reason = $2,
            token_gen = token_gen + 1, token_gen_changed_at = clock_timestamp()
        WHERE id = $1
        RETURNING {_USER_COLUMNS}
        """,
        user_id,
        reason,
    )
    user = _user(row)
    if user is None:
        raise LookupError(user_id)
    return user


async def unsuspend(conn: asyncpg.Connection, user_id: str) -> AdminUser:
    """Back to active; the token generation stays (revoked tokens stay revoked)."""
    row = await conn.fetchrow(
        f"""
        UPDATE users SET status = 'active', suspended_at = NULL, suspended_reason = NULL
        WHERE id = $1
        RETURNING {_USER_COLUMNS}
        """,
        user_id,
    )
    user = _user(row)
    if user is None:
        raise LookupError(user_id)
    return user


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


async def revoke_refresh_tokens(conn: asyncpg.Connection, user_id: str) -> int:
    return _count(
        await conn.execute(
            """
            UPDATE refresh_tokens SET revoked_at = now()
            WHERE user_id = $1 AND revoked_at IS NULL
            """,
            user_id,
        )
    )


async def delete_devices(conn: asyncpg.Connection, user_id: str) -> int:
    """Drop the user's push tokens (their queued pushes go with them)."""
    return _count(await conn.execute("DELETE FROM devices WHERE user_id = $1", user_id))


async def revoke_share_links_of_customer(conn: asyncpg.Connection, user_id: str) -> list[str]:
    """Revoke every live share link of the user's jobs; the jobs' ids."""
    rows = await conn.fetch(
        """
        UPDATE share_links s SET revoked_at = now()
        FROM jobs j
        WHERE j.id = s.job_id AND j.customer_id = $1 AND s.revoked_at IS NULL
        RETURNING s.job_id
        """,
        user_id,
    )
    return sorted({r["job_id"] for r in rows})


async def open_job_ids(conn: asyncpg.Connection, customer_id: str) -> list[str]:
    """The customer's jobs nobody was assigned to yet."""
    rows = await conn.fetch(
        "SELECT id FROM jobs WHERE customer_id = $1 AND status = 'open' ORDER BY id", customer_id
    )
    return [str(r["id"]) for r in rows]


async def two_factor_on(conn: asyncpg.Connection, user_id: str) -> bool:
    return bool(
        await conn.fetchval("SELECT totp_enabled_at IS NOT NULL FROM users WHERE id = $1", user_id)
    )


async def list_jobs(
    conn: asyncpg.Connection, status: str | None, before: Before, limit: int
) -> list[Job]:
    """Every job newest first, of one status when given."""
    rows = await conn.fetch(
        f"""
        SELECT {JOB_COLUMNS} FROM jobs
        WHERE ($1::text IS NULL OR status = $1)
          AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::text))
        ORDER BY created_at DESC, id DESC
        LIMIT $4
        """,
        status,
        before[0] if before else None,
        before[1] if before else "",
        limit,
    )
    return [j for j in (job_from(r) for r in rows) if j is not None]


async def counts(conn: asyncpg.Connection) -> tuple[dict[str, int], dict[str, int]]:
    """Users per role and jobs per status, from the trigger-kept counters (a few rows)."""
    rows = await conn.fetch(
        "SELECT kind, key, sum(n)::bigint AS n FROM stats_counters GROUP BY kind, key"
    )
    users = {r["key"]: int(r["n"]) for r in rows if r["kind"] == "users.role"}
    jobs = {r["key"]: int(r["n"]) for r in rows if r["kind"] == "jobs.status"}
    return users, jobs


async def has_table(conn: asyncpg.Connection, name: str) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name))


async def payment_totals(conn: asyncpg.Connection) -> tuple[int, int]:
    """``(captured_cents, refunded_cents)`` over every payment (payments' table)."""
    row = await conn.fetchrow(
        """
        SELECT
          coalesce(sum(amount_cents) FILTER (WHERE captured_at IS NOT NULL), 0) AS captured,
          coalesce(sum(refunded_cents), 0) AS refunded
        FROM payments
        """
    )
    if row is None:
        raise LookupError("payment totals")
    return int(row["captured"]), int(row["refunded"])
