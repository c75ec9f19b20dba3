"""location:update and location:batch over the real port: acceptance, every noise rule,
who may send, bad payloads, and the live position that matching uses."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from api import keys
from api.config import Settings
from tests.api.jobs_support import admin, contractor_at, post_job, spot
from tests.conftest import register
from tests.hub.realtime_support import Client, RawSocket, connected, port_of, token_of
from tests.hub.tracking_support import Clock, base_ts, client_with_clock, north, point, tracked_job

AiohttpClient = Callable[..., Any]


async def update(sock: Any, data: Any) -> Any:
    return await sock.call("location:update", data)


async def test_a_contractors_point_is_accepted_and_feeds_matching(client: Client) -> None:
    lat, lng = spot()
    contractor = await contractor_at(client, lat, lng)
    contractor_id = contractor["user"]["id"]
    customer = await register(client, "customer")
    job = await post_job(client, customer, lat, lng)

    async def distance() -> float:
        resp = await client.get(f"/api/v1/jobs/{job['id']}/matches", headers=customer["auth"])
        matches = await resp.json()
        [mine] = [m for m in matches if m["contractor"]["id"] == contractor_id]
        return float(mine["distance_m"])

    assert await distance() < 1.0  # no base: measured from the circle's centre, the site
    live_lat, live_lng = north(lat, lng, 3000)
    async with connected(client, token_of(contractor)) as sock:
        ack = await update(sock, point(live_lat, live_lng, base_ts(), accuracy_m=8.0))
        assert ack == {"ok": True, "accepted": True}
    assert client.app[keys.LIVE_STATE].position(contractor_id) == (live_lat, live_lng)
    assert 2990 < await distance() < 3010


async def test_noise_rules(aiohttp_client: AiohttpClient, settings: Settings) -> None:
    clock = Clock()
    client = await client_with_clock(aiohttp_client, settings, clock)
    t = await tracked_job(client)
    now_ms = clock.now * 1000.0
    async with connected(client, token_of(t.contractor)) as sock:

        async def accepted(p: dict[str, Any]) -> bool:
            ack = await update(sock, p)
            assert ack["ok"] is True, ack
            return bool(ack["accepted"])

        ts = now_ms - 300_000
        assert await accepted(t.at(2000, ts, accuracy_m=100.0))  # 100 m is not worse than 100
        # accuracy worse than 100 m
        assert not await accepted(t.at(1990, ts + 1000, accuracy_m=100.5))
        # not newer than the last accepted point: same ts, then older
        assert not await accepted(t.at(1990, ts, accuracy_m=5.0))
        assert not await accepted(t.at(1990, ts - 1, accuracy_m=5.0))
        # exact repeat of the last accepted point with a newer ts
        assert not await accepted(t.at(2000, ts + 1000, accuracy_m=100.0))
        # implied speed: 1,000 m in 10 s is 100 m/s; 600 m in 10 s is 60 m/s
        assert not await accepted(t.at(1000, ts + 10_000))
        assert await accepted(t.at(1400, ts + 10_000))
        # a rejected point moved nothing: the reference is still the 1,400 m point
        assert not await accepted(t.at(600, ts + 20_000))  # 80 m/s
        assert await accepted(t.at(800, ts + 20_000))  # 60 m/s
        # more than 2 minutes in the future of the server's clock
        assert not await accepted(t.at(790, now_ms + 120_001))
        assert await accepted(t.at(790, now_ms + 119_000))
        clock.advance(60)  # the server's "now" moved on: that ts is no longer too far ahead
        assert await accepted(t.at(780, now_ms + 120_001 + 60_000 - 1))
    tracker = client.app[keys.TRACKER]
    assert tracker.accepted == 5
    assert tracker.noise == {
        "accuracy": 1,
        "future": 1,
        "repeat": 1,
        "not_newer": 2,
        "speed": 2,
    }


async def test_a_repeat_with_other_fields_changed_is_a_new_point(client: Client) -> None:
    t = await tracked_job(client)
    ts = base_ts()
    async with connected(client, token_of(t.contractor)) as sock:
        assert (await update(sock, t.at(500, ts, heading=90.0)))["accepted"] is True
        assert (await update(sock, t.at(500, ts + 1000, heading=90.0)))["accepted"] is False
        assert (await update(sock, t.at(500, ts + 2000, heading=95.0)))["accepted"] is True


async def test_batch_counts_the_accepted_points(client: Client) -> None:
    t = await tracked_job(client)
    ts = base_ts()
    points = [
        t.at(3000, ts),
        t.at(2990, ts + 1000),
        t.at(2990, ts + 2000),  # exact repeat
        t.at(2980, ts + 3000, accuracy_m=250.0),  # inaccurate
        t.at(2970, ts + 3000),  # accepted: the inaccurate point set no reference
        t.at(2960, ts + 2500),  # older than the last accepted
        t.at(2950, ts + 4000),
    ]
    async with connected(client, token_of(t.contractor)) as sock:
        assert await sock.call("location:batch", {"points": points}) == {"ok": True, "accepted": 4}
        assert await sock.call("location:batch", {"points": []}) == {"ok": True, "accepted": 0}
        # the whole batch again: nothing is newer than what was accepted
        assert await sock.call("location:batch", {"points": points}) == {"ok": True, "accepted": 0}
    latest = client.app[keys.LIVE_STATE].latest(t.contractor_id)
    assert latest is not None and latest.ts == ts + 4000


async def test_only_contractors_send_locations(client: Client) -> None:
    t = await tracked_job(client)
    staff = await admin(client)
    p = t.at(100, base_ts())
    for who in (t.customer, staff):
        async with connected(client, token_of(who)) as sock:
            for event, data in (("location:update", p), ("location:batch", {"points": [p]})):
                ack = await sock.call(event, data)
                assert ack["ok"] is False and ack["error"]["code"] == "forbidden", ack
    assert client.app[keys.TRACKER].accepted == 0


BAD_UPDATES: list[tuple[Any, str]] = [
    ({"lat": "51.5", "lng": 0.1, "ts": 1.7e12}, "lat"),
    ({"lat": 51.5, "lng": True, "ts": 1.7e12}, "lng"),
    ({"lat": 91.0, "lng": 0.1, "ts": 1.7e12}, "lat"),
    ({"lat": 51.5, "lng": -180.5, "ts": 1.7e12}, "lng"),
    ({"lat": 51.5, "lng": 0.1}, "body"),
    ({"lat": 51.5, "lng": 0.1, "ts": "1700000000000"}, "ts"),
    ({"lat": 51.5, "lng": 0.1, "ts": -5}, "ts"),
    ({"lat": 51.5, "lng": 0.1, "ts": 1e300}, "ts"),
    ({"lat": 51.5, "lng": 0.1, "ts": 1.7e12, "accuracy_m": -1}, "accuracy_m"),
    ({"lat": 51.5, "lng": 0.1, "ts": 1.7e12, "heading": 361}, "heading"),
    ({"lat": 51.5, "lng": 0.1, "ts": 1.7e12, "speed_mps": "fast"}, "speed_mps"),
    # beside fields this version does not know, known ones are still checked
    ({"lat": 51.5, "lng": 0.1, "ts": 1.7e12, "accuracy": 5, "accuracy_m": "5"}, "accuracy_m"),
    ({"lat": None, "lng": 0.1, "ts": 1.7e12}, "lat"),
    ([51.5, 0.1], "payload"),
    ("51.5,0.1", "payload"),
    (None, "payload"),
]


async def test_bad_payloads_are_refused_and_harmless(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    t = await tracked_job(client)
    async with connected(client, token_of(t.contractor)) as sock:
        for data, field in BAD_UPDATES:
            ack = await update(sock, data)
            assert ack["ok"] is False and ack["error"]["code"] == "validation_error", (data, ack)
            assert field in ack["error"]["details"]["fields"] or field == "body", (data, ack)
        bad_batch: list[tuple[Any, str]] = [
            (
                {"points": [t.at(10, base_ts()), {"lat": 1.0, "lng": 2.0, "ts": "x"}]},
                "points[1].ts",
            ),
            (
                {"points": [t.at(10, base_ts()), {**t.at(20, base_ts() + 1), "lat": 999}]},
                "points[1].lat",
            ),
            ({"points": "many"}, "points"),
            ({"points": [t.at(0, base_ts() + i) for i in range(1001)]}, "points"),
            ({}, "body"),
        ]
        for data, field in bad_batch:
            ack = await sock.call("location:batch", data)
            assert ack["ok"] is False and ack["error"]["code"] == "validation_error", (field, ack)
            assert field in str(ack["error"]), (field, ack)
        # nothing of the refused batches was taken, and the socket still works
        assert client.app[keys.TRACKER].accepted == 0
        assert (await update(sock, t.at(300, base_ts())))["accepted"] is True
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_non_finite_numbers_are_refused(client: Client) -> None:
    t = await tracked_job(client)
    async with connected(client, token_of(t.contractor)) as sock:
        # python-socketio sends NaN and infinities as null: refused where a number is
        # required (an optional field sent as null counts as absent)
        for bad, field in (
            (point(float("nan"), 0.0, base_ts()), "lat"),
            (point(1.0, float("-inf"), base_ts()), "lng"),
            (point(1.0, 0.0, float("inf")), "ts"),
        ):
            ack = await update(sock, bad)
            assert ack["ok"] is False and ack["error"]["code"] == "validation_error", ack
            assert field in ack["error"]["details"]["fields"], ack


async def test_non_json_numbers_drop_only_the_sender(client: Client) -> None:
    """A raw ``NaN`` or ``Infinity`` token is not JSON: the transport refuses the packet and
    drops its sender (``hub.engine.guard``); the hub and other sockets carry on."""
    t = await tracked_job(client)
    async with connected(client, token_of(t.customer)) as bystander:
        for token in ("NaN", "Infinity", "1e999"):
            raw = await RawSocket.open(port_of(client))
            try:
                await raw.connect(token_of(t.contractor))
                raw.send(f'421["location:update",{{"lat":{token},"lng":0,"ts":1.7e12}}]')
                assert await raw.closed_by_server(), token
            finally:
                await raw.close()
        ack = await bystander.call("job:watch", {"job_id": t.job_id})
        assert ack["ok"] is True
    async with connected(client, token_of(t.contractor)) as again:
        assert (await update(again, t.at(50, base_ts())))["accepted"] is True


async def test_the_live_position_goes_stale_after_5_minutes(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    clock = Clock()
    client = await client_with_clock(aiohttp_client, settings, clock)
    t = await tracked_job(client)
    live = client.app[keys.LIVE_STATE]
    async with connected(client, token_of(t.contractor)) as sock:
        assert (await update(sock, t.at(700, base_ts())))["accepted"] is True
    lat, lng = north(*t.site, 700)
    assert live.position(t.contractor_id) == (lat, lng)
    clock.advance(299)
    assert live.position(t.contractor_id) == (lat, lng)
    clock.advance(1)
    assert live.position(t.contractor_id) is None  # matching falls back to base or area
    latest = live.latest(t.contractor_id)
    assert latest is not None and latest.job_id == t.job_id  # still the filter's reference
