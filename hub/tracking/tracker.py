"""Live tracking's hot path: a contractor's location point, from validated to fanned out.

Per point, synchronously, with no database query and no await (docs/PROTOCOL-NOTES.md,
"Tracking"):

1. noise filter against the contractor's last accepted point (:class:`LiveState`);
2. live state update (matching reads it through ``ContractorMatcher.use_live_positions``);
3. when the contractor has an active job (the per-node :class:`ActiveJobs` cache): distance
   to the site (``geo.distance.fast_distance_m``), smoothed ETA (``geo.eta.EtaEstimator``),
   ``job:location`` to the job's room (``Notifier.job_location``: encoded once, latest-wins),
   breadcrumb sampling (:class:`BreadcrumbWriter`, written in batches), arrival detection.

An arrival moves the job ``en_route -> arrived`` through ``JobStatusService.transition(
system=True)`` in a task the :class:`Tracker` owns, never awaited by the point's handler.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from geo.distance import fast_distance_m
from geo.eta import ARRIVAL_RADIUS_M
from hub.core.errors import Conflict
from hub.jobs.status import JobStatusService
from hub.realtime.events import job_location
from hub.realtime.notify import Notifier
from hub.tracking.active_jobs import ActiveJobs, JobTrack
from hub.tracking.breadcrumbs import BreadcrumbWriter
from hub.tracking.live_state import LivePoint, LiveState
from hub.tracking.payloads import Point

log = logging.getLogger(__name__)

MAX_ACCURACY_M = 100.0
"""A point whose accuracy is worse (larger) than this is noise."""
MAX_SPEED_MPS = 70.0
"""A point that would need more than this speed from the last accepted one is noise."""
MAX_FUTURE_MS = 120_000.0
"""A point more than this far in the future of the server's clock is noise."""
ARRIVAL_HOLD_MS = 20_000.0
"""One point within the arrival radius, held (repeated) this long in device time, arrives."""
CRUMB_EVERY_MS = 5_000.0
CRUMB_EVERY_M = 25.0
"""A job's breadcrumb takes a point when 5 s of device time passed or 25 m were covered
since the last one it took."""

NOISE_REASONS = ("accuracy", "future", "repeat", "not_newer", "speed")

# What the hot path's internal step returns for a rejected point (accepted ones return the
# job:location payload, or None when the contractor has no active job); compared by identity.
_NOISE: dict[str, Any] = {}

Relay = Callable[[str, dict[str, Any]], None]
"""``(job_id, payload)``: hands a ``job:location`` to every node's watchers
(``LocationRelay.offer``), instead of this node's only."""


