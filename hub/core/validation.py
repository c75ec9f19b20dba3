"""Decoding and validation of client payloads with msgspec, for REST bodies and socket events.

msgspec is strict: numbers sent as strings, booleans where numbers belong, unknown shapes
and non-standard JSON tokens (NaN, Infinity) are refused, which is what the contract asks.
"""

from __future__ import annotations

import math
import re
from typing import Any, TypeVar

import msgspec

from hub.core.errors import ValidationFailed

T = TypeVar("T")

_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")


def _field_from_path(path: str) -> str:
    # "$.location.lat" -> "location.lat"; "$.points[3].lat" -> "points[3].lat"
    return path.lstrip(".") or "body"


def validation_error(exc: msgspec.ValidationError | msgspec.DecodeError) -> ValidationFailed:
    """Turn a msgspec error into a validation_error naming the offending field."""
    text = str(exc)
    match = _PATH.search(text)
    if match:
        field = _field_from_path(match.group("path"))
        message = text[: match.start()]
    else:
        field = "body"
        message = text
    # ValidationError subclasses DecodeError: only a real decode failure is malformed JSON.
    if not isinstance(exc, msgspec.ValidationError):
        message = f"malformed JSON: {message}"
    return ValidationFailed(f"{field}: {message}", {"fields": {field: message}})


def decode_json(raw: bytes | str, type_: type[T]) -> T:
    """Decode JSON text into ``type_``, raising ValidationFailed with field details."""
    try:
        return msgspec.json.decode(raw, type=type_)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise validation_error(exc) from None


def convert(obj: Any, type_: type[T]) -> T:
    """Validate an already decoded object (a socket payload) into ``type_``."""
    if not isinstance(obj, dict):
        raise ValidationFailed(
            "payload: expected a JSON object", {"fields": {"payload": "expected an object"}}
        )
    try:
        return msgspec.convert(obj, type=type_, strict=True)
    except msgspec.ValidationError as exc:
        raise validation_error(exc) from None


def require_finite(field: str, value: float | None) -> None:
    """Refuse infinities (JSON like 1e999 decodes to inf)."""
    if value is not None and not math.isfinite(value):
        raise ValidationFailed(
            f"{field}: must be a finite number", {"fields": {field: "not finite"}}
        )
