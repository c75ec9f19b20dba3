"""Tests for geo.eta: the ETA model, its smoothing and its cost."""

from __future__ import annotations

import itertools
import math
import random
import timeit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.eta import (
    ARRIVAL_RADIUS_M,
    DEFAULT_SPEED_MPS,
    DETOUR_FACTOR,
    DRIFT_TAU_S,
    MAX_DRIFT_S_PER_S,
    MAX_SPEED_MPS,
    MIN_SPEED_MPS,
    EtaEstimator,
    estimate_eta_s,
)


def test_one_off_estimate() -> None:
    assert estimate_eta_s(0.0) == 0
    assert estimate_eta_s(ARRIVAL_RADIUS_M) == 0
    assert estimate_eta_s(10_000.0) == round(10_000.0 * DETOUR_FACTOR / DEFAULT_SPEED_MPS)
    assert estimate_eta_s(10_000.0, 13.0) == round(10_000.0 * DETOUR_FACTOR / 13.0)
    assert estimate_eta_s(10_000.0, 0.0) == round(10_000.0 * DETOUR_FACTOR / MIN_SPEED_MPS)
    assert estimate_eta_s(10_000.0, 90.0) == round(10_000.0 * DETOUR_FACTOR / MAX_SPEED_MPS)
    assert estimate_eta_s(10_000.0, math.nan) == round(10_000.0 * DETOUR_FACTOR / MIN_SPEED_MPS)
    assert estimate_eta_s(100.5, MAX_SPEED_MPS) == 5


def test_first_point_is_the_raw_estimate() -> None:
    eta = EtaEstimator()
    assert eta.speed_mps is None
    assert eta.update(5_000.0, None, 0.0) == round(5_000.0 * DETOUR_FACTOR / DEFAULT_SPEED_MPS)
    other = EtaEstimator()
    assert other.update(5_000.0, 10.0, 0.0) == round(5_000.0 * DETOUR_FACTOR / 10.0)
    assert other.speed_mps == 10.0


def test_zero_within_arrival_radius() -> None:
    eta = EtaEstimator()
    eta.update(3_000.0, 10.0, 0.0)
    assert eta.update(ARRIVAL_RADIUS_M, 10.0, 60_000.0) == 0
    assert eta.update(20.0, None, 61_000.0) == 0
    assert eta.update(150.0, 5.0, 62_000.0) >= 1


def test_steady_approach_counts_down_smoothly() -> None:
    # Driving straight at 10 m/s (road distance = 1.3 x straight distance), with GPS
    # jitter of +-30 m; the ETA shown must fall steadily about 1 s per second.
    rng = random.Random(1)
    eta = EtaEstimator()
    road_speed = 10.0
    distance = 6_000.0
    shown = []
    t = 0.0
    while distance > 200.0:
        noisy = distance + rng.uniform(-30.0, 30.0)
        shown.append(eta.update(noisy, road_speed + rng.uniform(-1, 1), t * 1000.0))
        t += 2.0
        distance -= road_speed * 2.0 / DETOUR_FACTOR
    steps = [b - a for a, b in itertools.pairwise(shown)]
    assert all(-2 - 2 * MAX_DRIFT_S_PER_S <= step <= 2 * MAX_DRIFT_S_PER_S for step in steps)
    assert sum(1 for step in steps if step > 0) <= len(steps) // 10
    assert abs(shown[-1] - 200.0 * DETOUR_FACTOR / road_speed) < 15


def test_converges_after_a_change() -> None:
    # Stuck in traffic: the shown ETA drifts up at a bounded rate but reaches the truth.
    eta = EtaEstimator()
    eta.update(10_000.0, 12.0, 0.0)
    t = 0.0
    shown = 0
    previous = None
    for _ in range(400):
        t += 5.0
        shown = eta.update(10_000.0, 2.0, t * 1000.0)
        if previous is not None:
            bound = max(MAX_DRIFT_S_PER_S, previous / DRIFT_TAU_S) * 5.0
            assert shown - previous <= bound + 1
        previous = shown
    assert eta.speed_mps == pytest.approx(2.0, rel=0.01)
    assert shown == pytest.approx(10_000.0 * DETOUR_FACTOR / 2.0, rel=0.02)


def test_speed_derived_from_progress_when_not_reported() -> None:
    eta = EtaEstimator()
    t = 0.0
    distance = 8_000.0
    for _ in range(120):
        eta.update(distance, None, t * 1000.0)
        t += 5.0
        distance -= 5.0 * 6.0  # closing at 6 m/s straight line
    assert eta.speed_mps == pytest.approx(6.0 * DETOUR_FACTOR, rel=0.05)


def test_speed_is_clamped() -> None:
    eta = EtaEstimator()
    eta.update(5_000.0, 500.0, 0.0)
    assert eta.speed_mps == MAX_SPEED_MPS
    eta = EtaEstimator()
    eta.update(5_000.0, 0.0, 0.0)
    assert eta.speed_mps == MIN_SPEED_MPS


def test_unknown_speed_values_are_ignored() -> None:
    for bad in (-1.0, math.nan, math.inf):
        eta = EtaEstimator()
        eta.update(5_000.0, bad, 0.0)
        assert eta.speed_mps is None


def test_out_of_order_and_long_gaps() -> None:
    eta = EtaEstimator()
    first = eta.update(5_000.0, 10.0, 100_000.0)
    # An older point does not move time backwards (so it cannot add time).
    assert eta.update(5_000.0, 10.0, 50_000.0) <= first
    # After a long silence the estimate restarts from the raw value.
    assert eta.update(2_000.0, 5.0, 100_000.0 + 3_600_000.0) == round(2_000.0 * DETOUR_FACTOR / 5.0)


def test_bad_distance() -> None:
    eta = EtaEstimator()
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="distance_m"):
            eta.update(bad, None, 0.0)


@settings(database=None)
@given(
    points=st.lists(
        st.tuples(
            st.floats(0, 200_000),
            st.one_of(st.none(), st.floats(allow_nan=True)),
            st.floats(0, 10_000),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_always_a_sane_integer(points: list[tuple[float, float | None, float]]) -> None:
    eta = EtaEstimator()
    t = 0.0
    worst_raw = 0.0
    for distance, speed, dt in points:
        t += dt
        shown = eta.update(distance, speed, t)
        assert isinstance(shown, int) and shown >= 0
        assert (shown == 0) == (distance <= ARRIVAL_RADIUS_M)
        # Smoothing moves between the counted-down ETA and the new raw one, so it never
        # exceeds the slowest raw estimate seen.
        worst_raw = max(worst_raw, distance * DETOUR_FACTOR / MIN_SPEED_MPS)
        assert shown <= worst_raw + 1


def test_update_is_cheap() -> None:
    eta = EtaEstimator()
    state = {"t": 0.0, "d": 50_000.0}

    def step() -> None:
        state["t"] += 1000.0
        state["d"] = state["d"] - 7.0 if state["d"] > 1_000.0 else 50_000.0
        eta.update(state["d"], 9.0, state["t"])

    calls = 5_000
    best = min(timeit.repeat(step, number=calls, repeat=5))
    # Target < 5 µs per update (measured about 1.5 µs); loose for busy CI machines.
    assert best / calls < 20e-6
