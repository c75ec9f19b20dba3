"""A contractor's drive to the job site, as the phone's GPS would report it (pure, no I/O).

The route is two straight legs along a street grid: first north or south to the site's
latitude, then east or west to the site. Speed varies around the cruising speed the
way city traffic does, each fix carries a few metres of GPS noise, and once there the
van is parked: fixes keep coming, jittering within a few metres of the site, never
repeating exactly (the hub drops exact repeats as noise).

Every fix stays well inside the hub's noise filter: accuracy under 100 m, implied speed
far under 70 m/s, time strictly increasing.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

_M_PER_DEG_LAT = 111_320.0


@dataclass(frozen=True, slots=True)
class Fix:
    lat: float
    lng: float
    heading: float
    speed_mps: float
    accuracy_m: float

    def payload(self, ts_ms: float) -> dict[str, float]:
        """The ``location:update`` payload for this fix taken at ``ts_ms``."""
        return {
            "lat": round(self.lat, 7),
            "lng": round(self.lng, 7),
            "ts": ts_ms,
            "accuracy_m": self.accuracy_m,
            "heading": self.heading,
            "speed_mps": self.speed_mps,
        }


class Drive:
    """Walks a route one fix at a time.

    Args:
        start: ``(lat, lng)`` where the contractor is.
        site: ``(lat, lng)`` of the job.
        cruise_mps: typical speed (12 m/s is 43 km/h).
        seed: makes the noise reproducible.
    """

    def __init__(
        self,
        start: tuple[float, float],
        site: tuple[float, float],
        cruise_mps: float = 12.0,
        seed: int | str = 0,
    ) -> None:
        self._rnd = random.Random(seed)
        self._cos = math.cos(math.radians(site[0]))
        self._site = site
        corner = (site[0], start[1])
        self._legs = [(start, corner), (corner, site)]
        self._leg = 0
        self._pos = start
        self._cruise = cruise_mps
        self._speed = cruise_mps

    def _metres(self, a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
        """(north, east) metres from a to b (equirectangular: fine over a few km)."""
        return (b[0] - a[0]) * _M_PER_DEG_LAT, (b[1] - a[1]) * _M_PER_DEG_LAT * self._cos

    def _move(self, north: float, east: float) -> tuple[float, float]:
        return (
            self._pos[0] + north / _M_PER_DEG_LAT,
            self._pos[1] + east / (_M_PER_DEG_LAT * self._cos),
        )

    @property
    def arrived(self) -> bool:
        return self._leg >= len(self._legs)

    def remaining_m(self) -> float:
        north, east = self._metres(self._pos, self._site)
        return abs(north) + abs(east)

    def step(self, dt_s: float = 1.0) -> Fix:
        """Advance ``dt_s`` seconds and return the fix the phone reports."""
        rnd = self._rnd
        heading = 0.0
        if not self.arrived:
            # Traffic: drift around the cruising speed, now and then a stop.
            self._speed = min(max(self._speed + rnd.uniform(-2.0, 2.0), 3.0), self._cruise * 1.5)
            budget = self._speed * dt_s
            while budget > 0 and not self.arrived:
                _, end = self._legs[self._leg]
                north, east = self._metres(self._pos, end)
                dist = math.hypot(north, east)
                if dist > 0:
                    heading = math.degrees(math.atan2(east, north)) % 360
                if dist <= budget:
                    self._pos = end
                    budget -= dist
                    self._leg += 1
                else:
                    self._pos = self._move(north / dist * budget, east / dist * budget)
                    budget = 0
            speed = self._speed
        else:
            speed = 0.0
        accuracy = rnd.uniform(4.0, 12.0)
        # Noise within the reported accuracy; parked fixes wander a few metres.
        jitter = accuracy / 3 if speed else rnd.uniform(0.5, 3.0)
        angle = rnd.uniform(0, 2 * math.pi)
        lat, lng = self._move(jitter * math.cos(angle), jitter * math.sin(angle))
        return Fix(lat, lng, round(heading, 1), round(speed, 2), round(accuracy, 1))
