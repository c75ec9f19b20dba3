"""Feature context of live tracking: location ingest, job watching, share links.

Starts after the database and the jobs feature. Builds the live state (the implementation
``create_app`` chose, on this feature's clock), the per-node active-job cache, the
tracker, the read side and share links; plugs live positions into matching, follows status
changes (``JobStatusService`` hook and the bus), wires the gateway's share-link verifier and
socket events, and owns the background tasks: the breadcrumb writer, housekeeping (live
state sweep, metrics), and on several nodes the location relay. They are cancelled and
awaited on shutdown, then the pending breadcrumbs and live positions are written.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from aiohttp import web

from api import keys
from api.metrics import Metrics
from geo.distance import fast_distance_m
from geo.eta import estimate_eta_s
from hub.engine.manager import BusManager
from hub.jobs.changes import JobEvent, JobEvents
from hub.jobs.store import Job
from hub.realtime.events import JOB_LOCATION
from hub.realtime.gateway import Identity
from hub.realtime.notify import Notifier
from hub.tracking.active_jobs import ActiveJobs
from hub.tracking.breadcrumbs import BreadcrumbWriter
from hub.tracking.handlers import TrackingEvents
from hub.tracking.live_state import LiveState
from hub.tracking.relay import LocationRelay
from hub.tracking.share import ShareLinks
from hub.tracking.tracker import Tracker
from hub.tracking.view import TrackView

HOUSEKEEPING_S = 1.0
SWEEP_EVERY = 30  # housekeeping rounds between two live-state sweeps


async def tracking_feature(app: web.Application) -> AsyncIterator[None]:
    pool = app[keys.POOL]
    notifier = app[keys.NOTIFIER]
    gateway = app[keys.GATEWAY]
    sio = app[keys.SIO]
    backends = app[keys.BACKENDS]
    statuses = app[keys.JOB_STATUS]
    clock = app.get(keys.TRACKING_CLOCK, time.time)

    live = backends.live_state(clock)
    app[keys.MATCHER].use_live_positions(live.position)
    active = ActiveJobs(pool)
    job_events = JobEvents(app[keys.BUS])
    crumbs = BreadcrumbWriter(pool)
    relay = _relay(app[keys.MANAGER], notifier) if backends.several_nodes else None
    tracker = Tracker(
        live, active, notifier, crumbs, statuses, clock, relay.offer if relay else None
    )
    view = TrackView(pool, live, crumbs)
    shares = ShareLinks(pool, app[keys.TOKENS], gateway.identities, sio.drop, job_events)
    app[keys.LIVE_STATE] = live
    app[keys.TRACKER] = tracker
    app[keys.TRACK_VIEW] = view
    app[keys.SHARE_LINKS] = shares

    job_events.subscribe(active.on_job_event)
    job_events.subscribe(shares.on_job_event)

    async def status_changed(job: Job) -> None:
        await job_events.publish(JobEvent("status", job.id, job.status, job.contractor_id))

    statuses.add_listener(status_changed)

    def eta_of(job: Job) -> int | None:
        position = live.position(job.contractor_id) if job.contractor_id else None
        if position is None:
            return None
        return estimate_eta_s(fast_distance_m(position[0], position[1], job.lat, job.lng))

    statuses.use_eta(eta_of)  # the en_route push says when the contractor should arrive

    async def connected(identity: Identity) -> None:
        if identity.role == "contractor" and identity.user_id is not None:
            await live.prime(identity.user_id)
            await active.connected(identity.user_id)

    async def disconnected(identity: Identity) -> None:
        if identity.role == "contractor" and identity.user_id is not None:
            active.disconnected(identity.user_id)

    gateway.use_share_verifier(shares.resolve)
    gateway.add_handlers(TrackingEvents(tracker, view, sio.enter_room, sio.leave_room).handlers())
    gateway.on_connected(connected)
    gateway.on_disconnected(disconnected)

    await live.start()
    await job_events.start()
    jobs: list[Coroutine[Any, Any, None]] = [
        crumbs.run(),
        _housekeeping(tracker, relay, live, crumbs, app[keys.METRICS]),
    ]
    if relay is not None:
        jobs.append(relay.run())
    tasks = [asyncio.create_task(job, name="tracking") for job in jobs]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await tracker.close()
        await crumbs.close()
        await job_events.close()
        await live.close()


def _relay(manager: BusManager, notifier: Notifier) -> LocationRelay:
    """Several nodes: points go through the manager's ``publish_latest``, and each node with
    watchers delivers them with the room broadcaster."""
    relay = LocationRelay(notifier.job_location_all_nodes)

    def deliver(room: str, event: str, data: Any, key: str, skip_sid: str | None) -> None:
        if event == JOB_LOCATION and isinstance(data, dict):
            relay.delivered += notifier.job_location(key, data, room)

    manager.on_latest(deliver)
    return relay


async def _housekeeping(
    tracker: Tracker,
    relay: LocationRelay | None,
    live: LiveState,
    crumbs: BreadcrumbWriter,
    metrics: Metrics,
) -> None:
    """Export the hot path's plain counters to Prometheus; sweep the live state."""
    metrics.gauge(
        "tradeshub_breadcrumbs_pending", "Breadcrumb rows waiting to be written.", _len(crumbs)
    )
    metrics.gauge(
        "tradeshub_live_state_pending",
        "Live positions waiting to be written to Redis (at most one per contractor).",
        lambda: float(live.pending),
    )
    exported: dict[str, int] = {}

    def export(label: str, value: int, counter: Any) -> None:
        delta = value - exported.get(label, 0)
        if delta > 0:
            counter.inc(delta)
            exported[label] = value

    rounds = 0
    while True:
        await asyncio.sleep(HOUSEKEEPING_S)
        rounds += 1
        export("accepted", tracker.accepted, metrics.location_points.labels("accepted"))
        for reason, count in tracker.noise.items():
            export(reason, count, metrics.location_points.labels(reason))
        # this node's deliveries: its own points' (one node) or every node's points relayed
        # to this node's watchers (several nodes)
        delivered = tracker.deliveries + (relay.delivered if relay is not None else 0)
        export("deliveries", delivered, metrics.deliveries.labels("job_location"))
        export("live_writes", live.write_failures, metrics.live_state_write_failures)
        if rounds % SWEEP_EVERY == 0:
            live.sweep()


def _len(crumbs: BreadcrumbWriter) -> Callable[[], float]:
    return lambda: float(crumbs.pending)
