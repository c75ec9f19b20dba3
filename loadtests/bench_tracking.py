"""Micro-benchmark of live tracking's hot path: CPU per location point, in process.

Usage::

    python loadtests/bench_tracking.py [--jobs 200] [--watchers 20] [--points 40000]
        [--no-uvloop] [--small]

Builds the hub's real objects (``hub.engine.server.create_sio``'s GuardedServer with the gateway,
``Tracker``, ``ActiveJobs`` holding one active en_route job per contractor, ``MemoryLiveState``,
``BreadcrumbWriter`` buffering without a database, ``Notifier`` with the
``RoomBroadcaster``), gives every job ``--watchers`` websocket members whose transports
accept writes and throw the bytes away, and has ``--jobs`` contractors drive towards their
sites at about 12 m/s, one point a second each (never within the arrival radius, so no
database is needed). Stages, each timed over every point:

1. ``parse``: ``hub.tracking.payloads.parse_point`` (msgspec + geo checks);
2. ``tracker``: parse + ``Tracker.ingest`` with the fan-out switched off (noise filter,
   live state, distance, ETA, breadcrumb sampling, the job:location payload);
3. ``tracker+fan-out``: the same with the room broadcaster writing one frame to each
   watcher's transport;
4. ``server path``: the Socket.IO text packet of ``location:update`` handed to python-socketio
   as the engine does it (packet decode, gateway dispatch, the handler, stage 3, the ack
   encoded and written). Only the websocket frame parsing of aiohttp is left out.

Prints µs per point and, for the stages that fan out, deliveries per second (points/s times
watchers) on one core. Wall clock with the cyclic GC on, as the server runs.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from hub.accounts.tokens import TokenCodec
from hub.engine.eio import HubSocket, Wire
from hub.engine.server import create_sio
from hub.jobs.status import JobStatusService
from hub.realtime.gateway import Gateway, Identity
from hub.realtime.notify import Notifier
from hub.tracking.active_jobs import ActiveJobs
from hub.tracking.breadcrumbs import BreadcrumbWriter
from hub.tracking.handlers import TrackingEvents
from hub.tracking.live_state import MemoryLiveState
from hub.tracking.payloads import parse_point
from hub.tracking.store import ActiveJob
from hub.tracking.tracker import Tracker
from hub.tracking.view import TrackView

M_PER_DEG = 111_200.0


class NullTransport(asyncio.Transport):
    """A websocket transport that takes every write and keeps nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.bytes = 0

    def write(self, data: Any) -> None:
        self.writes += 1
        self.bytes += len(data)

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False


class Rig:
    """The hub's hot-path objects with ``jobs`` contractors and ``watchers`` per job."""

    def __init__(self, jobs: int, watchers: int) -> None:
        self.sio = create_sio(None, (), 64 * 1024)
        tokens = TokenCodec("bench-secret-bench-secret-bench-secret", 3600, 3600)
        self.gateway = Gateway(tokens, ())
        self.sio.register_namespace(self.gateway)
        notifier = Notifier(self.sio)
        self.live = MemoryLiveState()
        self.active = ActiveJobs(None)
        self.crumbs = BreadcrumbWriter(None, max_pending=1_000_000)
        statuses = JobStatusService(None, notifier, None)  # type: ignore[arg-type]
        self.tracker = Tracker(self.live, self.active, notifier, self.crumbs, statuses)
        view = TrackView(None, self.live, self.crumbs)
        events = TrackingEvents(self.tracker, view, self.sio.enter_room, self.sio.leave_room)
        self.gateway.add_handlers(events.handlers())
        self.transports: list[NullTransport] = []
        self.contractors: list[tuple[str, str, float, float]] = []  # id, eio sid, site
        self._jobs = jobs
        self._watchers = watchers

    @classmethod
    async def build(cls, jobs: int, watchers: int) -> Rig:
        rig = cls(jobs, watchers)
        await rig._populate()
        return rig

    async def _populate(self) -> None:
        rnd = random.Random(5)
        manager = self.sio.manager
        for j in range(self._jobs):
            contractor_id = f"c{j}"
            site = (41.0 + rnd.random(), -88.0 + rnd.random())
            self.active._local[contractor_id] = 1
            self.active._apply(
                contractor_id,
                ActiveJob(f"j{j}", f"u{j}", contractor_id, "en_route", *site, datetime.now(UTC)),
            )
            eio_sid = self._socket()
            sid = await manager.connect(eio_sid, "/")
            self.gateway.identities[sid] = Identity(sid, contractor_id, "contractor", 4e9)
            self.contractors.append((contractor_id, eio_sid, *site))
            for _ in range(self._watchers):
                watcher_eio = self._socket()
                watcher_sid = await manager.connect(watcher_eio, "/")
                await manager.enter_room(watcher_sid, "/", f"job:j{j}")

    def _socket(self) -> str:
        eio = self.sio.eio
        eio_sid = eio.generate_id()
        sock = HubSocket(eio, eio_sid)
        sock.connected = True
        sock.upgraded = True
        transport = NullTransport()
        self.transports.append(transport)
        sock.wire = Wire(transport, eio.wire_monitor)
        eio.sockets[eio_sid] = sock
        return str(eio_sid)

    @property
    def deliveries(self) -> int:
        return sum(t.writes for t in self.transports)


