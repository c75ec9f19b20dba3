"""The audit log: admin actions and security events, append-only (migration ``audit_log``).

How to use it (every writer, in every feature):

* Call :func:`record` with the connection of the action's own transaction, so the entry
  commits or rolls back with what it describes::

      async with pool.acquire() as conn, conn.transaction():
          await store.set_verified(conn, contractor_id, True)
          await audit.record(
              conn,
              actor_id=admin_id,              # None for the system (a webhook, a lockout)
              action=audit.CONTRACTOR_VERIFIED,
              target_type="user",             # or "job", "flag", "payment", ...
              target_id=contractor_id,
              request_id=request_id,          # the REST handler passes api.logs.request_id_var
              details={"verified": True, "source": "manual"},
          )

* ``action`` is a dotted snake_case name; use a constant below or add one next to them
  (``<subject>.<verb in the past>``). ``details`` is a small JSON object of facts (ids,
  reasons, before/after values). Never put a password, token, secret or code in it:
  :func:`record` drops every key that looks like one (see :data:`SECRET_KEY_PARTS`) and
  stores ``"[redacted]"`` instead, as a safety net, not as the plan.
* The table cannot be updated or deleted from (a trigger refuses it), so nothing written is
  ever taken back: write facts, not intentions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from hub.core import cursors

# Actions. Keep names stable: operations search the log by them.
USER_SUSPENDED = "user.suspended"
USER_UNSUSPENDED = "user.unsuspended"
LOGIN_LOCKED = "login.locked"  # an account reached the failed-login limit
LOGIN_SUSPENDED_REFUSED = "login.refused_suspended"
TWO_FACTOR_ENABLED = "two_factor.enabled"
TWO_FACTOR_DISABLED = "two_factor.disabled"
TWO_FACTOR_REPLAY_REFUSED = "two_factor.replay_refused"
CONTRACTOR_VERIFIED = "contractor.verified"
CONTRACTOR_UNVERIFIED = "contractor.unverified"
BACKGROUND_CHECK_STARTED = "background_check.started"
BACKGROUND_CHECK_COMPLETED = "background_check.completed"
FLAG_RAISED = "flag.raised"
FLAG_RESOLVED = "flag.resolved"
PAYMENT_REFUNDED = "payment.refunded"
JOB_CANCELLED_BY_SUSPENSION = "job.cancelled_by_suspension"

SECRET_KEY_PARTS = ("password", "token", "secret", "otp", "code", "key", "authorization")
"""A ``details`` key containing one of these (case-insensitively) is stored redacted."""

REDACTED = "[redacted]"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    actor_id: str | None
    action: str
    target: str | None
    request_id: str | None
    details: dict[str, Any]
    created_at: datetime

    def public(self) -> dict[str, object]:
        """The contract's entry: ``{id, actor_id?, action, target?, details, created_at}``."""
        out: dict[str, object] = {
            "id": str(self.id),
            "action": self.action,
            "details": self.details,
            "created_at": self.created_at,
        }
        if self.actor_id is not None:
            out["actor_id"] = self.actor_id
        if self.target is not None:
            out["target"] = self.target
        if self.request_id is not None:
            out["request_id"] = self.request_id
        return out


def target_of(target_type: str | None, target_id: str | None) -> str | None:
    """The stored ``target``: ``"<type>:<id>"`` (``"user:u_1"``), or None."""
    if target_id is None:
        return None
    return f"{target_type}:{target_id}" if target_type else target_id


def scrub(details: Mapping[str, Any]) -> dict[str, Any]:
    """``details`` with the value of every secret-looking key replaced, at any depth."""
    out: dict[str, Any] = {}
    for key, value in details.items():
        lowered = str(key).lower()
        if any(part in lowered for part in SECRET_KEY_PARTS):
            out[str(key)] = REDACTED
        elif isinstance(value, Mapping):
            out[str(key)] = scrub(value)
        else:
            out[str(key)] = value
    return out


async def record(
    conn: asyncpg.Connection,
    actor_id: str | None,
    action: str,
    target_type: str | None,
    target_id: str | None,
    request_id: str | None,
    details: Mapping[str, Any] | None = None,
) -> int:
    """Append one entry inside the caller's transaction; return its id.

    Args:
        conn: the connection of the transaction that does the action.
        actor_id: the user who acted; None for the system (webhooks, lockouts).
        action: one of the constants of this module (or a new one in the same form).
        target_type: what was acted on (``"user"``, ``"job"``, ``"flag"``...), or None.
        target_id: its id, or None. Stored together as ``target`` = ``"<type>:<id>"``
            (:func:`target_of`), the column payments' own writer fills the same way.
        request_id: the REST request's id (X-Request-ID), None outside a request.
        details: a small JSON object of facts; secret-looking keys are redacted.
    """
    entry_id: int = await conn.fetchval(
        """
        INSERT INTO audit_log (actor_id, action, target, request_id, details)
        VALUES ($1, $2, $3, $4, $5)
        RETURNING id
        """,
        actor_id,
        action,
        target_of(target_type, target_id),
        request_id,
        scrub(details or {}),
    )
    return entry_id


async def newest(
    conn: asyncpg.Connection,
    limit: int,
    before_id: int | None = None,
    action: str | None = None,
    actor_id: str | None = None,
    target: str | None = None,
) -> list[AuditEntry]:
    """Entries newest first, ``limit`` of them, older than ``before_id`` when given, and
    matching the optional filters."""
    rows = await conn.fetch(
        """
        SELECT id, actor_id, action, target, request_id, details, created_at
        FROM audit_log
        WHERE ($2::bigint IS NULL OR id < $2)
          AND ($3::text IS NULL OR action = $3)
          AND ($4::text IS NULL OR actor_id = $4)
          AND ($5::text IS NULL OR target = $5)
        ORDER BY id DESC
        LIMIT $1
        """,
        limit,
        before_id,
        action,
        actor_id,
        target,
    )
    return [AuditEntry(**dict(row)) for row in rows]


def encode_cursor(entry_id: int) -> str:
    """Opaque cursor after an entry (``a<id>``, see :mod:`hub.core.cursors`)."""
    return cursors.after_serial("a", entry_id)


def decode_cursor(raw: str) -> int:
    """Invert :func:`encode_cursor`; anything else is a validation error naming ``cursor``."""
    return cursors.serial_position(raw, "a")
