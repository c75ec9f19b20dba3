"""Arrival time estimates for a contractor travelling to a job.

Model: ``eta = remaining straight-line distance * DETOUR_FACTOR / speed``, where the
detour factor turns crow-flies distance into road distance, and the speed is an EWMA
(time constant :data:`SPEED_TAU_S`) of the contractor's recent speed, clamped to
[:data:`MIN_SPEED_MPS`, :data:`MAX_SPEED_MPS`]. Speed samples are the device's
``speed_mps`` when reported, else the rate at which the remaining distance shrinks
(times the detour factor). Before any sample, :data:`DEFAULT_SPEED_MPS` (30 km/h, urban
traffic) is used.

The ETA shown is smoothed so it does not jump from point to point: between two points
``dt`` seconds apart, the previous ETA counts down by ``dt`` and then moves towards the
new raw estimate by ``1 - exp(-dt / ETA_TAU_S)`` of the gap, but by at most
``max(MAX_DRIFT_S_PER_S, eta / DRIFT_TAU_S) * dt`` seconds (a short ETA moves at most 2 s
per second away from a plain countdown; a long one a few percent per second, so a
traffic jam shows up within minutes). It therefore always converges to the raw
estimate. Within :data:`ARRIVAL_RADIUS_M` of the job (the protocol's arrival distance)
the ETA is 0.
"""

from __future__ import annotations

import math

DETOUR_FACTOR = 1.3
DEFAULT_SPEED_MPS = 8.3
MIN_SPEED_MPS = 2.0
MAX_SPEED_MPS = 25.0
ARRIVAL_RADIUS_M = 100.0
SPEED_TAU_S = 60.0
ETA_TAU_S = 20.0
MAX_DRIFT_S_PER_S = 2.0
DRIFT_TAU_S = 60.0
RESET_GAP_S = 300.0
"""A gap between points longer than this starts the estimate afresh."""


def estimate_eta_s(distance_m: float, speed_mps: float | None = None) -> int:
    """Return a one-off ETA in seconds, without smoothing (used for match lists).

    Args:
        distance_m: Straight-line distance to the job in metres, >= 0.
        speed_mps: Known travel speed; ``None`` uses :data:`DEFAULT_SPEED_MPS`.
    """
    if distance_m <= ARRIVAL_RADIUS_M:
        return 0
    speed = DEFAULT_SPEED_MPS if speed_mps is None else _clamp_speed(speed_mps)
    return max(1, round(distance_m * DETOUR_FACTOR / speed))


def _clamp_speed(speed_mps: float) -> float:
    if not speed_mps >= MIN_SPEED_MPS:  # also catches NaN
        return MIN_SPEED_MPS
    return min(speed_mps, MAX_SPEED_MPS)


class EtaEstimator:
    """Smoothed ETA for one contractor travelling to one job. Small and cheap (about
    1 µs per update); keep one per tracked job and feed it every accepted point."""

    __slots__ = ("_distance_m", "_eta_s", "_speed_mps", "_ts_ms")

    def __init__(self) -> None:
        """Start with no history."""
        self._speed_mps: float | None = None
        self._eta_s: float | None = None
        self._distance_m: float | None = None
        self._ts_ms: float | None = None

    @property
    def speed_mps(self) -> float | None:
        """The smoothed travel speed, ``None`` until a sample arrived."""
        return self._speed_mps

    def update(self, distance_m: float, speed_mps: float | None, ts_ms: float) -> int:
        """Take a new point and return the ETA to show, in whole seconds.

        Args:
            distance_m: Straight-line distance from the point to the job, finite, >= 0.
            speed_mps: Device-reported speed, or ``None``; negative or non-finite
                values count as unknown.
            ts_ms: The point's device time in epoch milliseconds. Points older than the
                newest one seen are used for the distance but do not move time.

        Returns:
            0 within :data:`ARRIVAL_RADIUS_M`, otherwise at least 1.

        Raises:
            ValueError: ``distance_m`` is negative or not finite.
        """
        if not 0.0 <= distance_m < math.inf:
            raise ValueError("distance_m must be finite and >= 0")
        last_ts = self._ts_ms
        dt = 0.0 if last_ts is None else max(ts_ms - last_ts, 0.0) / 1000.0
        fresh = last_ts is None or dt > RESET_GAP_S
        sample = speed_mps if speed_mps is not None and speed_mps >= 0.0 else None
        if sample is not None and sample == math.inf:
            sample = None
        last_distance = self._distance_m
        if sample is None and not fresh and dt >= 1.0 and last_distance is not None:
            closing = (last_distance - distance_m) / dt
            if closing > 0.0:  # moving away or waiting says nothing about road speed
                sample = closing * DETOUR_FACTOR
        if sample is not None:
            sample = _clamp_speed(sample)
            if fresh or self._speed_mps is None:
                self._speed_mps = sample
            else:
                self._speed_mps += (1.0 - math.exp(-dt / SPEED_TAU_S)) * (sample - self._speed_mps)
        elif fresh:
            self._speed_mps = None
        self._distance_m = distance_m
        if last_ts is None or ts_ms > last_ts:
            self._ts_ms = ts_ms

        if distance_m <= ARRIVAL_RADIUS_M:
            self._eta_s = 0.0
            return 0
        raw = distance_m * DETOUR_FACTOR / (self._speed_mps or DEFAULT_SPEED_MPS)
        previous = self._eta_s
        if fresh or previous is None:
            eta = raw
        else:
            expected = max(previous - dt, 0.0)
            step = (1.0 - math.exp(-dt / ETA_TAU_S)) * (raw - expected)
            bound = max(MAX_DRIFT_S_PER_S, expected / DRIFT_TAU_S) * dt
            eta = expected + max(-bound, min(step, bound))
        self._eta_s = eta
        return max(1, round(eta))
