"""What watchers read: ``job:watch`` acks, ``GET /jobs/{id}/track``, the share page's state.

Who may track a job: its customer, its assigned contractor, admins, and share-link viewers
of that job. Following docs/JOBS.md, a caller who may see the job otherwise (an applicant,
a contractor it was offered to) gets ``forbidden``; everyone else ``not_found``, as for a
job that does not exist.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

from hub.core.errors import Forbidden, NotFound, Unauthorized
from hub.jobs import store as jobs_store
from hub.jobs.rules import ACTIVE
from hub.jobs.status import can_view, party_of
from hub.jobs.store import Job
from hub.tracking import store
from hub.tracking.breadcrumbs import BreadcrumbWriter
from hub.tracking.live_state import LivePoint, LiveState
from hub.tracking.share import ENDED_STATUSES
from hub.tracking.store import Crumb

log = logging.getLogger(__name__)

BREADCRUMB_LIMIT = 2000
"""Breadcrumb points returned at most (the newest); at 1 per 5 s that is 2 h 45 min."""


def point_json(p: LivePoint | Crumb) -> dict[str, Any]:
    """The contract's point: ``{lat, lng, ts, accuracy_m?, heading?, speed_mps?}``."""
    out: dict[str, Any] = {"lat": p.lat, "lng": p.lng, "ts": p.ts}
    # Breadcrumbs store the optional fields as float4: rounded back to what a device sends.
    if p.accuracy_m is not None:
        out["accuracy_m"] = round(p.accuracy_m, 1)
    if p.heading is not None:
        out["heading"] = round(p.heading, 1)
    if p.speed_mps is not None:
        out["speed_mps"] = round(p.speed_mps, 2)
    return out


class TrackView:
    """Read side of tracking.

    Args:
        pool: database pool.
        live: latest point per contractor.
        crumbs: the breadcrumb buffer (flushed before breadcrumbs are read).
    """

    def __init__(self, pool: asyncpg.Pool, live: LiveState, crumbs: BreadcrumbWriter) -> None:
        self._pool = pool
        self._live = live
        self._crumbs = crumbs

    async def watchable(
        self, job_id: str, user_id: str | None, role: str, share_job_id: str | None = None
    ) -> Job:
        """The job if the caller may track it (module docstring).

        Raises:
            NotFound, Forbidden: as the module docstring says.
            Unauthorized: a share-link viewer whose job has ended.
        """
        async with self._pool.acquire() as conn:
            job = await jobs_store.job_by_id(conn, job_id)
            if user_id is None:  # share-link viewer: this one job only
                if job is None or job.id != share_job_id:
                    raise NotFound("no such job")
                if job.status in ENDED_STATUSES:
                    raise Unauthorized(f"this tracking link has ended: the job is {job.status}")
                return job
            if job is None:
                raise NotFound("no such job")
            if party_of(job, user_id, role) is None:
                if await can_view(conn, job, user_id, role):
                    raise Forbidden("only the job's customer, contractor or an admin may track it")
                raise NotFound("no such job")
            return job

    async def live_fields(self, job: Job) -> dict[str, Any]:
        """``location``, ``eta_s``, ``distance_m`` of an active job, when a point of it is known.

        ``location`` is the contractor's latest point fanned out to this job (never a point
        of another job, nor one from before the job became active). Read with
        ``LiveState.fetch``: the contractor may stream to another node.
        """
        if job.status not in ACTIVE or job.contractor_id is None:
            return {}
        point = await self._live.fetch(job.contractor_id)
        if point is None or point.job_id != job.id:
            return {}
        out: dict[str, Any] = {"location": point_json(point)}
        if job.status == "arrived":
            out["eta_s"] = 0
        elif job.status == "en_route" and point.eta_s is not None:
            out["eta_s"] = point.eta_s
        if job.status != "in_progress" and point.distance_m is not None:
            out["distance_m"] = point.distance_m
        return out

    async def breadcrumb(self, job_id: str) -> list[dict[str, Any]]:
        """The job's breadcrumb, oldest first (this node's pending points included)."""
        try:
            await self._crumbs.flush()
        except Exception:  # the read still answers, without the last second
            log.exception("breadcrumb flush before a read failed")
        async with self._pool.acquire() as conn:
            crumbs = await store.breadcrumbs_of(conn, job_id, BREADCRUMB_LIMIT)
        return [point_json(c) for c in crumbs]

    async def track(self, job_id: str, user_id: str, role: str) -> dict[str, Any]:
        """``GET /jobs/{id}/track``."""
        job = await self.watchable(job_id, user_id, role)
        return {
            "job_id": job.id,
            "status": job.status,
            **(await self.live_fields(job)),
            "breadcrumb": await self.breadcrumb(job.id),
        }

    async def page_state(self, job_id: str) -> dict[str, Any]:
        """What the share page starts from (then ``job:watch`` keeps it current)."""
        async with self._pool.acquire() as conn:
            job = await jobs_store.job_by_id(conn, job_id)
        if job is None:
            raise NotFound("no such job")
        return {
            "job_id": job.id,
            "title": job.title,
            "status": job.status,
            "site": {"lat": job.lat, "lng": job.lng},
            **(await self.live_fields(job)),
            "breadcrumb": await self.breadcrumb(job.id),
        }
