"""JobEvents, the job changes live tracking follows on every node: a node runs its own events
at once and the others' from the bus; an event it cannot decode (a node of another release)
or a handler that fails is logged and skipped, and the next event is served as usual.

Two nodes share one bus: a MemoryBus (one process), or two RedisBus views of one Redis."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from hub.engine.bus import Bus, MemoryBus
from hub.engine.bus_redis import RedisBus
from hub.jobs.changes import CHANNEL, JobEvent, JobEvents
from tests.conftest import REDIS_URL
from tests.support.waiting import eventually

Seen = list[tuple[str, JobEvent]]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def two_buses(request: Any) -> AsyncIterator[tuple[Bus, Bus]]:
    if request.param == "memory":
        bus = MemoryBus()
        yield bus, bus
        await bus.close()
        return
    prefix = f"test:{secrets.token_hex(4)}:"
    clients = [Redis.from_url(REDIS_URL) for _ in range(2)]
    buses = [RedisBus(c, prefix=prefix) for c in clients]
    for node_bus in buses:
        await node_bus.start()
    yield buses[0], buses[1]
    for node_bus in buses:
        await node_bus.close()
    for client in clients:
        await client.aclose()


def _recorder(seen: Seen, name: str) -> Callable[[JobEvent], Awaitable[None]]:
    async def handler(event: JobEvent) -> None:
        seen.append((name, event))

    return handler


async def _node(bus: Bus, seen: Seen, name: str) -> JobEvents:
    events = JobEvents(bus)
    events.subscribe(_recorder(seen, name))
    await events.start()
    return events


async def test_each_node_runs_an_event_once(two_buses: tuple[Bus, Bus]) -> None:
    seen: Seen = []
    a = await _node(two_buses[0], seen, "a")
    b = await _node(two_buses[1], seen, "b")
    try:
        event = JobEvent("status", "j_1", status="en_route", contractor_id="u_1")
        await a.publish(event)
        assert seen == [("a", event)]  # this node's handlers ran before publish returned
        await eventually(lambda: len(seen) == 2)
        assert seen[1][0] == "b" and seen[1][1].job_id == "j_1"
        assert seen[1][1].status == "en_route"
        await b.publish(JobEvent("revoked", "j_2"))
        await eventually(lambda: len(seen) == 4)
        assert [(name, e.kind, e.job_id) for name, e in seen[2:]] == [
            ("b", "revoked", "j_2"),
            ("a", "revoked", "j_2"),
        ]
    finally:
        await a.close()
        await b.close()


async def test_an_undecodable_event_is_logged_and_the_next_one_served(
    two_buses: tuple[Bus, Bus], caplog: pytest.LogCaptureFixture
) -> None:
    seen: Seen = []
    node = await _node(two_buses[1], seen, "node")
    caplog.set_level(logging.WARNING, logger="hub.jobs.changes")
    try:
        for raw in (b"not json", b'{"kind": "exploded", "job_id": "j_1"}', b'{"job_id": 7}'):
            await two_buses[0].publish(CHANNEL, raw)
        await two_buses[0].publish(CHANNEL, b'{"kind": "status", "job_id": "j_9", "origin": "x"}')
        await eventually(lambda: len(seen) == 1)
        assert seen[0][1] == JobEvent("status", "j_9", origin="x")
        warnings = [r.getMessage() for r in caplog.records if r.name == "hub.jobs.changes"]
        assert warnings == ["undecodable job event on the bus"] * 3
    finally:
        await node.close()


async def test_a_failing_handler_does_not_stop_the_others_or_the_publisher(
    two_buses: tuple[Bus, Bus], caplog: pytest.LogCaptureFixture
) -> None:
    seen: Seen = []
    a = JobEvents(two_buses[0])
    calls = 0

    async def broken(event: JobEvent) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("cache exploded")

    a.subscribe(broken)
    a.subscribe(_recorder(seen, "a"))
    await a.start()
    b = await _node(two_buses[1], seen, "b")
    caplog.set_level(logging.ERROR, logger="hub.jobs.changes")
    try:
        await a.publish(JobEvent("status", "j_3", status="completed"))  # does not raise
        await eventually(lambda: [name for name, _ in seen] == ["a", "b"])
        assert calls == 1
        failures = [r for r in caplog.records if r.getMessage() == "job event handler failed"]
        assert [getattr(r, "job_id", None) for r in failures] == ["j_3"]
    finally:
        await a.close()
        await b.close()
