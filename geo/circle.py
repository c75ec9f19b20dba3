"""Geodesic circles: exact coverage test, bounding boxes and polygon outline.

A circle covers a point when the WGS84 geodesic distance from its centre is at most its
radius. Two cheap tests decide that exactly, each falling back to the geodesic only in
a thin band around the edge where it cannot decide:

* :func:`circle_covers` (one point) uses :func:`geo.distance.fast_distance_m` and its
  tested error bound: the band is about 2e-5 x radius wide.
* :mod:`geo.index` (many circles at once, vectorised) uses the straight 3D chord between
  the centre and the point in Earth-centred coordinates (:func:`ecef_m`), with the
  thresholds of :func:`chord_thresholds_sq`. No geodesic is shorter than the chord, so a
  chord longer than the radius means outside. And no geodesic is longer than the arc of
  a circle of radius ``R`` over the same chord when every normal section of the surface
  curves less than that circle (Schur's comparison theorem); WGS84's sharpest normal
  curvature radius is ``a (1 - e^2)`` (the meridian at the equator), and
  :data:`CHORD_ARC_RADIUS_M` stays 1 % below it. So a chord under
  ``2 R sin(radius / 2 R)`` means inside. The band between is 7 cm wide at 40 km.

Both return the geodesic answer, which is why the index and a plain ``area.covers``
scan agree (tests check both against the geodesic).
"""

from __future__ import annotations

import math

from geographiclib.geodesic import Geodesic  # type: ignore[import-untyped,unused-ignore]

from geo.distance import (
    WGS84_A,
    WGS84_E2,
    fast_distance_m,
    fast_error_bound_m,
    geodesic_latlng_m,
)
from geo.types import BBox

_GEODESIC = Geodesic.WGS84
_LATLNG_MASK = Geodesic.LATITUDE | Geodesic.LONGITUDE
# Smallest radius of curvature of the ellipsoid (meridional, at the equator): no
# geodesic of length r moves further than r / _MIN_RADIUS radians in latitude.
_MIN_RADIUS_M = WGS84_A * (1.0 - WGS84_E2)
_BBOX_MARGIN = 1.001
CHORD_ARC_RADIUS_M = 0.99 * _MIN_RADIUS_M
"""Radius of the comparison arc used by :func:`chord_thresholds_sq`."""


def circle_covers(
    center_lat: float, center_lng: float, radius_m: float, lat: float, lng: float
) -> bool:
    """Return whether the geodesic distance from the centre to the point is <= radius_m."""
    d = fast_distance_m(center_lat, center_lng, lat, lng)
    tol = fast_error_bound_m(d)
    if d + tol <= radius_m:
        return True
    if d - tol > radius_m:
        return False
    return geodesic_latlng_m(center_lat, center_lng, lat, lng) <= radius_m


def ecef_m(lat: float, lng: float) -> tuple[float, float, float]:
    """Return the Earth-centred, Earth-fixed coordinates of a surface point, in metres."""
    phi = math.radians(lat)
    lam = math.radians(lng)
    sin_phi = math.sin(phi)
    cos_phi = math.cos(phi)
    n = WGS84_A / math.sqrt(1.0 - WGS84_E2 * sin_phi * sin_phi)
    return (
        n * cos_phi * math.cos(lam),
        n * cos_phi * math.sin(lam),
        n * (1.0 - WGS84_E2) * sin_phi,
    )


def chord_thresholds_sq(radius_m: float) -> tuple[float, float]:
    """Return ``(inside, outside)`` thresholds on the squared chord for a circle.

    A squared chord ``<= inside`` means geodesic distance ``<= radius_m``; one ``>
    outside`` means geodesic distance ``> radius_m``; in between, ask the geodesic.
    (``outside`` has a 1e-12 relative allowance for rounding in the chord.)
    """
    inside = 2.0 * CHORD_ARC_RADIUS_M * math.sin(radius_m / (2.0 * CHORD_ARC_RADIUS_M))
    return inside * inside, radius_m * radius_m * (1.0 + 1e-12)


