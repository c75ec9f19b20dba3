"""Tests for geo.areas: parsing, validation, circles, antimeridian and poles."""

from __future__ import annotations

import math
from typing import Any

import pytest
import shapely  # type: ignore[import-untyped,unused-ignore]
from geographiclib.geodesic import Geodesic  # type: ignore[import-untyped,unused-ignore]
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.areas import MAX_VERTICES, ServiceArea, parse_service_area
from geo.distance import geodesic_latlng_m
from geo.ellipsoid_area import AUTHALIC_RADIUS_M, ring_area_m2
from geo.types import GeoValidationError, Position

SLOW = settings(deadline=None, database=None, max_examples=60)


def _square(lng: float, lat: float, size: float) -> list[list[float]]:
    return [[lng, lat], [lng + size, lat], [lng + size, lat + size], [lng, lat + size], [lng, lat]]


def _polygon(*rings: list[Any]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


def _destination(lat: float, lng: float, azimuth: float, distance_m: float) -> tuple[float, float]:
    point = Geodesic.WGS84.Direct(lat, lng, azimuth, distance_m)
    return float(point["lat2"]), (float(point["lon2"]) + 180.0) % 360.0 - 180.0


def _regular_ring(lng: float, lat: float, radius_deg: float, count: int) -> list[list[float]]:
    ring = [
        [
            lng + radius_deg * math.cos(2 * math.pi * i / count),
            lat + radius_deg * math.sin(2 * math.pi * i / count),
        ]
        for i in range(count)
    ]
    return [*ring, ring[0]]


# --- circles ---------------------------------------------------------------------------


def test_circle_parses_and_serialises() -> None:
    area = parse_service_area({"center": {"lat": 41.88, "lng": -87.63}, "radius_km": 25})
    assert area.kind == "circle"
    assert area.center == Position(41.88, -87.63)
    assert area.radius_m == 25_000.0
    assert area.to_json() == {"center": {"lat": 41.88, "lng": -87.63}, "radius_km": 25.0}
    assert area.area_m2 == pytest.approx(math.pi * 25_000.0**2, rel=1e-3)
    assert parse_service_area(area.to_json()).to_json() == area.to_json()


def test_circle_at_60n_is_50_km_in_every_direction() -> None:
    area = parse_service_area({"center": {"lat": 60.0, "lng": 24.9}, "radius_km": 50})
    for azimuth in range(0, 360, 15):
        inside = _destination(60.0, 24.9, azimuth, 49_990.0)
        outside = _destination(60.0, 24.9, azimuth, 50_010.0)
        assert area.covers(*inside), azimuth
        assert not area.covers(*outside), azimuth
    # Its polygon outline hugs the circle from outside in every direction.
    exterior = area.geometry.exterior.coords
    for lng, lat in exterior:
        assert 50_000.0 <= geodesic_latlng_m(60.0, 24.9, lat, lng) <= 50_000.0 * 1.0013
    # Not an ellipse in degrees: the longitude half-width is twice the latitude one.
    min_lng, min_lat, max_lng, max_lat = area.geometry.bounds
    assert (max_lng - min_lng) / (max_lat - min_lat) == pytest.approx(2.0, rel=0.02)


def test_circle_boundary_is_geodesic_exact() -> None:
    area = parse_service_area({"center": {"lat": -33.0, "lng": 151.0}, "radius_km": 10})
    on_edge = _destination(-33.0, 151.0, 77.0, 10_000.0 - 1e-6)
    just_out = _destination(-33.0, 151.0, 77.0, 10_000.0 + 1e-3)
    assert area.covers(*on_edge)
    assert not area.covers(*just_out)


def test_circle_across_the_antimeridian() -> None:
    area = parse_service_area({"center": {"lat": -16.5, "lng": 179.9}, "radius_km": 50})
    assert area.covers(-16.5, 179.9)
    assert area.covers(-16.5, -179.8)  # about 32 km east, across 180
    assert not area.covers(-16.5, -179.3)
    geometry = area.geometry
    assert geometry.geom_type == "MultiPolygon" and geometry.is_valid
    min_lng, _, max_lng, _ = geometry.bounds
    assert min_lng == -180.0 and max_lng == 180.0
    assert shapely.intersects_xy(geometry, -179.8, -16.5)
    assert len(area.bboxes) == 2


def test_circle_around_the_north_pole() -> None:
    area = parse_service_area({"center": {"lat": 89.8, "lng": 45.0}, "radius_km": 60})
    assert area.covers(90.0, 0.0) and area.covers(89.8, 45.0) and area.covers(89.9, -135.0)
    geometry = area.geometry
    assert geometry.is_valid and geometry.geom_type == "Polygon"
    assert geometry.bounds[2] - geometry.bounds[0] == 360.0 and geometry.bounds[3] == 90.0
    assert shapely.intersects_xy(geometry, -135.0, 89.9)
    assert area.bboxes[0].max_lat == 90.0


def test_circle_around_the_south_pole() -> None:
    area = parse_service_area({"center": {"lat": -89.9, "lng": -10.0}, "radius_km": 30})
    geometry = area.geometry
    assert geometry.is_valid and geometry.bounds[1] == -90.0
    assert shapely.intersects_xy(geometry, 170.0, -89.95)
    assert area.covers(-90.0, 0.0)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"center": {"lat": 0, "lng": 0}, "radius_km": 10_000}, "service_area.radius_km"),
        ({"center": {"lat": 0, "lng": 0}, "radius_km": 0.4}, "service_area.radius_km"),
        ({"center": {"lat": 0, "lng": 0}, "radius_km": 200.01}, "service_area.radius_km"),
        ({"center": {"lat": 0, "lng": 0}, "radius_km": "5"}, "service_area.radius_km"),
        ({"center": {"lat": 0, "lng": 0}, "radius_km": True}, "service_area.radius_km"),
        ({"center": {"lat": 0, "lng": 0}, "radius_km": math.nan}, "service_area.radius_km"),
        ({"center": {"lat": 0, "lng": 0}, "radius_km": math.inf}, "service_area.radius_km"),
        ({"center": {"lat": 0, "lng": 0}}, "service_area.radius_km"),
        ({"radius_km": 5}, "service_area.center"),
        ({"center": {"lat": 91, "lng": 0}, "radius_km": 5}, "service_area.center.lat"),
        ({"center": {"lat": 0}, "radius_km": 5}, "service_area.center.lng"),
        ({"center": [0, 0], "radius_km": 5}, "service_area.center"),
    ],
)
def test_bad_circles(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(GeoValidationError) as info:
        parse_service_area(payload)
    assert info.value.field == field


def test_radius_limits_are_inclusive() -> None:
    for radius in (0.5, 200):
        parse_service_area({"center": {"lat": 0, "lng": 0}, "radius_km": radius})


# --- polygons --------------------------------------------------------------------------


def test_polygon_parses_covers_and_round_trips() -> None:
    area = parse_service_area(_polygon(_square(-87.8, 41.8, 0.2)))
    assert area.kind == "polygon" and area.center is None and area.radius_m is None
    assert area.covers(41.9, -87.7)
    assert area.covers(41.8, -87.7)  # on the edge
    assert not area.covers(42.01, -87.7)
    assert area.centroid.lat == pytest.approx(41.9) and area.centroid.lng == pytest.approx(-87.7)
    canonical = area.to_json()
    assert canonical["type"] == "Polygon"
    again = parse_service_area(canonical)
    assert again.to_json() == canonical
    assert again.geometry.equals(area.geometry)


def test_canonical_exterior_is_counter_clockwise() -> None:
    clockwise = list(reversed(_square(10.0, 10.0, 1.0)))
    canonical = parse_service_area(_polygon(clockwise)).to_json()
    assert shapely.Polygon(canonical["coordinates"][0]).exterior.is_ccw


def test_polygon_with_hole() -> None:
    area = parse_service_area(_polygon(_square(0, 0, 1), _square(0.25, 0.25, 0.5)))
    assert area.covers(0.1, 0.1)
    assert not area.covers(0.5, 0.5)
    full = parse_service_area(_polygon(_square(0, 0, 1)))
    assert area.area_m2 == pytest.approx(full.area_m2 * 0.75, rel=1e-3)


def test_multipolygon() -> None:
    area = parse_service_area(
        {"type": "MultiPolygon", "coordinates": [[_square(0, 0, 1)], [_square(5, 5, 1)]]}
    )
    assert area.kind == "polygon"
    assert area.covers(0.5, 0.5) and area.covers(5.5, 5.5) and not area.covers(3, 3)
    assert len(area.bboxes) == 2
    assert area.to_json()["type"] == "MultiPolygon"


def test_polygon_across_the_antimeridian_is_split() -> None:
    ring = [[179.5, -17.0], [-179.5, -17.0], [-179.5, -16.0], [179.5, -16.0], [179.5, -17.0]]
    area = parse_service_area(_polygon(ring))
    assert area.covers(-16.5, 179.9) and area.covers(-16.5, -179.9) and area.covers(-16.5, 180.0)
    assert not area.covers(-16.5, 0.0) and not area.covers(-16.5, 179.0)
    canonical = area.to_json()
    assert canonical["type"] == "MultiPolygon"
    lngs = [p[0] for polygon in canonical["coordinates"] for p in polygon[0]]
    assert min(lngs) == -180.0 and max(lngs) == 180.0
    assert area.area_m2 == pytest.approx(
        ring_area_m2([(0.0, -17.0), (1.0, -17.0), (1.0, -16.0), (0.0, -16.0), (0.0, -17.0)]),
        rel=1e-9,
    )
    assert parse_service_area(canonical).to_json() == canonical
    assert abs(area.centroid.lng) == pytest.approx(180.0)


def test_polygon_around_a_pole() -> None:
    ring = [[float(lng), 89.5] for lng in range(-180, 180, 20)]
    ring.append(ring[0])
    area = parse_service_area(_polygon(ring))
    assert area.covers(90.0, 0.0) and area.covers(89.8, 123.0)
    assert not area.covers(89.0, 0.0)
    assert area.centroid == Position(90.0, 0.0)


def test_polygon_area_matches_geographiclib() -> None:
    ring = _regular_ring(-87.6, 41.9, 0.3, 40)
    polygon = Geodesic.WGS84.Polygon(False)
    for lng, lat in ring[:-1]:
        polygon.AddPoint(lat, lng)
    _, _, geodesic_area = polygon.Compute(False, True)
    area = parse_service_area(_polygon(ring))
    assert area.area_m2 == pytest.approx(abs(geodesic_area), rel=1e-3)


def test_lat_lng_box_area_is_exact() -> None:
    # A box between two parallels has a closed form on the authalic sphere.
    area = parse_service_area(_polygon(_square(0, 0, 1))).area_m2
    lat = math.radians(1.0)
    e2 = 0.00669437999014
    e = math.sqrt(e2)

    def q(phi: float) -> float:
        s = math.sin(phi)
        return (1 - e2) * (s / (1 - e2 * s * s) - math.log((1 - e * s) / (1 + e * s)) / (2 * e))

    expected = AUTHALIC_RADIUS_M**2 * math.radians(1.0) * q(lat) / q(math.pi / 2)
    assert area == pytest.approx(expected, rel=1e-9)


def test_max_vertices_is_allowed() -> None:
    area = parse_service_area(_polygon(_regular_ring(10.0, 10.0, 0.5, MAX_VERTICES)))
    assert area.covers(10.0, 10.0)


def _bowtie() -> list[list[float]]:
    return [[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]


@pytest.mark.parametrize(
    ("payload", "field", "fragment"),
    [
        ("a polygon", "service_area", "GeoJSON"),
        ([], "service_area", "GeoJSON"),
        ({}, "service_area", "GeoJSON"),
        ({"type": "Point", "coordinates": [0, 0]}, "service_area.type", "Polygon"),
        ({"type": "Feature", "geometry": {}}, "service_area.type", "Polygon"),
        ({"type": "polygon", "coordinates": [_square(0, 0, 1)]}, "service_area.type", "Polygon"),
        ({"type": "Polygon"}, "service_area.coordinates", "required"),
        ({"type": "Polygon", "coordinates": "0,0"}, "service_area.coordinates", "array"),
        ({"type": "Polygon", "coordinates": []}, "service_area.coordinates", "ring"),
        ({"type": "Polygon", "coordinates": [[]]}, "service_area.coordinates", "4 positions"),
        ({"type": "MultiPolygon", "coordinates": []}, "service_area.coordinates", "at least one"),
        (
            {"type": "MultiPolygon", "coordinates": [_square(0, 0, 1)]},
            "service_area.coordinates",
            "position 0",
        ),
        (_polygon(_bowtie()), "service_area.coordinates", "Self-intersection"),
        (_polygon(_square(0, 0, 1)[:-1]), "service_area.coordinates", "not closed"),
        (
            _polygon([[0, 0], [1, 0], [1, 1], [0, 1], [0.1, 0]]),
            "service_area.coordinates",
            "not closed",
        ),
        (_polygon([[0, 0], [1, 0], [0, 0]]), "service_area.coordinates", "4 positions"),
        (_polygon([[0, 0], [1, 0], [1, 1], [0, 0]]), None, None),  # a triangle is fine
        (_polygon([[0, 0], [0, 91], [1, 1], [0, 0]]), "service_area.coordinates", "latitude"),
        (_polygon([[0, 0], [181, 0], [1, 1], [0, 0]]), "service_area.coordinates", "longitude"),
        (_polygon([[0, 0], [math.nan, 0], [1, 1], [0, 0]]), "service_area.coordinates", "finite"),
        (_polygon([[0, 0], [1, math.inf], [1, 1], [0, 0]]), "service_area.coordinates", "finite"),
        (_polygon([[0, 0], ["1", 0], [1, 1], [0, 0]]), "service_area.coordinates", "number"),
        (_polygon([[0, 0], [True, 0], [1, 1], [0, 0]]), "service_area.coordinates", "number"),
        (_polygon([[0, 0], [1], [1, 1], [0, 0]]), "service_area.coordinates", "[lng, lat]"),
        (
            _polygon([[0, 0], [1, 0, 0, 0], [1, 1], [0, 0]]),
            "service_area.coordinates",
            "[lng, lat]",
        ),
        (
            _polygon([[0, 0], {"lng": 1, "lat": 0}, [1, 1], [0, 0]]),
            "service_area.coordinates",
            "array",
        ),
        (
            _polygon(_regular_ring(10.0, 10.0, 0.5, MAX_VERTICES + 1)),
            "service_area.coordinates",
            "more than 2000 vertices",
        ),
        (_polygon(_square(0, 0, 3)), "service_area.coordinates", "50,000 km²"),
        (
            _polygon(_square(0, 0, 1), _square(2, 2, 0.5)),  # hole outside its shell
            "service_area.coordinates",
            "not valid",
        ),
        (
            {"type": "MultiPolygon", "coordinates": [[_square(0, 0, 1)], [_square(0.5, 0.5, 1)]]},
            "service_area.coordinates",
            "overlap",
        ),
        (
            _polygon(
                _square(0, 0, 1), [[0.2, 0.2], [0.8, 0.2], [0.8, 0.8], [0.2, 0.2], [0.3, 0.2]]
            ),
            "service_area.coordinates",
            "not closed",
        ),
    ],
)
def test_bad_polygons(payload: object, field: str | None, fragment: str | None) -> None:
    if field is None:
        parse_service_area(payload)
        return
    with pytest.raises(GeoValidationError) as info:
        parse_service_area(payload)
    assert info.value.field == field
    assert fragment is not None and fragment in info.value.message, info.value.message


def test_custom_field_prefix() -> None:
    with pytest.raises(GeoValidationError) as info:
        parse_service_area({"center": {"lat": 0, "lng": 0}, "radius_km": 0}, "area")
    assert info.value.field == "area.radius_km"


def test_many_vertices_are_refused_before_parsing_them() -> None:
    # A huge ring of junk is refused for its size, not for the junk.
    junk: list[object] = ["x"] * (MAX_VERTICES * 10)
    with pytest.raises(GeoValidationError) as info:
        parse_service_area({"type": "Polygon", "coordinates": [junk]})
    assert "vertices" in info.value.message


# --- properties ------------------------------------------------------------------------


@SLOW
@given(
    lat=st.one_of(
        st.floats(min_value=-90, max_value=90),
        st.floats(min_value=89.0, max_value=90.0),
        st.floats(min_value=-90.0, max_value=-89.0),
    ),
    lng=st.one_of(
        st.floats(min_value=-180, max_value=180),
        st.floats(min_value=179.0, max_value=180.0),
        st.floats(min_value=-180.0, max_value=-179.0),
    ),
    radius_km=st.floats(min_value=0.5, max_value=200.0),
)
def test_circle_contains_its_centre(lat: float, lng: float, radius_km: float) -> None:
    area = parse_service_area({"center": {"lat": lat, "lng": lng}, "radius_km": radius_km})
    assert area.covers(lat, lng)
    geometry = area.geometry
    assert geometry.is_valid
    assert shapely.intersects_xy(geometry, lng, lat)
    min_lng, min_lat, max_lng, max_lat = geometry.bounds
    assert min_lng >= -180.0 and max_lng <= 180.0 and min_lat >= -90.0 and max_lat <= 90.0
    assert any(box.contains(lat, lng) for box in area.bboxes)


@SLOW
@given(
    lat=st.floats(min_value=-89.0, max_value=89.0),
    lng=st.floats(min_value=-180, max_value=180),
    radius_km=st.floats(min_value=0.5, max_value=200.0),
    azimuth=st.floats(min_value=0, max_value=360),
    # Strictly inside: a point exactly on the edge is decided by float rounding either way.
    fraction=st.floats(min_value=0.0, max_value=0.999),
)
def test_circle_bboxes_contain_the_circle(
    lat: float, lng: float, radius_km: float, azimuth: float, fraction: float
) -> None:
    area = ServiceArea.circle(Position(lat, lng), radius_km * 1000.0)
    p_lat, p_lng = _destination(lat, lng, azimuth, radius_km * 1000.0 * fraction)
    assert area.covers(p_lat, p_lng)
    assert any(box.contains(p_lat, p_lng) for box in area.bboxes)


@SLOW
@given(
    lng=st.floats(min_value=-180, max_value=180),
    lat=st.floats(min_value=-80, max_value=80),
    size=st.floats(min_value=0.01, max_value=1.0),
)
def test_polygon_round_trip_anywhere(lng: float, lat: float, size: float) -> None:
    ring = [
        [lng, lat],
        [lng + size, lat],
        [lng + size, lat + size],
        [lng, lat + size],
        [lng, lat],
    ]
    ring = [[(x + 180.0) % 360.0 - 180.0, y] for x, y in ring]
    area = parse_service_area(_polygon(ring))
    middle_lng = (lng + size / 2 + 180.0) % 360.0 - 180.0
    assert area.covers(lat + size / 2, middle_lng)
    canonical = area.to_json()
    assert parse_service_area(canonical).to_json() == canonical
    assert area.area_m2 == pytest.approx(
        ring_area_m2([(0.0, lat), (size, lat), (size, lat + size), (0.0, lat + size), (0.0, lat)]),
        rel=1e-6,
    )