class Tracker:
    """Takes contractors' points (``location:update`` / ``location:batch``).

    Args:
        live: latest point per contractor.
        active: this node's contractor -> active job cache.
        notifier: the only emitter (``job:location`` goes through its room broadcaster).
        crumbs: the breadcrumb buffer.
        statuses: the status action, for arrivals.
        clock: server time in seconds since the epoch.
        relay: when set (several nodes), takes each payload instead of this node's
            broadcast (:mod:`hub.tracking.relay`).
    """

    def __init__(
        self,
        live: LiveState,
        active: ActiveJobs,
        notifier: Notifier,
        crumbs: BreadcrumbWriter,
        statuses: JobStatusService,
        clock: Callable[[], float] = time.time,
        relay: Relay | None = None,
    ) -> None:
        self._live = live
        self._active = active
        self._notifier = notifier
        self._crumbs = crumbs
        self._statuses = statuses
        self._clock = clock
        self._relay = relay
        self._tasks: set[asyncio.Task[None]] = set()
        self.accepted = 0
        self.noise = dict.fromkeys(NOISE_REASONS, 0)
        self.deliveries = 0
        self.arrivals = 0

    # ------------------------------------------------------------------ hot path
    def ingest(self, contractor_id: str, point: Point) -> bool:
        """Take one point; return whether it was accepted (False: noise)."""
        payload = self._take(contractor_id, point)
        if payload is _NOISE:
            return False
        if payload is not None:
            self._fan_out(payload)
        return True

    def ingest_batch(self, contractor_id: str, points: list[Point]) -> int:
        """Take points buffered while offline, oldest first; return how many were accepted.

        Every point goes through the filter, the live state, the breadcrumb sampling and the
        arrival rule, but only the newest accepted one is fanned out: watchers want where
        the contractor is, and location is latest-wins.
        """
        accepted = 0
        newest: dict[str, Any] | None = None
        take = self._take
        for point in points:
            payload = take(contractor_id, point)
            if payload is _NOISE:
                continue
            accepted += 1
            if payload is not None:
                newest = payload
        if newest is not None:
            self._fan_out(newest)
        return accepted

    def _noise(self, reason: str) -> dict[str, Any]:
        self.noise[reason] += 1
        return _NOISE

    def _take(self, contractor_id: str, p: Point) -> dict[str, Any] | None:
        now = self._clock()
        lat = p.lat
        lng = p.lng
        ts = p.ts
        accuracy = p.accuracy_m
        if accuracy is not None and accuracy > MAX_ACCURACY_M:
            return self._noise("accuracy")
        if ts > now * 1000.0 + MAX_FUTURE_MS:
            return self._noise("future")
        last = self._live.latest(contractor_id)
        if last is not None:
            if (
                lat == last.lat
                and lng == last.lng
                and accuracy == last.accuracy_m
                and p.heading == last.heading
                and p.speed_mps == last.speed_mps
            ):
                if ts > last.ts:
                    self._held(contractor_id, ts)
                return self._noise("repeat")
            dt_ms = ts - last.ts
            if dt_ms <= 0.0:
                return self._noise("not_newer")
            if fast_distance_m(last.lat, last.lng, lat, lng) * 1000.0 > MAX_SPEED_MPS * dt_ms:
                return self._noise("speed")
        self.accepted += 1
        track = self._active.get(contractor_id)
        if track is None:
            self._live.put(
                LivePoint(contractor_id, lat, lng, ts, now, accuracy, p.heading, p.speed_mps)
            )
            return None
        job_id = track.job_id
        status = track.status
        eta: int | None = None
        distance: float | None = None
        if status != "in_progress":  # en_route or arrived
            exact = fast_distance_m(lat, lng, track.site_lat, track.site_lng)
            distance = round(exact, 1)
            eta = track.eta.update(exact, p.speed_mps, ts)
            if status == "arrived":
                eta = 0
            elif not track.arrival_pending:
                self._arrival_step(track, exact, ts)
        self._live.put(
            LivePoint(
                contractor_id,
                lat,
                lng,
                ts,
                now,
                accuracy,
                p.heading,
                p.speed_mps,
                job_id,
                eta,
                distance,
            )
        )
        if (
            ts - track.crumb_ts >= CRUMB_EVERY_MS
            or fast_distance_m(track.crumb_lat, track.crumb_lng, lat, lng) >= CRUMB_EVERY_M
        ):
            track.crumb_ts = ts
            track.crumb_lat = lat
            track.crumb_lng = lng
            self._crumbs.add(
                (job_id, ts, contractor_id, lat, lng, accuracy, p.heading, p.speed_mps)
            )
        return job_location(
            job_id, contractor_id, lat, lng, ts, p.heading, p.speed_mps, accuracy, eta, distance
        )

    def _fan_out(self, payload: dict[str, Any]) -> None:
        job_id: str = payload["job_id"]
        if self._relay is None:
            self.deliveries += self._notifier.job_location(job_id, payload)
        else:
            self._relay(job_id, payload)

    # ------------------------------------------------------------------ arrival
    def _arrival_step(self, track: JobTrack, distance_m: float, ts: float) -> None:
        """Two accepted points in a row within the radius, or one held 20 s, arrive."""
        if distance_m > ARRIVAL_RADIUS_M:
            track.inside_since = None
            track.inside_count = 0
            return
        if track.inside_since is None:
            track.inside_since = ts
            track.inside_count = 1
            return
        track.inside_count += 1
        self._arrive(track)

    def _held(self, contractor_id: str, ts: float) -> None:
        """An exact repeat of the last accepted point: the contractor did not move."""
        track = self._active.get(contractor_id)
        if (
            track is not None
            and track.status == "en_route"
            and not track.arrival_pending
            and track.inside_since is not None
            and ts - track.inside_since >= ARRIVAL_HOLD_MS
        ):
            self._arrive(track)

    def _arrive(self, track: JobTrack) -> None:
        track.arrival_pending = True
        task = asyncio.get_running_loop().create_task(
            self._move_to_arrived(track), name=f"arrival:{track.job_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _move_to_arrived(self, track: JobTrack) -> None:
        try:
            await self._statuses.transition(track.job_id, None, "system", "arrived", system=True)
            self.arrivals += 1
        except Conflict:
            pass  # moved meanwhile (the contractor said arrived, or cancelled)
        except Exception:
            log.exception("arrival transition failed", extra={"job_id": track.job_id})
        finally:
            track.arrival_pending = False

    async def close(self) -> None:
        """Cancel and await pending arrival transitions (the node is stopping)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
