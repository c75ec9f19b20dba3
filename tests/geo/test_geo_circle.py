"""Tests for geo.circle: the exact coverage rules and the bounds they rely on."""

from __future__ import annotations

import math
import random

from geographiclib.geodesic import Geodesic  # type: ignore[import-untyped,unused-ignore]
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.circle import (
    CHORD_ARC_RADIUS_M,
    chord_thresholds_sq,
    circle_bboxes,
    circle_covers,
    circle_ring,
    ecef_m,
)
from geo.distance import geodesic_latlng_m

SLOW = settings(deadline=None, database=None, max_examples=150)


def _destination(lat: float, lng: float, azimuth: float, distance_m: float) -> tuple[float, float]:
    point = Geodesic.WGS84.Direct(lat, lng, azimuth, distance_m)
    return float(point["lat2"]), (float(point["lon2"]) + 180.0) % 360.0 - 180.0


def _chord(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.dist(ecef_m(*a), ecef_m(*b))


def test_ecef_known_points() -> None:
    x, y, z = ecef_m(0.0, 0.0)
    assert (x, y, z) == (6_378_137.0, 0.0, 0.0)
    x, y, z = ecef_m(90.0, 0.0)
    assert abs(x) < 1e-6 and abs(y) < 1e-6 and abs(z - 6_356_752.314245) < 1e-3


def test_chord_brackets_the_geodesic_on_many_pairs() -> None:
    # geodesic >= chord always; geodesic <= arc of radius CHORD_ARC_RADIUS_M over the
    # chord: the two facts the index's exact circle test rests on.
    rng = random.Random(7)
    for i in range(4_000):
        lat = rng.uniform(-90, 90) if i % 3 else rng.choice((-1, 1)) * rng.uniform(80, 90)
        lng = rng.uniform(-180, 180)
        b = _destination(lat, lng, rng.uniform(0, 360), rng.uniform(0, 400_000))
        geodesic = geodesic_latlng_m(lat, lng, *b)
        chord = _chord((lat, lng), b)
        arc = 2 * CHORD_ARC_RADIUS_M * math.asin(chord / (2 * CHORD_ARC_RADIUS_M))
        assert chord <= geodesic + 1e-6
        assert geodesic <= arc + 1e-6


@SLOW
@given(
    lat=st.floats(-90, 90),
    lng=st.floats(-180, 180),
    radius_m=st.floats(500, 200_000),
    azimuth=st.floats(0, 360),
    fraction=st.floats(0.9, 1.1),
)
def test_chord_thresholds_agree_with_the_geodesic(
    lat: float, lng: float, radius_m: float, azimuth: float, fraction: float
) -> None:
    point = _destination(lat, lng, azimuth, radius_m * fraction)
    geodesic = geodesic_latlng_m(lat, lng, *point)
    inside_sq, outside_sq = chord_thresholds_sq(radius_m)
    chord_sq = _chord((lat, lng), point) ** 2
    if chord_sq <= inside_sq:
        assert geodesic <= radius_m
    if chord_sq > outside_sq:
        assert geodesic > radius_m
    assert circle_covers(lat, lng, radius_m, *point) == (geodesic <= radius_m)


def test_chord_band_is_thin() -> None:
    inside_sq, outside_sq = chord_thresholds_sq(40_000.0)
    assert math.sqrt(outside_sq) - math.sqrt(inside_sq) < 0.1


@SLOW
@given(
    lat=st.floats(-90, 90),
    lng=st.floats(-180, 180),
    radius_m=st.floats(500, 200_000),
    azimuth=st.floats(0, 360),
    fraction=st.floats(0.0, 1.5),
)
def test_circle_covers_is_the_geodesic_rule(
    lat: float, lng: float, radius_m: float, azimuth: float, fraction: float
) -> None:
    point = _destination(lat, lng, azimuth, radius_m * fraction)
    expected = geodesic_latlng_m(lat, lng, *point) <= radius_m
    assert circle_covers(lat, lng, radius_m, *point) == expected
    if expected:
        assert any(box.contains(*point) for box in circle_bboxes(lat, lng, radius_m))


def test_circle_exactly_on_the_edge() -> None:
    for azimuth in (0.0, 45.0, 90.0, 200.0):
        point = _destination(10.0, 20.0, azimuth, 5_000.0)
        exact = geodesic_latlng_m(10.0, 20.0, *point)
        assert circle_covers(10.0, 20.0, exact, *point)
        assert not circle_covers(10.0, 20.0, exact - 1e-4, *point)


def test_bboxes_shapes() -> None:
    assert len(circle_bboxes(0.0, 0.0, 10_000.0)) == 1
    west, east = sorted(circle_bboxes(0.0, 179.95, 10_000.0), key=lambda b: b.min_lng)
    assert west.min_lng == -180.0 and east.max_lng == 180.0
    (polar,) = circle_bboxes(89.95, 0.0, 10_000.0)
    assert polar.max_lat == 90.0 and polar.min_lng == -180.0 and polar.max_lng == 180.0


def test_ring_winds_around_enclosed_poles() -> None:
    ring, pole = circle_ring(89.9, 30.0, 50_000.0)
    assert pole == 1 and ring[-1][0] - ring[0][0] == 360.0
    ring, pole = circle_ring(-89.9, 30.0, 50_000.0)
    assert pole == -1 and ring[-1][0] - ring[0][0] == -360.0
    ring, pole = circle_ring(0.0, 179.9, 50_000.0)
    assert pole == 0 and ring[-1] == ring[0] and max(lng for lng, _ in ring) > 180.0
