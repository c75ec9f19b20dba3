"""Job actions: post, list, read, match, apply, accept, change status.

Visibility follows :mod:`hub.jobs.status`: callers who may not see a job get 404, callers who
see it but may not do the thing asked get 403.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from geo.matching import Match
from geo.types import GeoValidationError, parse_position
from hub.chat.conversations import open_conversation
from hub.contractors import store as contractors_store
from hub.contractors.profiles import check_trades
from hub.contractors.store import ContractorProfile
from hub.core import cursors
from hub.core.errors import Conflict, Forbidden, NotFound, field_error
from hub.core.ids import new_id
from hub.jobs import store
from hub.jobs.matching import ContractorMatcher
from hub.jobs.status import (
    JobStatusService,
    can_view,
    notify_status,
    party_of,
    queue_status_push,
    visible_job,
)
from hub.jobs.store import Application, Before, Job, Offer
from hub.notifications.outbox import Outbox
from hub.realtime import events
from hub.realtime.notify import Notifier
from hub.trust import flags

log = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True)
class Page:
    items: list[Job]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class JobMatch:
    contractor: ContractorProfile
    match: Match


@dataclass(frozen=True, slots=True)
class NewJob:
    trade: str
    title: str
    description: str
    location: dict[str, float]
    address: str | None
    budget_cents: int | None
    currency: str
    scheduled_for: datetime | None


def _require_owner(job: Job, user_id: str, role: str) -> None:
    if party_of(job, user_id, role) not in ("customer", "admin"):
        raise Forbidden("only the job's customer may do this")


class Jobs:
    """The job actions of the REST API.

    Args:
        pool: database pool.
        notifier: emits ``job:offer`` and ``job:status`` after commits.
        outbox: notifications of offline contractors and parties, written with the change.
        matcher: this node's contractor matcher.
        statuses: the status action (shared with live tracking).
        offer_limit: how many of the best matches a new job is offered to.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        notifier: Notifier,
        outbox: Outbox,
        matcher: ContractorMatcher,
        statuses: JobStatusService,
        offer_limit: int,
        mask_contacts: Callable[[str], str | None] | None = None,
    ) -> None:
        self._pool = pool
        self._mask_contacts = mask_contacts
        self._notifier = notifier
        self._outbox = outbox
        self._matcher = matcher
        self._statuses = statuses
        self._offer_limit = offer_limit

    async def create(self, customer_id: str, role: str, new: NewJob) -> Job:
        """Store a job, then offer it to its best matches (a matching failure is logged,
        never the job creation's failure)."""
        if role != "customer":
            raise Forbidden("only customer accounts post jobs")
        title = new.title.strip()
        if not title:
            raise field_error("title", "must not be blank")
        try:
            position = parse_position(new.location, "location")
        except GeoValidationError as exc:
            raise field_error(exc.field, exc.message) from None
        async with self._pool.acquire() as conn, conn.transaction():
            await check_trades(conn, [new.trade], "trade")
            job = await store.insert_job(
                conn,
                new_id("j_"),
                customer_id,
                new.trade,
                title,
                new.description.strip(),
                position.lat,
                position.lng,
                new.address.strip() if new.address else None,
                new.budget_cents,
                new.currency,
                new.scheduled_for,
            )
        await self._offer(job)
        return job

    async def _offer(self, job: Job) -> None:
        try:
            matches = self._matcher.rank(job.lat, job.lng, job.trade, self._offer_limit)
            if not matches:
                return
            offers = [Offer(m.contractor_id, m.distance_m, m.score) for m in matches]
            payload = job.public()
            queued = 0
            async with self._pool.acquire() as conn, conn.transaction():
                await store.insert_offers(conn, job.id, offers)
                # A matched contractor with no socket anywhere gets the offer as a push.
                for m in matches:
                    queued += await self._outbox.add(
                        conn,
                        events.JOB_OFFER,
                        events.job_offer(payload, m.distance_m),
                        [m.contractor_id],
                    )
            self._notifier.pushes_queued(queued)
            await asyncio.gather(
                *(self._notifier.job_offer(m.contractor_id, payload, m.distance_m) for m in matches)
            )
        except Exception:
            log.exception("offering a new job failed", extra={"job_id": job.id})

    async def listing(
        self, user_id: str, role: str, offered: bool, cursor: str | None, limit: int
    ) -> Page:
        """The caller's jobs, newest first (module docstring of ``hub/jobs/store.py``)."""
        before: Before = cursors.row_position(cursor) if cursor else None
        async with self._pool.acquire() as conn:
            if offered:
                if role != "contractor":
                    raise Forbidden("only contractors receive offers")
                rows = await store.offered_jobs(conn, user_id, before, limit + 1)
            elif role == "contractor":
                rows = await store.jobs_of_contractor(conn, user_id, before, limit + 1)
            elif role == "admin":
                rows = await store.all_jobs(conn, before, limit + 1)
            else:
                rows = await store.jobs_of_customer(conn, user_id, before, limit + 1)
        items = rows[:limit]
        more = len(rows) > limit
        last = items[-1] if more and items else None
        return Page(items, cursors.after_row(last.created_at, last.id) if last else None)

    async def get(self, job_id: str, user_id: str, role: str) -> Job:
        async with self._pool.acquire() as conn:
            return await visible_job(conn, job_id, user_id, role)

    async def _owned(self, conn: asyncpg.Connection, job_id: str, user_id: str, role: str) -> Job:
        job = await visible_job(conn, job_id, user_id, role)
        _require_owner(job, user_id, role)
        return job

    async def matches(self, job_id: str, user_id: str, role: str, limit: int) -> list[JobMatch]:
        """The job's best matches now, best first, with their public profiles."""
        async with self._pool.acquire() as conn:
            job = await self._owned(conn, job_id, user_id, role)
            ranked = self._matcher.rank(job.lat, job.lng, job.trade, limit)
            profiles = await contractors_store.profiles_by_ids(
                conn, [m.contractor_id for m in ranked]
            )
        return [
            JobMatch(profiles[m.contractor_id], m) for m in ranked if m.contractor_id in profiles
        ]

    async def apply(
        self, job_id: str, user_id: str, role: str, quote_cents: int, message: str
    ) -> Application:
        """Apply to an open job offered to the caller; opens the conversation with the
        job's customer in the same transaction.

        Raises:
            Forbidden: the caller is not a contractor.
            NotFound: no such job, or it was never offered to the caller.
            Conflict: the job is not open, or the caller already applied.
        """
        if role != "contractor":
            raise Forbidden("only contractor accounts apply to jobs")
        text = message.strip()
        # The customer reads the application before any booking: contact details in it are
        # hidden as in chat (hub/trust/masking.py), and the original held for review.
        masked = self._mask_contacts(text) if self._mask_contacts is not None and text else None
        async with self._pool.acquire() as conn, conn.transaction():
            # The row lock orders this against accept: no application lands on a job
            # that was just assigned.
            job = await store.job_for_update(conn, job_id)
            if job is None or not (
                job.contractor_id == user_id
                or await store.is_offered(conn, job_id, user_id)
                or await store.is_applicant(conn, job_id, user_id)
            ):
                raise NotFound("no such job")
            if job.status != "open":
                raise Conflict(f"the job is {job.status}, not open")
            conversation_id = await open_conversation(
                conn, new_id("cv_"), job.id, job.customer_id, user_id
            )
            application = await store.insert_application(
                conn,
                new_id("a_"),
                job.id,
                user_id,
                conversation_id,
                quote_cents,
                text if masked is None else masked,
            )
            if application is None:
                raise Conflict("you already applied to this job")
            if masked is not None:
                await flags.flag_hidden_contacts(
                    conn, user_id, conversation_id, text, application_id=application.id
                )
        return application

    async def applications(self, job_id: str, user_id: str, role: str) -> list[Application]:
        async with self._pool.acquire() as conn:
            job = await self._owned(conn, job_id, user_id, role)
            return await store.applications_of_job(conn, job.id)

    async def accept(self, job_id: str, application_id: str, user_id: str, role: str) -> Job:
        """Assign the job to the application's contractor; decline the other applications.

        Raises:
            NotFound: no such job (or not visible), or no such application on it.
            Forbidden: the caller is not the job's customer.
            Conflict: the job is not open, or the application is not pending.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            job = await store.job_for_update(conn, job_id)
            if job is None or not await can_view(conn, job, user_id, role):
                raise NotFound("no such job")
            _require_owner(job, user_id, role)
            if job.status != "open":
                raise Conflict(f"the job is {job.status}, not open")
            application = await store.application_for_update(conn, job.id, application_id)
            if application is None:
                raise NotFound("no such application")
            if application.status != "pending":
                raise Conflict(f"the application is {application.status}")
            job = await store.set_status(conn, job.id, "assigned", application.contractor_id)
            await store.accept_application(conn, job.id, application.id)
            queued = await queue_status_push(self._outbox, conn, job, user_id, None)
        self._notifier.pushes_queued(queued)
        await notify_status(self._notifier, job)
        return job

    async def set_status(self, job_id: str, user_id: str, role: str, status: str) -> Job:
        return await self._statuses.transition(job_id, user_id, role, status)
