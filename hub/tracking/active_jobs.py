"""This node's cache of contractor -> the job their location points go to.

A contractor's points are fanned out to the job they are ``en_route`` to, ``arrived`` at or
``in_progress`` on. Looking that up per point would cost a query per point, so each node
keeps the answer for the contractors that have a socket on it:

- loaded from PostgreSQL when a contractor's first socket on this node connects;
- re-read from PostgreSQL whenever one of their jobs changes status, anywhere (a
  :class:`hub.jobs.changes.JobEvent` from this node's ``JobStatusService`` hook or from the
  bus); re-reading rather than applying the event keeps the cache exact however events and
  loads interleave: of overlapping reads only the last started is applied, and it started
  after every change it has to reflect was committed;
- dropped when the contractor's last socket on this node goes.

The :class:`JobTrack` objects also hold the per-job state of the hot path (ETA smoothing,
arrival detection, breadcrumb sampling), kept while the job stays the same.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from geo.eta import EtaEstimator
from hub.jobs.changes import JobEvent
from hub.realtime.events import job_room
from hub.tracking import store

log = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class JobTrack:
    """A contractor's active job, with the hot path's per-job state."""

    job_id: str
    customer_id: str
    status: str
    site_lat: float
    site_lng: float
    updated_at: datetime
    room: str = ""
    eta: EtaEstimator = field(default_factory=EtaEstimator)
    # arrival: the current run of accepted points within the radius
    inside_since: float | None = None
    inside_count: int = 0
    arrival_pending: bool = False
    # breadcrumb sampling: the last stored point
    crumb_ts: float = -math.inf
    crumb_lat: float = 0.0
    crumb_lng: float = 0.0

    def __post_init__(self) -> None:
        self.room = job_room(self.job_id)


class ActiveJobs:
    """Contractor -> :class:`JobTrack`, for the contractors connected to this node.

    Args:
        pool: database pool.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._tracks: dict[str, JobTrack] = {}
        self._local: dict[str, int] = {}  # contractor -> sockets on this node
        self._reads: dict[str, int] = {}  # contractor -> number of the latest started read
        self._read_seq = 0
        # The hot path's lookup, without a Python-level method call in between.
        self.get: Callable[[str], JobTrack | None] = self._tracks.get

    def __len__(self) -> int:
        return len(self._tracks)

    def is_local(self, contractor_id: str) -> bool:
        return contractor_id in self._local

    async def connected(self, contractor_id: str) -> None:
        """A socket of the contractor connected here; the first one loads their job."""
        count = self._local.get(contractor_id, 0)
        self._local[contractor_id] = count + 1
        if count == 0:
            await self.refresh(contractor_id)

    def disconnected(self, contractor_id: str) -> None:
        """A socket of the contractor went; with the last one, the entry goes."""
        count = self._local.get(contractor_id, 0) - 1
        if count > 0:
            self._local[contractor_id] = count
            return
        self._local.pop(contractor_id, None)
        self._tracks.pop(contractor_id, None)
        self._reads.pop(contractor_id, None)

    async def refresh(self, contractor_id: str) -> None:
        """Re-read the contractor's active job (only for contractors connected here)."""
        if contractor_id not in self._local:
            return
        self._read_seq += 1
        number = self._reads[contractor_id] = self._read_seq
        async with self._pool.acquire() as conn:
            job = await store.active_job_of(conn, contractor_id)
        if self._reads.get(contractor_id) != number:
            return  # a later read was started: it decides
        self._apply(contractor_id, job)

    def _apply(self, contractor_id: str, job: store.ActiveJob | None) -> None:
        if job is None:
            self._tracks.pop(contractor_id, None)
            return
        track = self._tracks.get(contractor_id)
        if track is not None and track.job_id == job.id:
            if track.status != job.status:
                track.status = job.status
                track.inside_since = None
                track.inside_count = 0
            track.updated_at = job.updated_at
            return
        self._tracks[contractor_id] = JobTrack(
            job.id, job.customer_id, job.status, job.lat, job.lng, job.updated_at
        )

    async def on_job_event(self, event: JobEvent) -> None:
        """:class:`hub.jobs.changes.JobEvents` handler: follow status changes."""
        if event.kind == "status" and event.contractor_id is not None:
            await self.refresh(event.contractor_id)
