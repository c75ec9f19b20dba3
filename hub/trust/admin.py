"""Administration actions: who may act, the users and jobs lists, suspension, the stats.

Suspending a user, in one transaction with its audit entry: the account is marked suspended,
its token generation raised (every access and refresh token it holds dies on every node,
:mod:`hub.trust.revocations`), its refresh tokens revoked, its push tokens dropped, the
share links of its jobs revoked. After the commit: this node refuses its tokens at once and
the other nodes within a bus round trip; its sockets everywhere get ``auth:revoked`` and are
disconnected; share-link viewers of its jobs are disconnected; a customer's ``open`` jobs are
cancelled (through the job status service, so parties and watchers hear of it); a
contractor leaves matching. Assigned jobs are left to support (docs/ADMIN.md).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from hub.core import cursors
from hub.core.errors import Conflict, Forbidden, NotFound, TwoFactorRequired, field_error
from hub.jobs.matching import ContractorMatcher
from hub.jobs.status import JobStatusService
from hub.jobs.store import Job
from hub.realtime.socket_count import SocketCount
from hub.trust import audit, flags, store
from hub.trust.flags import Flag
from hub.trust.revocations import Revocations

log = logging.getLogger(__name__)


RevokeShares = Callable[[str, str], Awaitable[int]]  # (job_id, admin_id) -> links revoked


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Any]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Stats:
    users: dict[str, int]
    jobs: dict[str, int]
    sockets: int
    captured_cents: int
    refunded_cents: int

    def public(self) -> dict[str, object]:
        return {
            "users": self.users,
            "jobs": self.jobs,
            "sockets": self.sockets,
            "payments": {
                "captured_cents": self.captured_cents,
                "refunded_cents": self.refunded_cents,
            },
        }


ROLES = ("customer", "contractor", "admin")
JOB_STATUSES = ("open", "assigned", "en_route", "arrived", "in_progress", "completed", "cancelled")


class Admin:
    """The admin API's actions.

    Args:
        pool: database pool.
        revocations: cuts tokens on every node.
        statuses: moves jobs (cancelling a suspended customer's open jobs).
        matcher: the contractor index (a suspended contractor leaves it).
        revoke_shares: ends a job's share links and their viewers on every node.
        sockets: open sockets across nodes.
        require_two_factor: admins without two-factor are refused (production).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        revocations: Revocations,
        statuses: JobStatusService,
        matcher: ContractorMatcher,
        revoke_shares: RevokeShares,
        sockets: SocketCount,
        require_two_factor: bool,
    ) -> None:
        self._pool = pool
        self._revocations = revocations
        self._statuses = statuses
        self._matcher = matcher
        self._revoke_shares = revoke_shares
        self._sockets = sockets
        self._require_two_factor = require_two_factor
        self._has_payments: bool | None = None

    async def authorize(self, user_id: str, role: str) -> None:
        """Raise unless the caller is an admin (with two-factor on, in production).

        The role comes from the token, which the codec already checked (and a suspended
        admin's tokens are dead); two-factor is read from the database, so turning it off
        takes effect at once.
        """
        if role != "admin":
            raise Forbidden("only admins may do this")
        if not self._require_two_factor:
            return
        async with self._pool.acquire() as conn:
            on = await store.two_factor_on(conn, user_id)
        if not on:
            raise TwoFactorRequired(
                "admin routes need two-factor sign-in: POST /auth/2fa/setup, then /enable"
            )

    async def users(
        self,
        q: str | None,
        role: str | None,
        status: str | None,
        cursor: str | None,
        limit: int,
    ) -> Page:
        if role is not None and role not in ROLES:
            raise field_error("role", f"one of {', '.join(ROLES)}")
        if status is not None and status not in ("active", "suspended"):
            raise field_error("status", "active or suspended")
        before = cursors.row_position(cursor) if cursor else None
        async with self._pool.acquire() as conn:
            rows = await store.list_users(conn, q or None, role, status, before, limit + 1)
        more = len(rows) > limit
        items = rows[:limit]
        last = items[-1] if more and items else None
        return Page(items, cursors.after_row(last.created_at, last.id) if last else None)

    async def jobs(self, status: str | None, cursor: str | None, limit: int) -> Page:
        if status is not None and status not in JOB_STATUSES:
            raise field_error("status", f"one of {', '.join(JOB_STATUSES)}")
        before = cursors.row_position(cursor) if cursor else None
        async with self._pool.acquire() as conn:
            rows = await store.list_jobs(conn, status, before, limit + 1)
        more = len(rows) > limit
        items: list[Job] = rows[:limit]
        last = items[-1] if more and items else None
        return Page(items, cursors.after_row(last.created_at, last.id) if last else None)

    async def flags(self, resolved: bool | None, cursor: str | None, limit: int) -> Page:
        """Flags raised for review, newest first; only open or resolved ones when asked."""
        before = cursors.row_position(cursor) if cursor else None
        async with self._pool.acquire() as conn:
            rows = await flags.page(conn, limit + 1, before, resolved)
        more = len(rows) > limit
        items = rows[:limit]
        last = items[-1] if more and items else None
        return Page(items, cursors.after_row(last.created_at, last.id) if last else None)

    async def resolve_flag(
        self, admin_id: str, flag_id: str, resolution: str | None, request_id: str | None
    ) -> Flag:
        """Mark a flag resolved, with its audit entry in the same transaction. Resolving it
        again answers the flag as it is (the first resolution stands) and audits nothing.

        Raises:
            NotFound: no such flag.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            current = await flags.get(conn, flag_id)
            if current is None:
                raise NotFound("no such flag")
            if current.resolved_at is not None:
                return current
            flag = await flags.resolve(conn, flag_id, admin_id, resolution)
            if flag is None:  # deleted meanwhile: flags are never deleted, but be exact
                raise NotFound("no such flag")
            details = {"resolution": resolution} if resolution else {}
            await audit.record(
                conn, admin_id, audit.FLAG_RESOLVED, "flag", flag_id, request_id, details
            )
            return flag

    async def audit(self, cursor: str | None, limit: int, action: str | None = None) -> Page:
        before = audit.decode_cursor(cursor) if cursor else None
        async with self._pool.acquire() as conn:
            rows = await audit.newest(conn, limit + 1, before, action=action)
        more = len(rows) > limit
        items = rows[:limit]
        return Page(items, audit.encode_cursor(items[-1].id) if more and items else None)

    async def stats(self) -> Stats:
        """Counts from PostgreSQL (one round trip) and the sockets of every node."""
        async with self._pool.acquire() as conn:
            users, jobs = await store.counts(conn)
            if self._has_payments is None:
                self._has_payments = await store.has_table(conn, "payments")
            captured, refunded = await store.payment_totals(conn) if self._has_payments else (0, 0)
        sockets = await self._sockets.total()
        return Stats(
            {r: users.get(r, 0) for r in ROLES},
            {s: jobs.get(s, 0) for s in JOB_STATUSES},
            sockets,
            captured,
            refunded,
        )

    async def suspend(
        self, admin_id: str, user_id: str, reason: str, request_id: str | None
    ) -> store.AdminUser:
        """Suspend ``user_id`` (see the module's docstring). Suspending a suspended user
        changes nothing but finishes the after-commit steps again (cancelling open jobs,
        ending share viewers), so an interrupted suspension can be completed.

        Raises:
            NotFound: no such user.
            Conflict: an admin suspending themself.
        """
        if user_id == admin_id:
            raise Conflict("an admin cannot suspend themself")
        async with self._pool.acquire() as conn, conn.transaction():
            user = await store.user_for_update(conn, user_id)
            if user is None:
                raise NotFound("no such user")
            fresh = user.status != "suspended"
            if fresh:
                user = await store.suspend(conn, user_id, reason)
                refresh = await store.revoke_refresh_tokens(conn, user_id)
                devices = await store.delete_devices(conn, user_id)
            share_jobs = await store.revoke_share_links_of_customer(conn, user_id)
            open_ids = await store.open_job_ids(conn, user_id)
            if fresh:
                await audit.record(
                    conn,
                    admin_id,
                    audit.USER_SUSPENDED,
                    "user",
                    user_id,
                    request_id,
                    {
                        "reason": reason,
                        "refresh_tokens_revoked": refresh,
                        "devices_removed": devices,
                        "share_links_revoked_on_jobs": share_jobs,
                        "open_jobs_cancelled": open_ids,
                    },
                )
        if fresh:
            await self._revocations.cut(user_id, user.token_gen, "suspended")
        await self._after_suspension(admin_id, user, share_jobs, open_ids)
        return user

    async def _after_suspension(
        self, admin_id: str, user: store.AdminUser, share_jobs: list[str], open_ids: list[str]
    ) -> None:
        for job_id in share_jobs:
            try:
                await self._revoke_shares(job_id, admin_id)
            except Exception:
                log.exception("ending share viewers failed", extra={"job_id": job_id})
        for job_id in open_ids:
            try:
                await self._statuses.transition(job_id, admin_id, "admin", "cancelled")
            except Conflict:
                pass  # assigned or cancelled meanwhile: it is no longer open
            except Exception:
                log.exception("cancelling an open job failed", extra={"job_id": job_id})
        if user.role == "contractor":
            await self._matcher.invalidate(user.id)

    async def unsuspend(
        self, admin_id: str, user_id: str, request_id: str | None
    ) -> store.AdminUser:
        """Give the account back. Revoked tokens stay revoked: the user signs in again."""
        async with self._pool.acquire() as conn, conn.transaction():
            user = await store.user_for_update(conn, user_id)
            if user is None:
                raise NotFound("no such user")
            if user.status == "active":
                return user
            user = await store.unsuspend(conn, user_id)
            await audit.record(conn, admin_id, audit.USER_UNSUSPENDED, "user", user_id, request_id)
        if user.role == "contractor":
            await self._matcher.invalidate(user.id)
        return user
