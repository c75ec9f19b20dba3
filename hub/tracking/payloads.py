"""Tracking payloads from clients (``location:*``, ``job:watch``), validated by msgspec + geo.

msgspec checks the declared fields strictly (numbers only, no strings or booleans, bounds);
``geo.types`` checks the coordinates (finite, in range) so that every coordinate of the hub
is judged by the same rules. Fields a payload does not declare (``altitude_m`` from a newer
app, ``speed`` from an older SDK) are ignored, as for every socket payload
(:class:`hub.core.validation.SocketPayload`): the point is taken without them.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from geo.types import GeoValidationError, parse_lat, parse_lng
from hub.core.errors import field_error
from hub.core.validation import SocketPayload, convert

# ts: epoch milliseconds; a fractional part is allowed. The bounds only refuse nonsense
# (and non-finite values); the noise filter judges plausibility against the server clock.
Millis = Annotated[float, msgspec.Meta(gt=0, lt=1e14)]
Accuracy = Annotated[float, msgspec.Meta(ge=0, le=1e7)]
# iOS reports -1 for an unknown course or speed (CLLocation); such a point is still a good
# fix, so -1 is taken as "absent" instead of refusing the whole point.
Heading = Annotated[float, msgspec.Meta(ge=-1, le=360)]
Speed = Annotated[float, msgspec.Meta(ge=-1, le=1e4)]
JobId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]

MAX_BATCH = 1000
"""Points per ``location:batch`` (15 minutes at 1 Hz fit in a 64 KiB frame anyway)."""


class Point(SocketPayload, gc=False):
    """One fix: ``location:update``, or an item of ``location:batch``."""

    lat: float
    lng: float
    ts: Millis
    accuracy_m: Accuracy | None = None
    heading: Heading | None = None
    speed_mps: Speed | None = None


class Batch(SocketPayload):
    """``location:batch``: points buffered while offline, oldest first."""

    points: Annotated[list[Point], msgspec.Meta(max_length=MAX_BATCH)]


class WatchPayload(SocketPayload):
    """``job:watch`` and ``job:unwatch``."""

    job_id: JobId


def _check_coordinates(point: Point, prefix: str) -> None:
    # msgspec guarantees floats; geo refuses NaN, infinities and out-of-range values.
    if point.heading is not None and point.heading < 0:
        point.heading = None
    if point.speed_mps is not None and point.speed_mps < 0:
        point.speed_mps = None
    try:
        parse_lat(point.lat, prefix + "lat")
        parse_lng(point.lng, prefix + "lng")
    except GeoValidationError as exc:
        raise field_error(exc.field, exc.message) from None


def parse_point(data: Any) -> Point:
    """Validate a ``location:update`` payload.

    Raises:
        ValidationFailed: naming the offending field (``lat``, ``ts``...).
    """
    point = convert(data, Point)
    _check_coordinates(point, "")
    return point


def parse_batch(data: Any) -> list[Point]:
    """Validate a ``location:batch`` payload: all points or none.

    Raises:
        ValidationFailed: naming the offending field (``points[3].lat``...).
    """
    points = convert(data, Batch).points
    for i, point in enumerate(points):
        _check_coordinates(point, f"points[{i}].")
    return points


def parse_watch(data: Any) -> str:
    """The ``job_id`` of a ``job:watch`` / ``job:unwatch`` payload."""
    return convert(data, WatchPayload).job_id
