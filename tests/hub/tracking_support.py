"""Helpers of the tracking tests: jobs on their way, points along a line, a settable clock.

Device times (``ts``) are chosen by the tests, a few minutes in the past of the real clock,
so the "more than 2 minutes in the future" rule never fires by accident; tests about that
rule (and the live state's staleness) start the app with a :class:`Clock` of their own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient

from api import keys
from api.app import create_app
from tests.api.jobs_support import assigned_job, set_status

Client = TestClient[Any, Any]


class Clock:
    """A server clock the test moves by hand (seconds since the epoch)."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def client_with_clock(
    aiohttp_client: Callable[..., Any], settings: Any, clock: Clock
) -> Client:
    app = create_app(settings)
    app[keys.TRACKING_CLOCK] = clock
    client: Client = await aiohttp_client(app)
    return client


def base_ts() -> float:
    """A device time 10 minutes ago, in ms: later points add seconds to it."""
    return math.floor(time.time() * 1000.0) - 600_000.0


def north(lat: float, lng: float, metres: float) -> tuple[float, float]:
    """The point ``metres`` north of ``(lat, lng)`` (WGS84 metres per degree of latitude at
    that latitude: exact to well under a metre over a few km)."""
    phi = math.radians(lat)
    per_degree = 111_132.954 - 559.822 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi)
    return lat + metres / per_degree, lng


def point(lat: float, lng: float, ts: float, **extra: Any) -> dict[str, Any]:
    return {"lat": lat, "lng": lng, "ts": ts, **extra}


@dataclass
class Tracked:
    """A job assigned to a contractor, with its site."""

    customer: dict[str, Any]
    contractor: dict[str, Any]
    job: dict[str, Any]

    @property
    def job_id(self) -> str:
        return str(self.job["id"])

    @property
    def contractor_id(self) -> str:
        return str(self.contractor["user"]["id"])

    @property
    def customer_id(self) -> str:
        return str(self.customer["user"]["id"])

    @property
    def site(self) -> tuple[float, float]:
        loc = self.job["location"]
        return float(loc["lat"]), float(loc["lng"])

    def at(self, metres_north: float, ts: float, **extra: Any) -> dict[str, Any]:
        """A point ``metres_north`` of the site at device time ``ts``."""
        lat, lng = north(*self.site, metres_north)
        return point(lat, lng, ts, **extra)


async def tracked_job(client: Client, status: str = "en_route") -> Tracked:
    """A customer's job assigned to a contractor and moved on to ``status``."""
    customer, contractor, job = await assigned_job(client)
    walk = ["en_route", "arrived", "in_progress", "completed"]
    if status != "assigned":
        for step in walk[: walk.index(status) + 1]:
            code, job = await set_status(client, contractor, job["id"], step)
            assert code == 200, job
    return Tracked(customer, contractor, job)
