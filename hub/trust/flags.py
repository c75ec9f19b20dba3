"""Flags: items held for an administrator's review (migration 0012, table ``flags``).

Raised by contact masking (a chat message whose contact details were hidden before
booking) and by background checks (a report that came back ``consider``), always in the
transaction of what raised it. The admin views list and resolve them (the contract's
``GET /admin/flags``, ``POST /admin/flags/{id}/resolve``) with :func:`page` and
:func:`resolve`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from hub.core.ids import new_id
from hub.trust import audit

CONTACT_DETAILS = "contact_details"
BACKGROUND_CHECK = "background_check"


@dataclass(frozen=True, slots=True)
class Flag:
    id: str
    kind: str
    reason: str
    user_id: str | None
    message_id: str | None
    conversation_id: str | None
    check_id: str | None
    details: dict[str, Any]
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None

    def public(self) -> dict[str, Any]:
        """The contract's flag ``{id, message_id, conversation_id, reason, created_at,
        resolved}`` plus what a reviewer needs: kind, user, check, details."""
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "message_id": self.message_id,
            "conversation_id": self.conversation_id,
            "reason": self.reason,
            "created_at": self.created_at,
            "resolved": self.resolved_at is not None,
            "user_id": self.user_id,
            "details": self.details,
        }
        if self.check_id is not None:
            out["check_id"] = self.check_id
        if self.resolved_at is not None:
            out["resolved_at"] = self.resolved_at
            out["resolved_by"] = self.resolved_by
            out["resolution"] = self.resolution
        return out


_COLUMNS = (
    "id, kind, reason, user_id, message_id, conversation_id, check_id, details, created_at,"
    " resolved_at, resolved_by, resolution"
)


async def raise_flag(
    conn: asyncpg.Connection,
    kind: str,
    reason: str,
    *,
    user_id: str | None = None,
    message_id: str | None = None,
    conversation_id: str | None = None,
    check_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> str:
    """Insert an open flag inside the caller's transaction; return its id."""
    flag_id = new_id("f_")
    await conn.execute(
        """
        INSERT INTO flags (id, kind, reason, user_id, message_id, conversation_id, check_id,
                           details)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        """,
        flag_id,
        kind,
        reason,
        user_id,
        message_id,
        conversation_id,
        check_id,
        details or {},
    )
    return flag_id


async def flag_hidden_contacts(
    conn: asyncpg.Connection,
    user_id: str,
    conversation_id: str,
    original: str,
    *,
    message_id: str | None = None,
    application_id: str | None = None,
) -> str:
    """Hold for review a text whose contact details were hidden before booking (a chat
    message, or an application's message), with its audit entry; return the flag's id.

    The original text is kept in the flag's details for the reviewer only (admins); the
    audit entry names the flag, never the text.
    """
    details: dict[str, Any] = {"original_body": original}
    if application_id is not None:
        details["application_id"] = application_id
    flag_id = await raise_flag(
        conn,
        CONTACT_DETAILS,
        "contact details before booking",
        user_id=user_id,
        message_id=message_id,
        conversation_id=conversation_id,
        details=details,
    )
    facts = {"kind": CONTACT_DETAILS, "user_id": user_id, "conversation_id": conversation_id}
    if message_id is not None:
        facts["message_id"] = message_id
    if application_id is not None:
        facts["application_id"] = application_id
    await audit.record(conn, None, audit.FLAG_RAISED, "flag", flag_id, None, facts)
    return flag_id


async def page(
    conn: asyncpg.Connection,
    limit: int,
    before: tuple[datetime, str] | None = None,
    resolved: bool | None = None,
) -> list[Flag]:
    """Flags newest first, older than ``before`` (created_at, id) when given; only open
    (``resolved=False``) or resolved ones when asked."""
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM flags
        WHERE ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
          AND ($4::boolean IS NULL OR (resolved_at IS NOT NULL) = $4)
        ORDER BY created_at DESC, id DESC
        LIMIT $1
        """,
        limit,
        before[0] if before else None,
        before[1] if before else None,
        resolved,
    )
    return [Flag(**dict(r)) for r in rows]


async def get(conn: asyncpg.Connection, flag_id: str) -> Flag | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM flags WHERE id = $1", flag_id)
    return None if row is None else Flag(**dict(row))


async def resolve(
    conn: asyncpg.Connection, flag_id: str, resolved_by: str, resolution: str | None
) -> Flag | None:
    """Mark a flag resolved (once: resolving again keeps the first resolution); None when
    there is no such flag."""
    row = await conn.fetchrow(
        f"""
        UPDATE flags SET resolved_at = coalesce(resolved_at, now()),
                         resolved_by = coalesce(resolved_by, $2),
                         resolution = CASE WHEN resolved_at IS NULL THEN $3 ELSE resolution END
        WHERE id = $1
        RETURNING {_COLUMNS}
        """,
        flag_id,
        resolved_by,
        resolution,
    )
    return None if row is None else Flag(**dict(row))