def circle_bboxes(center_lat: float, center_lng: float, radius_m: float) -> tuple[BBox, ...]:
    """Return boxes that together contain the whole circle (conservatively, by ~0.1 %).

    Returns:
        One box; two boxes split at the antimeridian when the circle crosses it; or one
        box spanning every longitude when the circle reaches a pole.
    """
    dlat = math.degrees(radius_m * _BBOX_MARGIN / _MIN_RADIUS_M)
    min_lat = center_lat - dlat
    max_lat = center_lat + dlat
    if min_lat <= -90.0 or max_lat >= 90.0:
        return (BBox(max(min_lat, -90.0), -180.0, min(max_lat, 90.0), 180.0),)
    # Spherical bound on the longitude half-width, taken at the circle's most poleward
    # latitude (where a degree of longitude is shortest) so it over- rather than
    # under-estimates on the ellipsoid.
    sin_sigma = math.sin(min(radius_m * _BBOX_MARGIN / _MIN_RADIUS_M, math.pi / 2))
    cos_lat = math.cos(math.radians(max(abs(min_lat), abs(max_lat))))
    ratio = sin_sigma / cos_lat
    if ratio >= 1.0:
        return (BBox(min_lat, -180.0, max_lat, 180.0),)
    dlng = math.degrees(math.asin(ratio)) * _BBOX_MARGIN
    west = center_lng - dlng
    east = center_lng + dlng
    if west < -180.0:
        return (BBox(min_lat, -180.0, max_lat, east), BBox(min_lat, west + 360.0, max_lat, 180.0))
    if east > 180.0:
        return (BBox(min_lat, west, max_lat, 180.0), BBox(min_lat, -180.0, max_lat, east - 360.0))
    return (BBox(min_lat, west, max_lat, east),)


def encloses_pole(center_lat: float, center_lng: float, radius_m: float) -> int:
    """Return 1 if the circle covers the North Pole, -1 for the South Pole, else 0."""
    if geodesic_latlng_m(center_lat, center_lng, 90.0, 0.0) <= radius_m:
        return 1
    if geodesic_latlng_m(center_lat, center_lng, -90.0, 0.0) <= radius_m:
        return -1
    return 0


def circle_ring(
    center_lat: float, center_lng: float, radius_m: float, vertices: int = 64
) -> tuple[list[tuple[float, float]], int]:
    """Return a closed ``(lng, lat)`` ring around the circle, with unwrapped longitudes.

    The vertices lie at geodesic distance ``radius_m / cos(pi / vertices)`` from the
    centre, so the straight edges stay outside the true circle: the polygon covers the
    circle (a safe superset for database prefilters) by at most 0.12 % of the radius.
    Longitudes are made continuous (they may leave [-180, 180]); when the circle
    encloses a pole they advance by a full turn.

    Returns:
        The ring and which pole it encloses (1 north, -1 south, 0 none), ready for
        :func:`geo.antimeridian.fold_ring`.
    """
    ring_radius = radius_m / math.cos(math.pi / vertices)
    pole = encloses_pole(center_lat, center_lng, ring_radius)
    ring: list[tuple[float, float]] = []
    prev_lng = center_lng
    for i in range(vertices):
        # Azimuths run clockwise from north; negate so the ring runs counter-clockwise
        # (the GeoJSON exterior orientation).
        azimuth = -360.0 * i / vertices
        point = _GEODESIC.Direct(center_lat, center_lng, azimuth, ring_radius, _LATLNG_MASK)
        lat = float(point["lat2"])
        lng = float(point["lon2"])
        if pole == 0:
            # Without a pole inside, the circle stays within 90 degrees of longitude of
            # its centre, so the nearest copy of each longitude is the right one.
            lng = center_lng + (lng - center_lng + 180.0) % 360.0 - 180.0
        elif i > 0:
            # Around a pole the longitude moves monotonically: counter-clockwise is
            # eastward around the North Pole and westward around the South Pole.
            step = (lng - prev_lng) % 360.0
            lng = prev_lng + (step if pole == 1 else step - 360.0)
        ring.append((lng, lat))
        prev_lng = lng
    if pole == 0:
        ring.append(ring[0])
    else:
        first_lng, first_lat = ring[0]
        ring.append((first_lng + 360.0 * pole, first_lat))
    return ring, pole
