"""Units of tracking: payload validation, the job:location builder, job events between
nodes, the location relay, and the active-job cache's ordering of overlapping reads."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from typing import Any

import pytest

from hub.core.errors import ValidationFailed
from hub.engine.bus import MemoryBus
from hub.jobs.changes import JobEvent, JobEvents
from hub.realtime import events
from hub.tracking.active_jobs import ActiveJobs
from hub.tracking.payloads import Point, parse_batch, parse_point, parse_watch
from hub.tracking.relay import LocationRelay
from tests.support.waiting import eventually


def test_parse_point_takes_numbers_only() -> None:
    assert parse_point({"lat": 1, "lng": -2, "ts": 3}) == Point(1.0, -2.0, 3.0)
    full = {"lat": 1.5, "lng": 2.5, "ts": 1.7e12, "accuracy_m": 0, "heading": 360, "speed_mps": 0}
    assert parse_point(full) == Point(1.5, 2.5, 1.7e12, 0.0, 360.0, 0.0)
    assert parse_point({**full, "heading": None}).heading is None
    # iOS's -1 for an unknown course or speed: the fix is kept without the field
    ios = parse_point({**full, "heading": -1, "speed_mps": -1})
    assert (ios.heading, ios.speed_mps, ios.lat) == (None, None, 1.5)
    for bad, field in (
        ({"lat": math.nan, "lng": 0, "ts": 1}, "lat"),
        ({"lat": 0, "lng": math.inf, "ts": 1}, "lng"),
        ({"lat": 0, "lng": 0, "ts": math.nan}, "ts"),
        ({"lat": 0, "lng": 0, "ts": math.inf}, "ts"),
        ({"lat": 0, "lng": 0, "ts": 1, "accuracy_m": math.nan}, "accuracy_m"),
        ({"lat": 0, "lng": 0, "ts": 1, "speed_mps": math.inf}, "speed_mps"),
        ({"lat": 0, "lng": 0, "ts": 1, "heading": -1.5}, "heading"),
        ({"lat": 0, "lng": 0, "ts": 1, "speed_mps": -2}, "speed_mps"),
        ({"lat": 0, "lng": 0, "ts": 1, "heading": 361}, "heading"),
        ({"lat": False, "lng": 0, "ts": 1}, "lat"),
        ({"lat": 0, "lng": "0", "ts": 1}, "lng"),
        # a field it does not know never excuses a bad known one
        ({"lat": "0", "lng": 0, "ts": 1, "altitude_m": 3}, "lat"),
    ):
        with pytest.raises(ValidationFailed) as caught:
            parse_point(bad)
        assert caught.value.details == {"fields": {field: caught.value.details["fields"][field]}}
    # fields this version does not know (a newer app's, an older SDK's) are left out
    assert parse_point({**full, "altitude_m": 35.5, "speed": 3, "floor": {"n": 2}}) == Point(
        1.5, 2.5, 1.7e12, 0.0, 360.0, 0.0
    )


def test_parse_batch_and_watch() -> None:
    assert parse_batch({"points": []}) == []
    with pytest.raises(ValidationFailed) as caught:
        parse_batch({"points": [{"lat": 0, "lng": 0, "ts": 1}, {"lat": 0, "lng": 200, "ts": 2}]})
    assert "points[1].lng" in caught.value.details["fields"]  # type: ignore[index]
    assert parse_watch({"job_id": "j_1"}) == "j_1"
    assert parse_watch({"job_id": "j_1", "extra": 1}) == "j_1"
    with pytest.raises(ValidationFailed):
        parse_watch({"job_id": 1, "extra": 1})
    # unknown fields in the batch and in its points are left out, known ones still checked
    extra = {"lat": 0, "lng": 0, "ts": 1, "altitude_m": 3}
    assert parse_batch({"points": [extra], "sent_at": 5}) == [Point(0.0, 0.0, 1.0)]
    with pytest.raises(ValidationFailed) as caught:
        parse_batch({"points": [extra, {**extra, "ts": "2"}]})
    assert caught.value.details == {"fields": {"points[1].ts": "Expected `float`, got `str`"}}


def test_job_location_builder_leaves_out_what_is_unknown() -> None:
    assert events.job_location("j", "c", 1.0, 2.0, 3.0) == {
        "job_id": "j",
        "contractor_id": "c",
        "lat": 1.0,
        "lng": 2.0,
        "ts": 3.0,
    }
    full = events.job_location("j", "c", 1.0, 2.0, 3.0, 90.0, 5.0, 8.0, 0, 12.5)
    assert full == {
        "job_id": "j",
        "contractor_id": "c",
        "lat": 1.0,
        "lng": 2.0,
        "ts": 3.0,
        "heading": 90.0,
        "speed_mps": 5.0,
        "accuracy_m": 8.0,
        "eta_s": 0,
        "distance_m": 12.5,
    }


async def test_job_events_reach_this_node_at_once_and_other_nodes_once() -> None:
    bus = MemoryBus()
    here, there = JobEvents(bus, "here"), JobEvents(bus, "there")
    seen_here: list[JobEvent] = []
    seen_there: list[JobEvent] = []

    async def on_here(event: JobEvent) -> None:
        seen_here.append(event)

    async def on_there(event: JobEvent) -> None:
        seen_there.append(event)

    here.subscribe(on_here)
    there.subscribe(on_there)
    await here.start()
    await there.start()
    try:
        await here.publish(JobEvent("status", "j1", "en_route", "c1"))
        assert [e.job_id for e in seen_here] == ["j1"]  # before publish returned
        await eventually(lambda: seen_there)
        assert seen_there[0].status == "en_route" and seen_there[0].origin == "here"
        await there.publish(JobEvent("revoked", "j2"))
        await eventually(lambda: len(seen_here) == 2)
        await asyncio.sleep(0.05)  # the echo of our own events would have come by now
        assert [e.job_id for e in seen_here] == ["j1", "j2"]
        assert [e.job_id for e in seen_there] == ["j1", "j2"]
    finally:
        await here.close()
        await there.close()
        await bus.close()


async def test_relay_sends_the_newest_point_per_job() -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    gate = asyncio.Event()

    async def publish(job_id: str, payload: dict[str, Any]) -> None:
        await gate.wait()
        sent.append((job_id, payload))
        if payload.get("fail"):
            raise ConnectionError("bus down")

    relay = LocationRelay(publish)
    task = asyncio.create_task(relay.run())
    try:
        relay.offer("a", {"ts": 1, "fail": True})
        await asyncio.sleep(0)  # the task takes "a" and waits in publish
        relay.offer("a", {"ts": 2})
        relay.offer("b", {"ts": 1})
        relay.offer("a", {"ts": 3})  # replaces ts 2: never sent
        gate.set()
        await eventually(lambda: len(sent) == 3)
        assert sent == [("a", {"ts": 1, "fail": True}), ("a", {"ts": 3}), ("b", {"ts": 1})]
        assert relay.superseded == 1 and relay.published == 2 and relay.pending == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class _Conn:
    """Answers ``active_job_of`` with rows the test releases one by one."""

    def __init__(self, answers: asyncio.Queue[tuple[asyncio.Event, dict[str, Any] | None]]):
        self._answers = answers

    async def fetchrow(self, query: str, *args: Any) -> dict[str, Any] | None:
        gate, row = await self._answers.get()
        await gate.wait()
        return row


class _Pool:
    def __init__(self) -> None:
        self.answers: asyncio.Queue[tuple[asyncio.Event, dict[str, Any] | None]] = asyncio.Queue()

    def acquire(self) -> Any:
        pool = self

        class _Ctx:
            async def __aenter__(self) -> _Conn:
                return _Conn(pool.answers)

            async def __aexit__(self, *exc: object) -> None:
                return None

        return _Ctx()


def _row(job_id: str, status: str) -> dict[str, Any]:
    return {
        "id": job_id,
        "customer_id": "u1",
        "contractor_id": "c1",
        "status": status,
        "lat": 1.0,
        "lng": 2.0,
        "updated_at": datetime.now(UTC),
    }


async def test_of_overlapping_reads_the_last_started_decides() -> None:
    pool = _Pool()
    active = ActiveJobs(pool)  # type: ignore[arg-type]
    first, second = asyncio.Event(), asyncio.Event()
    await pool.answers.put((first, _row("j1", "en_route")))  # started first, answers last
    await pool.answers.put((second, None))  # the job ended meanwhile
    connecting = asyncio.create_task(active.connected("c1"))
    await asyncio.sleep(0)
    changed = asyncio.create_task(active.refresh("c1"))
    await asyncio.sleep(0)
    second.set()
    await changed
    first.set()
    await connecting
    assert active.get("c1") is None  # the stale first answer was not applied
    # the same job read again keeps its hot-path state; a new status resets arrival only
    gate = asyncio.Event()
    gate.set()
    await pool.answers.put((gate, _row("j2", "en_route")))
    await active.refresh("c1")
    track = active.get("c1")
    assert track is not None and track.job_id == "j2" and track.room == "job:j2"
    track.inside_count = 1
    await pool.answers.put((gate, _row("j2", "arrived")))
    await active.refresh("c1")
    assert active.get("c1") is track and track.status == "arrived" and track.inside_count == 0
    active.disconnected("c1")
    assert active.get("c1") is None and not active.is_local("c1")
    await active.refresh("c1")  # not connected here: nothing is read
    assert pool.answers.empty()
