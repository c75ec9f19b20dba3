"""Share links: a signed token that lets anyone with the link watch one job live.

A link is a ``share`` token (:class:`hub.accounts.tokens.TokenCodec`, subject = the job id)
whose ``jti`` is stored in ``share_links``. It is valid until the first of: 24 hours after it
was made, the job reaching ``completed`` or ``cancelled``, the owner revoking the job's links. Every
check (socket connect, the web page) reads the stored link and the job's status, so ending
or revoking takes effect at once; viewers already connected to that job are disconnected
(on every node, through :class:`hub.jobs.changes.JobEvents`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from hub.accounts.tokens import TokenCodec
from hub.core.errors import Conflict, Forbidden, NotFound, Unauthorized
from hub.jobs import store as jobs_store
from hub.jobs.changes import JobEvent, JobEvents
from hub.jobs.status import can_view, party_of
from hub.realtime.gateway import Identity
from hub.tracking import store

log = logging.getLogger(__name__)

SHARE_TTL_S = 24 * 3600.0
ENDED_STATUSES = frozenset({"completed", "cancelled"})


class LinkRefused(Unauthorized):
    """The link does not open: unknown (``ended`` False) or no longer valid (True)."""

    def __init__(self, message: str, ended: bool) -> None:
        super().__init__(message)
        self.ended = ended


@dataclass(frozen=True, slots=True)
class IssuedLink:
    token: str
    job_id: str
    expires_at: float  # epoch seconds


class ShareLinks:
    """Makes, checks and revokes share links; ends their viewers' sockets.

    Args:
        pool: database pool.
        tokens: the hub's token codec (its clock is the links' clock).
        identities: this node's sockets (``Gateway.identities``).
        drop: disconnects one socket for good (``GuardedServer.drop``).
        job_events: tells every node to end the viewers of a revoked link's job.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        tokens: TokenCodec,
        identities: dict[str, Identity],
        drop: Callable[[str], Awaitable[None]],
        job_events: JobEvents,
    ) -> None:
        self._pool = pool
        self._tokens = tokens
        self._identities = identities
        self._drop = drop
        self._job_events = job_events

    async def create(self, job_id: str, user_id: str, role: str) -> IssuedLink:
        """A new link to ``job_id`` for its owner.

        Raises:
            NotFound: no such job, or the caller may not see it.
            Forbidden: the caller sees the job but does not own it.
            Conflict: the job is completed or cancelled.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            job = await jobs_store.job_by_id(conn, job_id)
            if job is None:
                raise NotFound("no such job")
            if party_of(job, user_id, role) not in ("customer", "admin"):
                if await can_view(conn, job, user_id, role):
                    raise Forbidden("only the job's customer may share its tracking")
                raise NotFound("no such job")
            if job.status in ENDED_STATUSES:
                raise Conflict(f"the job is {job.status}", {"status": job.status})
            issued = self._tokens.issue(job.id, "viewer", "share", SHARE_TTL_S)
            expires_at = datetime.fromtimestamp(issued.expires_at, UTC)
            await store.insert_share_link(conn, issued.jti, job.id, user_id, expires_at)
        return IssuedLink(issued.token, job.id, issued.expires_at)

    async def resolve(self, token: object) -> tuple[str, float]:
        """``(job_id, expires_at)`` of a valid link: the gateway's ``share_verifier``.

        Raises:
            LinkRefused: unknown or malformed (``ended`` False), or expired, revoked, or its
                job completed or cancelled (``ended`` True).
        """
        try:
            claims = self._tokens.verify(token, "share")
        except Unauthorized as exc:
            # TokenCodec checks the signature before the expiry: "expired" means genuine.
            ended = exc.message == "token expired"
            raise LinkRefused(
                "this tracking link has expired" if ended else "unknown tracking link", ended
            ) from None
        async with self._pool.acquire() as conn:
            link = await store.share_link(conn, claims.jti)
        if link is None or link.job_id != claims.sub:
            raise LinkRefused("unknown tracking link", ended=False)
        if link.revoked_at is not None:
            raise LinkRefused("this tracking link was revoked", ended=True)
        expires_at = min(claims.exp, link.expires_at.timestamp())
        if expires_at <= self._tokens.now():
            raise LinkRefused("this tracking link has expired", ended=True)
        if link.job_status in ENDED_STATUSES:
            raise LinkRefused(f"the job is {link.job_status}", ended=True)
        return link.job_id, expires_at

    async def revoke(self, job_id: str, user_id: str, role: str) -> int:
        """Revoke every link of the job (its owner); return how many were live."""
        async with self._pool.acquire() as conn:
            job = await jobs_store.job_by_id(conn, job_id)
            if job is None:
                raise NotFound("no such job")
            if party_of(job, user_id, role) not in ("customer", "admin"):
                if await can_view(conn, job, user_id, role):
                    raise Forbidden("only the job's customer may revoke its tracking links")
                raise NotFound("no such job")
            count = await store.revoke_share_links(conn, job.id)
        await self._job_events.publish(JobEvent("revoked", job.id))
        return count

    async def on_job_event(self, event: JobEvent) -> None:
        """:class:`JobEvents` handler: a revoked link or an ended job ends its viewers."""
        if event.kind == "revoked" or event.status in ENDED_STATUSES:
            await self.end_viewers(event.job_id)

    async def end_viewers(self, job_id: str) -> int:
        """Disconnect this node's share-link viewers of ``job_id``; return how many."""
        sids = [
            i.sid
            for i in self._identities.values()
            if i.share_job_id == job_id and i.user_id is None
        ]
        for sid in sids:
            try:
                await self._drop(sid)
            except Exception:
                log.exception("dropping a share viewer failed", extra={"sid": sid})
        return len(sids)
