"""The worker drains a backlog without starving the event loop: 2,000 pushes queued by one
event (a user with 2,000 devices), drained while a task measures how late the loop wakes it.

The lag is reported (``-s`` prints it, and it is a test property), not asserted: timings
on a shared machine are for the benchmark (``loadtests/bench_push_drain.py``)."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from api import keys
from tests.api.push_support import Client, fcm, push_settings, say
from tests.fakes.fcm import FakeFcm
from tests.hub.realtime_support import conversation
from tests.support.waiting import eventually

__all__ = ["fcm"]  # fixture

DEVICES = 2_000


async def test_draining_2000_pushes_keeps_the_loop_responsive(
    make_client: Any, fcm: FakeFcm, tmp_path: Path, record_property: Any
) -> None:
    hub: Client = await make_client(**push_settings(fcm, tmp_path, push_rate_per_s=100_000))
    pair = await conversation(hub)
    tokens = [f"{secrets.token_urlsafe(16)}:APA91b{i:06d}" for i in range(DEVICES)]
    async with hub.app[keys.POOL].acquire() as conn:  # 2,000 devices, registered by SQL
        await conn.executemany(
            "INSERT INTO devices (token, user_id, platform) VALUES ($1, $2, 'android')",
            [(t, pair.customer_id) for t in tokens],
        )
    lags: list[float] = []
    draining = True

    async def sample() -> None:
        loop = asyncio.get_running_loop()
        while draining:
            before = loop.time()
            await asyncio.sleep(0.005)
            lags.append(loop.time() - before - 0.005)

    sampler = asyncio.create_task(sample())
    started = time.monotonic()
    await say(hub, pair.contractor, pair.conversation_id, "to all your devices")
    try:
        await eventually(lambda: all(fcm.requests_to[t] for t in tokens), within=120)
        await eventually(lambda: sum(len(fcm.delivered_to(t)) for t in tokens[:1]) == 1)
    finally:
        elapsed = time.monotonic() - started
        draining = False
        await sampler
    counts = fcm.per_token()
    assert [counts[t] for t in tokens] == [1] * DEVICES
    lags.sort()
    p99 = lags[int(len(lags) * 0.99) - 1]
    record_property("push_drain_per_s", round(DEVICES / elapsed))
    record_property("loop_lag_p99_ms", round(p99 * 1000, 1))
    record_property("loop_lag_max_ms", round(lags[-1] * 1000, 1))
    print(
        f"\n{DEVICES} pushes in {elapsed:.2f} s ({DEVICES / elapsed:.0f}/s, hub and fake FCM"
        f" in one process); loop lag p50 {lags[len(lags) // 2] * 1000:.1f} ms,"
        f" p99 {p99 * 1000:.1f} ms, max {lags[-1] * 1000:.1f} ms over {len(lags)} samples"
    )
    async with hub.app[keys.POOL].acquire() as conn:  # nothing left for the next tests
        await conn.execute("DELETE FROM devices WHERE user_id = $1", pair.customer_id)


pytestmark = pytest.mark.slow
