"""Who may see a job, and the status action shared by REST and live tracking.

Visibility: the job's customer, its assigned contractor, any contractor who applied, an
admin, and, while the job is open, a contractor it was offered to. Everyone else is told
the job does not exist (404 ``not_found``), so job ids do not leak; a caller who may see
the job but not do the thing asked gets 403 ``forbidden``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from hub.core.errors import Conflict, Forbidden, NotFound
from hub.jobs import rules, store
from hub.jobs.store import Job
from hub.notifications.content import PUSHED_STATUSES
from hub.notifications.outbox import Outbox
from hub.realtime import events
from hub.realtime.notify import Notifier

log = logging.getLogger(__name__)

StatusListener = Callable[[Job], Awaitable[None]]
"""Called with the job after each committed status change (e.g. live tracking's caches)."""

EtaSource = Callable[[Job], int | None]
"""Seconds until the job's contractor arrives, when their live position is known."""


def party_of(job: Job, user_id: str | None, role: str) -> str | None:
    """The caller's part in the job: ``customer``, ``contractor`` (assigned), ``admin``."""
    if role == "admin":
        return "admin"
    if user_id is not None and user_id == job.customer_id:
        return "customer"
    if user_id is not None and user_id == job.contractor_id:
        return "contractor"
    return None


async def can_view(conn: asyncpg.Connection, job: Job, user_id: str, role: str) -> bool:
    """Whether the caller may see the job (module docstring)."""
    if party_of(job, user_id, role) is not None:
        return True
    if role != "contractor":
        return False
    if await store.is_applicant(conn, job.id, user_id):
        return True
    return job.status == "open" and await store.is_offered(conn, job.id, user_id)


async def visible_job(conn: asyncpg.Connection, job_id: str, user_id: str, role: str) -> Job:
    """The job if the caller may see it; NotFound otherwise (existence is not revealed)."""
    job = await store.job_by_id(conn, job_id)
    if job is None or not await can_view(conn, job, user_id, role):
        raise NotFound("no such job")
    return job


async def queue_status_push(
    outbox: Outbox, conn: asyncpg.Connection, job: Job, actor_id: str | None, eta_s: int | None
) -> int:
    """In the status change's transaction: the notification of the job's parties but the
    one who made the change, for the statuses that are pushed (assigned, en_route with the
    ETA, arrived, completed, cancelled). Returns how many pushes were queued."""
    if job.status not in PUSHED_STATUSES:
        return 0
    payload: dict[str, Any] = events.job_status(job.id, job.status, job.updated_at)
    if job.status == "en_route" and eta_s is not None:
        payload["eta_s"] = eta_s
    parties = [job.customer_id] + ([job.contractor_id] if job.contractor_id else [])
    return await outbox.add(conn, events.JOB_STATUS, payload, [u for u in parties if u != actor_id])


async def notify_status(notifier: Notifier, job: Job) -> None:
    """Emit ``job:status`` for a committed change; a failed emit does not undo the change."""
    try:
        await notifier.job_status(
            job.id, job.status, job.updated_at, job.customer_id, job.contractor_id
        )
    except Exception:
        log.exception("job:status emit failed", extra={"job_id": job.id})


class JobStatusService:
    """Moves jobs through the status machine of :mod:`hub.jobs.rules`.

    Args:
        pool: database pool.
        notifier: emits ``job:status`` after each committed change.
        outbox: the offline parties' notifications, written with the change.
    """

    def __init__(self, pool: asyncpg.Pool, notifier: Notifier, outbox: Outbox) -> None:
        self._pool = pool
        self._notifier = notifier
        self._outbox = outbox
        self._listeners: list[StatusListener] = []
        self._eta: EtaSource = lambda job: None

    def use_eta(self, eta: EtaSource) -> None:
        """Where the ETA of an ``en_route`` push comes from (live tracking sets it)."""
        self._eta = eta

    def add_listener(self, listener: StatusListener) -> None:
        """Call ``listener(job)`` after every committed change, after ``job:status`` went out.

        Listeners are awaited in turn before :meth:`transition` returns; one that raises is
        logged and does not fail the change.
        """
        self._listeners.append(listener)

    async def transition(
        self,
        job_id: str,
        actor_id: str | None,
        actor_role: str,
        new_status: str,
        *,
        system: bool = False,
    ) -> Job:
        """Move a job to ``new_status`` under its row lock, commit, then emit ``job:status``.

        Args:
            job_id: the job.
            actor_id: the user asking; ignored when ``system``.
            actor_role: the user's role (``customer``, ``contractor``, ``admin``).
            new_status: the target status.
            system: the hub itself asks (live tracking's arrival detection).

        Raises:
            NotFound: no such job, or the caller may not see it.
            Forbidden: the caller may see the job but may not make this move.
            Conflict: the move is not in the status table from the job's current status,
                or the target is ``open``/``assigned`` (assigning is accepting an
                application).
        """
        if new_status not in rules.STATUSES:
            raise Conflict(f"unknown status {new_status!r}")
        async with self._pool.acquire() as conn, conn.transaction():
            job = await store.job_for_update(conn, job_id)
            if job is None:
                raise NotFound("no such job")
            party = "system" if system else party_of(job, actor_id, actor_role)
            if party is None:
                if actor_id is None or not await can_view(conn, job, actor_id, actor_role):
                    raise NotFound("no such job")
                raise Forbidden("only the job's customer or assigned contractor may do this")
            if new_status in ("open", "assigned"):
                raise Conflict(
                    f"a job cannot be moved to {new_status} here; accept an application instead",
                    {"status": job.status, "requested": new_status},
                )
            if not rules.may_move(party, new_status):
                raise Forbidden(f"the job's {party} may not set it to {new_status}")
            if not rules.is_legal(job.status, new_status):
                raise Conflict(
                    f"cannot move a job from {job.status} to {new_status}",
                    {"status": job.status, "requested": new_status},
                )
            job = await store.set_status(conn, job.id, new_status)
            if system and new_status == "arrived":
                # The geofence saw it (not the contractor's word): payments capture on it.
                await store.mark_arrival_seen(conn, job.id)
            # The arrival is seen by the hub but made by the contractor: not pushed to them.
            actor = job.contractor_id if system else actor_id
            eta = self._eta(job) if job.status == "en_route" else None
            queued = await queue_status_push(self._outbox, conn, job, actor, eta)
        self._notifier.pushes_queued(queued)
        await notify_status(self._notifier, job)
        for listener in self._listeners:
            try:
                await listener(job)
            except Exception:
                log.exception("status listener failed", extra={"job_id": job.id})
        return job
