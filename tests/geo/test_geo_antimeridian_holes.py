"""A service area across the antimeridian with a hole cut out of it (a contractor around Fiji
who does not cover one district): the hole may lie east of the line, west of it, or on it,
and is written in whichever longitudes GeoJSON gives it."""

from __future__ import annotations

from typing import Any

import pytest

from geo.areas import parse_service_area
from geo.types import GeoValidationError

SHELL = [[179.0, -17.0], [-179.0, -17.0], [-179.0, -16.0], [179.0, -16.0], [179.0, -17.0]]


def _box(west: float, east: float) -> list[list[float]]:
    """A ring from -16.6 to -16.4 between two GeoJSON longitudes (west may exceed east)."""
    return [[west, -16.6], [east, -16.6], [east, -16.4], [west, -16.4], [west, -16.6]]


def _polygon(*rings: list[Any]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


@pytest.mark.parametrize(
    ("hole", "inside_hole"),
    [
        (_box(-179.6, -179.2), -179.4),  # east of the line: its longitudes a turn away
        (_box(179.2, 179.6), 179.4),  # west of the line, beside the shell's first point
        (_box(179.8, -179.8), 180.0),  # on the line itself
    ],
    ids=["east", "west", "on the line"],
)
def test_a_hole_is_not_covered_wherever_it_lies(
    hole: list[list[float]], inside_hole: float
) -> None:
    area = parse_service_area(_polygon(SHELL, hole))
    assert not area.covers(-16.5, inside_hole)
    for lng in (179.05, -179.05, 179.1, -179.1):
        assert area.covers(-16.5, lng), lng  # the rest of the area, both sides of the line
    assert area.covers(-16.8, inside_hole)  # beside the hole, same longitude
    assert not area.covers(-16.5, 178.9) and not area.covers(-16.5, -178.9)

    whole = parse_service_area(_polygon(SHELL))
    cut = parse_service_area(_polygon(list(reversed(hole))))
    assert area.area_m2 == pytest.approx(whole.area_m2 - cut.area_m2, rel=1e-9)
    canonical = area.to_json()  # what the hub stores and serves back
    again = parse_service_area(canonical)
    assert again.area_m2 == pytest.approx(area.area_m2, rel=1e-12)
    assert not again.covers(-16.5, inside_hole) and again.covers(-16.8, inside_hole)


def test_a_hole_outside_a_shell_across_the_line_is_refused() -> None:
    with pytest.raises(GeoValidationError) as refused:
        parse_service_area(_polygon(SHELL, _box(-178.6, -178.2)))
    assert refused.value.field == "service_area.coordinates"
    assert "Hole lies outside shell" in refused.value.message
