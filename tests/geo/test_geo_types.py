"""Tests for geo.types: strict coordinate parsing."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.types import BBox, GeoValidationError, Position, parse_position

LATS = st.floats(min_value=-90, max_value=90, allow_nan=False)
LNGS = st.floats(min_value=-180, max_value=180, allow_nan=False)


def test_parses_floats_and_ints() -> None:
    assert parse_position({"lat": 41.8781, "lng": -87.6298}, "location") == Position(
        41.8781, -87.6298
    )
    position = parse_position({"lat": 0, "lng": 12}, "location")
    assert position == Position(0.0, 12.0)
    assert isinstance(position.lat, float) and isinstance(position.lng, float)


def test_range_edges_are_included() -> None:
    assert parse_position({"lat": -90, "lng": -180}, "p") == Position(-90.0, -180.0)
    assert parse_position({"lat": 90.0, "lng": 180.0}, "p") == Position(90.0, 180.0)


def test_extra_keys_are_ignored() -> None:
    payload = {"lat": 1.5, "lng": 2.5, "ts": 1_700_000_000_000, "accuracy_m": 8}
    assert parse_position(payload, "") == Position(1.5, 2.5)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"lat": 91, "lng": 0}, "location.lat"),
        ({"lat": -90.000001, "lng": 0}, "location.lat"),
        ({"lat": 0, "lng": 180.5}, "location.lng"),
        ({"lat": 0, "lng": -181}, "location.lng"),
        ({"lat": math.nan, "lng": 0}, "location.lat"),
        ({"lat": 0, "lng": math.inf}, "location.lng"),
        ({"lat": -math.inf, "lng": 0}, "location.lat"),
        ({"lat": "12.3", "lng": 0}, "location.lat"),
        ({"lat": 0, "lng": "-87.6"}, "location.lng"),
        ({"lat": True, "lng": 0}, "location.lat"),
        ({"lat": 0, "lng": False}, "location.lng"),
        ({"lat": None, "lng": 0}, "location.lat"),
        ({"lat": [1], "lng": 0}, "location.lat"),
        ({"lat": 10**400, "lng": 0}, "location.lat"),
        ({"lng": 0}, "location.lat"),
        ({"lat": 0}, "location.lng"),
        ({}, "location.lat"),
        ([41.0, -87.0], "location"),
        ("41,-87", "location"),
        (None, "location"),
    ],
)
def test_rejects_bad_input(payload: object, field: str) -> None:
    with pytest.raises(GeoValidationError) as info:
        parse_position(payload, "location")
    assert info.value.field == field
    assert info.value.message
    assert str(info.value).startswith(field)


def test_field_without_prefix() -> None:
    with pytest.raises(GeoValidationError) as info:
        parse_position({"lat": 100, "lng": 0}, "")
    assert info.value.field == "lat"


def test_bbox_contains_edges() -> None:
    box = BBox(min_lat=1.0, min_lng=2.0, max_lat=3.0, max_lng=4.0)
    assert box.contains(1.0, 2.0) and box.contains(3.0, 4.0) and box.contains(2.0, 3.0)
    assert not box.contains(0.99, 3.0) and not box.contains(2.0, 4.01)


def test_position_is_frozen_and_serialises() -> None:
    position = Position(1.0, 2.0)
    with pytest.raises(AttributeError):
        position.lat = 3.0  # type: ignore[misc]
    assert position.to_json() == {"lat": 1.0, "lng": 2.0}


@settings(database=None)
@given(lat=LATS, lng=LNGS)
def test_any_valid_coordinate_round_trips(lat: float, lng: float) -> None:
    assert parse_position({"lat": lat, "lng": lng}, "p") == Position(lat, lng)


@settings(database=None)
@given(lat=st.floats().filter(lambda v: not -90 <= v <= 90))
def test_any_invalid_latitude_is_refused(lat: float) -> None:
    with pytest.raises(GeoValidationError) as info:
        parse_position({"lat": lat, "lng": 0.0}, "p")
    assert info.value.field == "p.lat"
