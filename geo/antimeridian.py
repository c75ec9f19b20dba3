"""Rings that cross the antimeridian or enclose a pole, folded into [-180, 180].

Representation (what :mod:`geo.areas` stores and returns): every geometry lives in
plain longitude/latitude with longitudes in [-180, 180]. An area that crosses the
antimeridian is a MultiPolygon whose parts meet the 180 and -180 meridians (the cut
RFC 7946 section 3.1.9 recommends); an area around a pole is a polygon whose ring runs
along the pole's latitude (90 or -90) between longitudes -180 and 180.

Input interpretation: consecutive ring vertices are joined the short way round, so an
edge from longitude 179 to -179 crosses the antimeridian (2 degrees), never the long way
(358 degrees). A ring whose longitudes, joined that way, advance by a whole turn
encloses a pole: the North Pole if its mean latitude is north of the equator, else the
South Pole (service areas are far smaller than a hemisphere, so this is the only reading
that fits the area limit).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import shapely  # type: ignore[import-untyped,unused-ignore]
from shapely.geometry import Polygon, box  # type: ignore[import-untyped,unused-ignore]
from shapely.geometry.base import BaseGeometry  # type: ignore[import-untyped,unused-ignore]

Ring = list[tuple[float, float]]
"""A closed ring of ``(lng, lat)`` pairs, first pair repeated last."""


def unwrap_ring(ring: Sequence[tuple[float, float]]) -> tuple[Ring, int]:
    """Make a closed ring's longitudes continuous, joining vertices the short way.

    Args:
        ring: Closed ring of ``(lng, lat)`` with longitudes in [-180, 180].

    Returns:
        The unwrapped ring (longitudes may leave [-180, 180]) and the pole it encloses:
        1 north, -1 south, 0 none. When a pole is enclosed, the last longitude is the
        first plus or minus 360 rather than equal to it.
    """
    out: Ring = []
    prev = ring[0][0]
    for lng, lat in ring:
        # Nearest copy of lng to the previous vertex: a step in [-180, 180). An exact
        # 180-degree step is ambiguous and is taken westward.
        lng = prev + (lng - prev + 180.0) % 360.0 - 180.0
        out.append((lng, lat))
        prev = lng
    turns = round((out[-1][0] - out[0][0]) / 360.0)
    if turns == 0:
        return out, 0
    mean_lat = sum(lat for _, lat in out) / len(out)
    return out, (1 if mean_lat >= 0.0 else -1)


def shift_near(ring: Ring, lo: float, hi: float) -> Ring:
    """Shift a ring by whole turns so that its first longitude falls in [lo - 180, hi + 180).

    Used to bring an unwrapped hole next to its unwrapped shell.
    """
    mid = (lo + hi) / 2.0
    turns = round((ring[0][0] - mid) / 360.0)
    if turns == 0:
        return ring
    return [(lng - 360.0 * turns, lat) for lng, lat in ring]


def close_over_pole(ring: Ring, pole: int) -> Ring:
    """Close an unwrapped ring that advanced a whole turn by running along the pole.

    Args:
        ring: Output of :func:`unwrap_ring` or :func:`geo.circle.circle_ring`.
        pole: 1 north, -1 south, 0 none (the ring is returned unchanged).
    """
    if pole == 0:
        return ring
    pole_lat = 90.0 * pole
    (first_lng, first_lat), (last_lng, _) = ring[0], ring[-1]
    return [*ring, (last_lng, pole_lat), (first_lng, pole_lat), (first_lng, first_lat)]


def unwrapped_polygon(shell: Ring, pole: int, holes: Sequence[Ring] = ()) -> BaseGeometry:
    """Build the shapely polygon of unwrapped rings (longitudes possibly outside range).

    Holes are shifted by whole turns to sit beside the shell.
    """
    closed = close_over_pole(shell, pole)
    lngs = [lng for lng, _ in closed]
    lo, hi = min(lngs), max(lngs)
    return Polygon(closed, [shift_near(hole, lo, hi) for hole in holes])


def fold(geometry: BaseGeometry) -> BaseGeometry:
    """Cut an unwrapped polygonal geometry at the antimeridian and fold it into range.

    Returns:
        A Polygon or MultiPolygon with every longitude in [-180, 180], the input itself
        when it is already in range.
    """
    min_lng, _, max_lng, _ = geometry.bounds
    if min_lng >= -180.0 and max_lng <= 180.0:
        return geometry
    pieces = []
    for turn in range(
        math.floor((min_lng + 180.0) / 360.0), math.ceil((max_lng - 180.0) / 360.0) + 1
    ):
        offset = 360.0 * turn
        clipped = geometry.intersection(box(offset - 180.0, -90.0, offset + 180.0, 90.0))
        for part in shapely.get_parts(clipped):
            if part.geom_type == "Polygon" and not part.is_empty and part.area > 0.0:
                pieces.append(shapely.transform(part, lambda xy, d=offset: xy - [d, 0.0]))
    # Pieces of one ring that meet again after the shift (around a pole) must merge
    # although the shift rounds their shared edge differently: snap to a 1e-9 degree
    # grid (0.1 mm) while merging.
    return shapely.union_all(pieces, grid_size=1e-9)
