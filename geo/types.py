"""Validated coordinate types shared by every geo module.

Coordinates follow the wire contract: WGS84 decimal degrees, ``lat`` in [-90, 90],
``lng`` in [-180, 180], finite. Parsing is strict so that bad client input becomes a
:class:`GeoValidationError` naming the offending field instead of a crash deeper down.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


class GeoValidationError(Exception):
    """Client input that is not a valid coordinate or area.

    The API maps it to a 400 ``validation_error`` whose details name ``field``.

    Attributes:
        field: Dotted path of the offending input, e.g. ``"location.lat"``.
        message: Human readable reason, safe to show to the client.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Position:
    """A WGS84 point in degrees. Build it from client input with :func:`parse_position`."""

    lat: float
    lng: float

    def to_json(self) -> dict[str, float]:
        """Return the wire form ``{"lat": ..., "lng": ...}``."""
        return {"lat": self.lat, "lng": self.lng}


@dataclass(frozen=True, slots=True)
class BBox:
    """A latitude/longitude box in degrees, edges included.

    ``min_lng <= max_lng`` always: a box never wraps across the antimeridian. Callers
    that need a wrapping extent (see :mod:`geo.areas`) use two boxes.
    """

    min_lat: float
    min_lng: float
    max_lat: float
    max_lng: float

    def contains(self, lat: float, lng: float) -> bool:
        """Return whether the point lies inside the box or on its edge."""
        return self.min_lat <= lat <= self.max_lat and self.min_lng <= lng <= self.max_lng


def join_field(prefix: str, name: str) -> str:
    """Return the dotted field path ``prefix.name`` (just ``name`` without a prefix)."""
    return f"{prefix}.{name}" if prefix else name


def parse_number(value: object, field: str) -> float:
    """Return ``value`` as a finite float.

    Only real JSON numbers are accepted: ``int`` or ``float`` but not ``bool`` (a bool
    is an int in Python, never a coordinate) and not numeric strings.

    Raises:
        GeoValidationError: ``value`` is missing, not a number, NaN or infinite.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise GeoValidationError(field, "must be a number")
    if isinstance(value, int):
        # Huge ints overflow float(); anything that large is out of every range anyway.
        if abs(value) > 1e15:
            raise GeoValidationError(field, "is out of range")
        return float(value)
    if not math.isfinite(value):
        raise GeoValidationError(field, "must be a finite number")
    return float(value)


def parse_lat(value: object, field: str) -> float:
    """Return ``value`` as a latitude in [-90, 90].

    Raises:
        GeoValidationError: not a finite number, or out of range.
    """
    lat = parse_number(value, field)
    if not -90.0 <= lat <= 90.0:
        raise GeoValidationError(field, "must be between -90 and 90")
    return lat


def parse_lng(value: object, field: str) -> float:
    """Return ``value`` as a longitude in [-180, 180].

    Raises:
        GeoValidationError: not a finite number, or out of range.
    """
    lng = parse_number(value, field)
    if not -180.0 <= lng <= 180.0:
        raise GeoValidationError(field, "must be between -180 and 180")
    return lng


def parse_position(obj: object, field: str) -> Position:
    """Parse a ``{"lat": x, "lng": y}`` mapping into a :class:`Position`.

    Other keys are ignored, so a ``location:update`` payload (which also carries
    ``ts``, ``accuracy_m``...) can be passed as it is.

    Args:
        obj: Decoded JSON value.
        field: Field path used in errors, e.g. ``"location"`` gives ``"location.lat"``.

    Raises:
        GeoValidationError: ``obj`` is not a mapping, a key is missing, or a value is
            not a finite number in range.
    """
    if not isinstance(obj, Mapping):
        raise GeoValidationError(field, "must be an object with lat and lng")
    for key in ("lat", "lng"):
        if key not in obj:
            raise GeoValidationError(join_field(field, key), "is required")
    lat = parse_lat(obj["lat"], join_field(field, "lat"))
    lng = parse_lng(obj["lng"], join_field(field, "lng"))
    return Position(lat, lng)
