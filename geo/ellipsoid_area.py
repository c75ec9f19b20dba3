"""Area on the WGS84 ellipsoid of polygons with straight longitude/latitude edges.

That is the area of exactly what shapely and GeoJSON (RFC 7946: "a line between two
positions is a straight Cartesian line") describe. It maps latitude to authalic latitude
``xi`` (the sphere of radius ``R_q`` with the same area element as the ellipsoid) and
applies Green's theorem, ``area = R_q^2 * |sum over edges of integral sin(xi) dlambda|``,
integrating each edge with Simpson's rule (exact to fourth order in the edge's latitude
span). It agrees with geographiclib's geodesic polygon area to well under 0.1 % on
service-area sized polygons (tested), and costs microseconds instead of a millisecond.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from geo.distance import WGS84_A, WGS84_E2

_E = math.sqrt(WGS84_E2)


def _q(sin_lat: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Snyder's ``q`` function: proportional to the sine of the authalic latitude."""
    es = _E * sin_lat
    out: npt.NDArray[np.float64] = (1.0 - WGS84_E2) * (
        sin_lat / (1.0 - es * es) - np.log((1.0 - es) / (1.0 + es)) / (2.0 * _E)
    )
    return out


_Q_POLE = float(_q(np.array([1.0]))[0])
AUTHALIC_RADIUS_M = WGS84_A * math.sqrt(_Q_POLE / 2.0)
"""Radius of the sphere with the ellipsoid's surface area (about 6,371,007 m)."""


def ring_area_m2(ring: Sequence[tuple[float, float]]) -> float:
    """Return the unsigned area enclosed by a closed ``(lng, lat)`` ring, in m².

    Longitudes may be unwrapped (outside [-180, 180]); a ring that runs along latitude
    90 or -90 closes over that pole, as :func:`geo.antimeridian.close_over_pole` builds.
    """
    coords = np.asarray(ring, dtype=np.float64)
    lngs = np.radians(coords[:, 0])
    lats = np.radians(coords[:, 1])
    dlng = lngs[1:] - lngs[:-1]
    mid = (lats[1:] + lats[:-1]) * 0.5
    sin_xi = _q(np.sin(lats)) / _Q_POLE
    sin_xi_mid = _q(np.sin(mid)) / _Q_POLE
    integral = float(np.sum(dlng * (sin_xi[:-1] + 4.0 * sin_xi_mid + sin_xi[1:]))) / 6.0
    return abs(integral) * AUTHALIC_RADIUS_M * AUTHALIC_RADIUS_M


def cap_area_m2(radius_m: float) -> float:
    """Return the area of a spherical cap of geodesic radius ``radius_m`` on the authalic
    sphere: a good approximation of a geodesic circle's area (a circle's area is only
    reported, never checked against a limit)."""
    return 2.0 * math.pi * AUTHALIC_RADIUS_M**2 * (1.0 - math.cos(radius_m / AUTHALIC_RADIUS_M))