def drive(rig: Rig, points: int) -> list[tuple[int, dict[str, Any]]]:
    """``points`` location:update payloads, round robin over the contractors, 1 s apart per
    contractor, starting 3 km north of each site and heading south at about 12 m/s."""
    out: list[tuple[int, dict[str, Any]]] = []
    start_ms = time.time() * 1000.0 - 86_400_000.0
    jobs = len(rig.contractors)
    rnd = random.Random(7)
    for n in range(points):
        k = n % jobs
        step = n // jobs
        _, _, lat, lng = rig.contractors[k]
        metres = 3000.0 - (step % 200) * 12.0 + rnd.uniform(-2.0, 2.0)
        if step % 200 == 199:
            metres += 1.0  # keep it > 100 m from the site: no arrivals, no database
        out.append(
            (
                k,
                {
                    "lat": lat + metres / M_PER_DEG,
                    "lng": lng + rnd.uniform(-1e-5, 1e-5),
                    "ts": start_ms + step * 1000.0,
                    "accuracy_m": round(rnd.uniform(3.0, 15.0), 1),
                    "heading": 180.0,
                    "speed_mps": round(rnd.uniform(10.0, 14.0), 2),
                },
            )
        )
    return out


def timed(label: str, count: int, run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) / count * 1e6


async def timed_async(count: int, run: Callable[[], Awaitable[None]]) -> float:
    started = time.perf_counter()
    await run()
    return (time.perf_counter() - started) / count * 1e6


async def bench(jobs: int, watchers: int, points: int) -> dict[str, float]:
    results: dict[str, float] = {}
    stream = drive(
        await Rig.build(jobs, watchers), points
    )  # payloads only; each stage gets a new rig

    results["parse"] = timed("parse", points, lambda: [parse_point(p) for _, p in stream])

    rig = await Rig.build(jobs, watchers)
    rig.tracker._fan_out = lambda payload: None  # type: ignore[method-assign]
    ids = [c[0] for c in rig.contractors]
    ingest = rig.tracker.ingest

    def tracker_only() -> None:
        for k, p in stream:
            ingest(ids[k], parse_point(p))

    results["tracker"] = timed("tracker", points, tracker_only)
    assert rig.tracker.accepted == points, rig.tracker.noise

    rig = await Rig.build(jobs, watchers)
    ids = [c[0] for c in rig.contractors]
    ingest = rig.tracker.ingest

    def with_fan_out() -> None:
        for k, p in stream:
            ingest(ids[k], parse_point(p))

    results["tracker+fan-out"] = timed("fan-out", points, with_fan_out)
    assert rig.deliveries == points * watchers, (rig.deliveries, points * watchers)

    rig = await Rig.build(jobs, watchers)
    eio_sids = [c[1] for c in rig.contractors]
    packets = [
        f'2{n % 1000}["location:update",{orjson.dumps(p).decode()}]'
        for n, (_, p) in enumerate(stream)
    ]
    handle = rig.sio._handle_eio_message

    async def server_path() -> None:
        for (k, _), packet in zip(stream, packets, strict=True):
            await handle(eio_sids[k], packet)

    results["server path"] = await timed_async(points, server_path)
    assert rig.tracker.accepted == points, rig.tracker.noise
    assert rig.deliveries == points * watchers + points, rig.deliveries  # + one ack each
    results["breadcrumbs per point"] = rig.crumbs.pending / points
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--watchers", type=int, default=20)
    parser.add_argument("--points", type=int, default=40_000)
    parser.add_argument("--no-uvloop", action="store_true")
    parser.add_argument("--small", action="store_true", help="CI size: 20 jobs, 2,000 points")
    args = parser.parse_args(argv)
    if args.small:
        args.jobs, args.points = 20, 2000
    coro = bench(args.jobs, args.watchers, args.points)
    if args.no_uvloop:
        results = asyncio.run(coro)
    else:
        import uvloop

        results = uvloop.run(coro)
    print(
        f"tracking hot path: {args.jobs} jobs x {args.watchers} watchers, "
        f"{args.points} points, python {sys.version.split()[0]}"
    )
    print(f"{'stage':<22}{'us/point':>10}{'deliveries/s':>16}")
    for stage in ("parse", "tracker", "tracker+fan-out", "server path"):
        us = results[stage]
        rate = (
            f"{args.watchers * 1e6 / us:,.0f}"
            if stage in ("tracker+fan-out", "server path")
            else ""
        )
        print(f"{stage:<22}{us:>10.2f}{rate:>16}")
    crumbs = results["breadcrumbs per point"]
    print(f"breadcrumb rows per point: {crumbs:.3f}")
    return 0 if not math.isnan(results["server path"]) else 1


if __name__ == "__main__":
    sys.exit(main())
