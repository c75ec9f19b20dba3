"""Contractor service areas: parsing, validation, canonical JSON and coverage.

Accepted input (``PUT /contractors/me`` ``service_area``):

* a GeoJSON ``Polygon`` or ``MultiPolygon`` (positions are ``[lng, lat]``, an optional
  third number, the altitude, is ignored); rings must be closed and have at least four
  positions; polygons must be valid (no self-intersection, holes inside their shell,
  parts of a MultiPolygon not overlapping); at most :data:`MAX_VERTICES` vertices in
  total (the repeated closing position is not counted); at most :data:`MAX_AREA_KM2`.
* a circle ``{"center": {"lat": .., "lng": ..}, "radius_km": r}`` with ``r`` in
  [:data:`MIN_RADIUS_KM`, :data:`MAX_RADIUS_KM`]. The area limit does not apply to
  circles: their size is bounded by the radius (a 200 km circle is about 125,600 km²).

Edges crossing the antimeridian and rings around a pole are read and stored as
described in :mod:`geo.antimeridian`: the canonical form returned by
:meth:`ServiceArea.to_json` keeps every longitude in [-180, 180], so a Polygon that
crossed the antimeridian comes back as a MultiPolygon cut at 180.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import shapely  # type: ignore[import-untyped,unused-ignore]
from shapely.geometry import MultiPolygon, mapping  # type: ignore[import-untyped,unused-ignore]
from shapely.geometry.base import BaseGeometry  # type: ignore[import-untyped,unused-ignore]
from shapely.validation import explain_validity  # type: ignore[import-untyped,unused-ignore]

from geo.antimeridian import Ring, close_over_pole, fold, unwrap_ring, unwrapped_polygon
from geo.circle import circle_bboxes, circle_covers, circle_ring
from geo.ellipsoid_area import cap_area_m2, ring_area_m2
from geo.types import (
    BBox,
    GeoValidationError,
    Position,
    join_field,
    parse_lat,
    parse_lng,
    parse_number,
    parse_position,
)

MAX_VERTICES = 2_000
MAX_AREA_KM2 = 50_000.0
MIN_RADIUS_KM = 0.5
MAX_RADIUS_KM = 200.0
CIRCLE_VERTICES = 64
"""Vertices of the polygon that stands for a circle in :attr:`ServiceArea.geometry`."""

Kind = Literal["circle", "polygon"]


class ServiceArea:
    """An immutable, validated service area. Build it with :func:`parse_service_area`.

    Attributes:
        kind: ``"circle"`` or ``"polygon"`` (Polygon and MultiPolygon input alike).
        center: The circle's centre; ``None`` for polygons.
        radius_m: The circle's radius in metres; ``None`` for polygons.
        centroid: A representative position: the centre of a circle, the centroid of a
            polygon (used for distance when a contractor has no live or base position).
        area_m2: Area on the ellipsoid in m².
        bboxes: Boxes that together contain the area, never wrapping the antimeridian.
    """

    __slots__ = (
        "_geometry",
        "area_m2",
        "bboxes",
        "center",
        "centroid",
        "kind",
        "radius_m",
    )

    def __init__(
        self,
        kind: Kind,
        *,
        geometry: BaseGeometry | None,
        center: Position | None,
        radius_m: float | None,
        centroid: Position,
        area_m2: float,
        bboxes: tuple[BBox, ...],
    ) -> None:
        """Store already validated parts; use :func:`parse_service_area` or :meth:`circle`."""
        self.kind: Kind = kind
        self.center = center
        self.radius_m = radius_m
        self.centroid = centroid
        self.area_m2 = area_m2
        self.bboxes = bboxes
        self._geometry = geometry

    @classmethod
    def circle(cls, center: Position, radius_m: float) -> ServiceArea:
        """Return a circle area. Unvalidated: callers check the radius range."""
        return cls(
            "circle",
            geometry=None,
            center=center,
            radius_m=radius_m,
            centroid=center,
            area_m2=cap_area_m2(radius_m),
            bboxes=circle_bboxes(center.lat, center.lng, radius_m),
        )

    @property
    def geometry(self) -> BaseGeometry:
        """The shapely Polygon or MultiPolygon (x = lng, y = lat, lng in [-180, 180]).

        For a circle it is a :data:`CIRCLE_VERTICES`-gon that covers the circle, built on
        first use (a geodesic outline costs about 2 ms, and matching never needs it).
        """
        geometry = self._geometry
        if geometry is None and self.center is not None and self.radius_m is not None:
            ring, pole = circle_ring(
                self.center.lat, self.center.lng, self.radius_m, CIRCLE_VERTICES
            )
            geometry = fold(unwrapped_polygon(ring, pole))
            shapely.prepare(geometry)
            self._geometry = geometry
        return geometry

    def covers(self, lat: float, lng: float) -> bool:
        """Return whether the point is inside the area or on its edge.

        A circle covers the points within its radius by geodesic distance (exactly,
        not its polygon outline); a polygon covers what its shapely geometry covers.
        """
        if self.radius_m is not None and self.center is not None:
            return circle_covers(self.center.lat, self.center.lng, self.radius_m, lat, lng)
        return bool(shapely.intersects_xy(self._geometry, lng, lat))

    def to_json(self) -> dict[str, Any]:
        """Return the canonical JSON form, to store and to return to clients.

        Circles: ``{"center": {"lat", "lng"}, "radius_km"}``. Polygons: a GeoJSON
        Polygon or MultiPolygon in [-180, 180] with counter-clockwise exterior rings.
        Parsing the result again gives an equal area.
        """
        if self.center is not None and self.radius_m is not None:
            return {"center": self.center.to_json(), "radius_km": self.radius_m / 1000.0}
        return _geojson(self.geometry)

    def __repr__(self) -> str:
        return f"ServiceArea({self.to_json()!r})"


def parse_service_area(obj: object, field: str = "service_area") -> ServiceArea:
    """Validate a decoded JSON service area and return it.

    Raises:
        GeoValidationError: with ``field`` naming the offending part, e.g.
            ``"service_area.radius_km"``, ``"service_area.type"`` or
            ``"service_area.coordinates"``; the message says what is wrong and where.
    """
    if not isinstance(obj, Mapping):
        raise GeoValidationError(
            field, "must be a GeoJSON Polygon or MultiPolygon, or {center, radius_km}"
        )
    if "type" in obj:
        return _parse_geojson(obj, field)
    if "center" in obj or "radius_km" in obj:
        return _parse_circle(obj, field)
    raise GeoValidationError(
        field, "must be a GeoJSON Polygon or MultiPolygon, or {center, radius_km}"
    )


def _parse_circle(obj: Mapping[Any, Any], field: str) -> ServiceArea:
    if "center" not in obj:
        raise GeoValidationError(join_field(field, "center"), "is required")
    center = parse_position(obj["center"], join_field(field, "center"))
    radius_field = join_field(field, "radius_km")
    if "radius_km" not in obj:
        raise GeoValidationError(radius_field, "is required")
    radius_km = parse_number(obj["radius_km"], radius_field)
    if not MIN_RADIUS_KM <= radius_km <= MAX_RADIUS_KM:
        raise GeoValidationError(
            radius_field, f"must be between {MIN_RADIUS_KM:g} and {MAX_RADIUS_KM:g} km"
        )
    return ServiceArea.circle(center, radius_km * 1000.0)


def _parse_geojson(obj: Mapping[Any, Any], field: str) -> ServiceArea:
    kind = obj["type"]
    if kind not in ("Polygon", "MultiPolygon"):
        raise GeoValidationError(join_field(field, "type"), "must be Polygon or MultiPolygon")
    coords_field = join_field(field, "coordinates")
    if "coordinates" not in obj:
        raise GeoValidationError(coords_field, "is required")
    counter = _VertexCounter(coords_field)
    if kind == "Polygon":
        polygons = [_parse_polygon(obj["coordinates"], coords_field, "", counter)]
    else:
        members = _as_list(obj["coordinates"], coords_field, "coordinates")
        if not members:
            raise GeoValidationError(coords_field, "a MultiPolygon needs at least one polygon")
        polygons = [
            _parse_polygon(p, coords_field, f"polygon {i}, ", counter)
            for i, p in enumerate(members)
        ]
    return _build_polygon_area(polygons, coords_field)


class _VertexCounter:
    """Counts vertices while parsing so oversized input is refused early."""

    __slots__ = ("count", "field")

    def __init__(self, field: str) -> None:
        self.field = field
        self.count = 0

    def add(self, n: int) -> None:
        self.count += n
        if self.count > MAX_VERTICES:
            raise GeoValidationError(self.field, f"has more than {MAX_VERTICES} vertices")


def _as_list(value: object, field: str, what: str) -> Sequence[Any]:
    if not isinstance(value, (list, tuple)):
        raise GeoValidationError(field, f"{what} must be an array")
    return value


def _parse_polygon(value: object, field: str, where: str, counter: _VertexCounter) -> list[Ring]:
    rings = _as_list(value, field, f"{where}rings")
    if not rings:
        raise GeoValidationError(field, f"{where}a polygon needs at least one ring")
    return [_parse_ring(ring, field, f"{where}ring {i}", counter) for i, ring in enumerate(rings)]


def _parse_ring(value: object, field: str, where: str, counter: _VertexCounter) -> Ring:
    positions = _as_list(value, field, where)
    counter.add(max(len(positions) - 1, 0))
    ring: Ring = []
    for i, position in enumerate(positions):
        at = f"{where}, position {i}"
        pair = _as_list(position, field, at)
        if len(pair) not in (2, 3):
            raise GeoValidationError(field, f"{at} must be [lng, lat]")
        try:
            lng = parse_lng(pair[0], "longitude")
            lat = parse_lat(pair[1], "latitude")
        except GeoValidationError as exc:
            raise GeoValidationError(field, f"{at}: {exc.field} {exc.message}") from None
        ring.append((lng, lat))
    if len(ring) < 4:
        raise GeoValidationError(field, f"{where} needs at least 4 positions")
    if ring[0] != ring[-1]:
        raise GeoValidationError(field, f"{where} is not closed (first and last positions differ)")
    return ring


def _build_polygon_area(polygons: list[list[Ring]], field: str) -> ServiceArea:
    parts: list[BaseGeometry] = []
    area_m2 = 0.0
    for i, rings in enumerate(polygons):
        where = f"polygon {i}" if len(polygons) > 1 else "polygon"
        shell, pole = unwrap_ring(rings[0])
        holes = []
        for hole in rings[1:]:
            unwrapped, hole_pole = unwrap_ring(hole)
            if hole_pole:
                raise GeoValidationError(field, f"{where}: a hole may not enclose a pole")
            holes.append(unwrapped)
        unwrapped = unwrapped_polygon(shell, pole, holes)
        if not unwrapped.is_valid:
            raise GeoValidationError(field, f"{where} is not valid: {explain_validity(unwrapped)}")
        area_m2 += ring_area_m2(close_over_pole(shell, pole)) - sum(ring_area_m2(h) for h in holes)
        parts.extend(shapely.get_parts(fold(unwrapped)))
    if area_m2 > MAX_AREA_KM2 * 1e6:
        raise GeoValidationError(
            field, f"covers {area_m2 / 1e6:,.0f} km², more than the {MAX_AREA_KM2:,.0f} km² allowed"
        )
    geometry = parts[0] if len(parts) == 1 else MultiPolygon(parts)
    if not geometry.is_valid:
        raise GeoValidationError(field, f"polygons overlap: {explain_validity(geometry)}")
    shapely.prepare(geometry)
    return ServiceArea(
        "polygon",
        geometry=geometry,
        center=None,
        radius_m=None,
        centroid=_centroid(polygons),
        area_m2=area_m2,
        bboxes=tuple(
            BBox(float(b[1]), float(b[0]), float(b[3]), float(b[2]))
            for b in shapely.bounds(shapely.get_parts(geometry)).tolist()
        ),
    )


def _centroid(polygons: list[list[Ring]]) -> Position:
    """Area-weighted centroid of the unwrapped shells, longitude folded back into range."""
    total = 0.0
    lng_sum = 0.0
    lat_sum = 0.0
    for rings in polygons:
        shell, pole = unwrap_ring(rings[0])
        if pole:
            return Position(90.0 * pole, 0.0)
        c = unwrapped_polygon(shell, 0).centroid
        weight = ring_area_m2(shell)
        total += weight
        lng_sum += weight * float(c.x)
        lat_sum += weight * float(c.y)
    if total <= 0.0:
        first = polygons[0][0][0]
        return Position(first[1], first[0])
    lng = (lng_sum / total + 180.0) % 360.0 - 180.0
    return Position(lat_sum / total, lng)


def _geojson(geometry: BaseGeometry) -> dict[str, Any]:
    oriented = shapely.orient_polygons(geometry, exterior_cw=False)
    raw = mapping(oriented)

    def as_lists(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [as_lists(v) for v in value]
        return float(value)

    return {"type": str(raw["type"]), "coordinates": as_lists(raw["coordinates"])}
