"""SQL of verification and background checks (migration 0012: ``background_checks``,
``checkr_events``; ``contractor_profiles.verified`` of 0004).

Each function takes a connection; the actions in :mod:`hub.trust.checks` own transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg


@dataclass(frozen=True, slots=True)
class Candidate:
    """What the provider needs to invite a contractor."""

    user_id: str
    email: str
    name: str


@dataclass(frozen=True, slots=True)
class BackgroundCheck:
    id: str
    contractor_id: str
    provider: str
    candidate_id: str
    invitation_id: str | None
    report_id: str | None
    status: str
    requested_by: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "contractor_id": self.contractor_id,
            "status": self.status,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if self.completed_at is not None:
            out["completed_at"] = self.completed_at
        return out


_CHECK_COLUMNS = (
    "id, contractor_id, provider, candidate_id, invitation_id, report_id, status,"
    " requested_by, created_at, updated_at, completed_at"
)


async def contractor(conn: asyncpg.Connection, user_id: str) -> Candidate | None:
    """The contractor account ``user_id``; None for unknown ids and other roles."""
    row = await conn.fetchrow(
        "SELECT id, email, name FROM users WHERE id = $1 AND role = 'contractor'", user_id
    )
    return None if row is None else Candidate(row["id"], row["email"], row["name"])


async def set_verified(conn: asyncpg.Connection, user_id: str, verified: bool) -> bool:
    """Set the contractor's ``verified`` (creating their profile row if they have none);
    return the previous value."""
    previous = await conn.fetchval(
        "SELECT verified FROM contractor_profiles WHERE user_id = $1 FOR UPDATE", user_id
    )
    await conn.execute(
        """
        INSERT INTO contractor_profiles (user_id, verified) VALUES ($1, $2)
        ON CONFLICT (user_id) DO UPDATE SET verified = EXCLUDED.verified, updated_at = now()
        """,
        user_id,
        verified,
    )
    return bool(previous)


async def pending_check(conn: asyncpg.Connection, contractor_id: str) -> BackgroundCheck | None:
    row = await conn.fetchrow(
        f"SELECT {_CHECK_COLUMNS} FROM background_checks"
        " WHERE contractor_id = $1 AND status = 'pending'",
        contractor_id,
    )
    return None if row is None else BackgroundCheck(**dict(row))


async def last_candidate(conn: asyncpg.Connection, contractor_id: str) -> str | None:
    """The provider's candidate of the contractor's latest check (reused for a new one)."""
    value: str | None = await conn.fetchval(
        "SELECT candidate_id FROM background_checks WHERE contractor_id = $1"
        " ORDER BY created_at DESC, id DESC LIMIT 1",
        contractor_id,
    )
    return value


async def insert_check(
    conn: asyncpg.Connection,
    check_id: str,
    contractor_id: str,
    candidate_id: str,
    invitation_id: str | None,
    requested_by: str,
) -> BackgroundCheck | None:
    """Store a pending check; None when the contractor already has one pending."""
    row = await conn.fetchrow(
        f"""
        INSERT INTO background_checks
            (id, contractor_id, candidate_id, invitation_id, requested_by)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (contractor_id) WHERE status = 'pending' DO NOTHING
        RETURNING {_CHECK_COLUMNS}
        """,
        check_id,
        contractor_id,
        candidate_id,
        invitation_id,
        requested_by,
    )
    return None if row is None else BackgroundCheck(**dict(row))


async def check_of_candidate(conn: asyncpg.Connection, candidate_id: str) -> BackgroundCheck | None:
    """The candidate's latest check, locked: the one a provider event is about."""
    row = await conn.fetchrow(
        f"""
        SELECT {_CHECK_COLUMNS} FROM background_checks WHERE candidate_id = $1
        ORDER BY (status = 'pending') DESC, created_at DESC, id DESC LIMIT 1
        FOR UPDATE
        """,
        candidate_id,
    )
    return None if row is None else BackgroundCheck(**dict(row))


async def settle_check(
    conn: asyncpg.Connection, check_id: str, status: str, report_id: str | None
) -> BackgroundCheck:
    """Record the check's outcome (``clear``, ``consider``, ``suspended``, ...)."""
    row = await conn.fetchrow(
        f"""
        UPDATE background_checks
        SET status = $2, report_id = coalesce($3, report_id), updated_at = now(),
            completed_at = CASE WHEN $2 IN ('clear', 'consider') THEN now() END
        WHERE id = $1
        RETURNING {_CHECK_COLUMNS}
        """,
        check_id,
        status,
        report_id,
    )
    if row is None:  # locked by check_of_candidate in this transaction: cannot happen
        raise LookupError(f"background check {check_id} vanished")
    return BackgroundCheck(**dict(row))


async def first_delivery(conn: asyncpg.Connection, event_id: str, event_type: str) -> bool:
    """Remember a provider event; False when it was already received (a retry)."""
    inserted = await conn.fetchval(
        """
        INSERT INTO checkr_events (id, type) VALUES ($1, $2)
        ON CONFLICT (id) DO NOTHING RETURNING true
        """,
        event_id,
        event_type,
    )
    return bool(inserted)
