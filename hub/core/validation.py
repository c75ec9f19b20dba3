"""Decoding and validation of client payloads with msgspec, for REST bodies and socket events.

msgspec is strict: numbers sent as strings, booleans where numbers belong, values out of
their bounds and non-standard JSON tokens (NaN, Infinity) are refused, which is what the
contract asks. Fields a type does not declare are a matter of which side of the hub the
payload comes in by, decided once here by two base classes (docs/PROTOCOL-NOTES.md,
"Unknown fields"):

* :class:`SocketPayload`, every Socket.IO event payload (and the connect's ``auth``):
  unknown fields are ignored, so an event from a newer (or older) app is never lost for a
  field this version does not know. Read with :func:`convert`.
* :class:`RequestBody`, every REST body: an unknown field is a ``validation_error`` naming
  it, so a REST client learns of a typo at once. Read with :func:`decode_json`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from typing import Any, TypeVar

import msgspec

from hub.core.errors import ValidationFailed


class SocketPayload(msgspec.Struct, forbid_unknown_fields=False):
    """Base of every Socket.IO event payload: fields it does not declare are ignored.

    The contract's forward-compatibility rule: a newer app adds a field, an older SDK still
    sends one that was renamed; the event is taken with the fields this version knows, each
    checked strictly. Subclasses must not set ``forbid_unknown_fields``
    (``tests/hub/test_payload_rules.py`` checks every payload type).
    """


class RequestBody(msgspec.Struct, forbid_unknown_fields=True):
    """Base of every REST body: a field it does not declare is a ``validation_error``.

    A REST call is made by a developer at a keyboard: a misspelt or unsupported field is
    answered 400 with the field in ``details.fields`` rather than silently ignored.
    """


P = TypeVar("P", bound=SocketPayload)
B = TypeVar("B", bound=RequestBody)

_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>.*)`$", re.DOTALL)


def _field_from_path(path: str) -> str:
    # "$.location.lat" -> "location.lat"; "$.points[3].lat" -> "points[3].lat"
    return path.lstrip(".") or "body"


def validation_error(exc: msgspec.ValidationError | msgspec.DecodeError) -> ValidationFailed:
    """Turn a msgspec error into a validation_error naming the offending field."""
    text = str(exc)
    match = _PATH.search(text)
    path, message = (match.group("path"), text[: match.start()]) if match else ("", text)
    field = _field_from_path(path)
    unknown = _UNKNOWN.match(message)
    if unknown:  # name the field itself: "location.alt", not "location"
        field = f"{path}.{unknown.group('name')}".lstrip(".")
        message = "unknown field"
    # ValidationError subclasses DecodeError: only a real decode failure is malformed JSON.
    if not isinstance(exc, msgspec.ValidationError):
        message = f"malformed JSON: {message}"
    return ValidationFailed(f"{field}: {message}", {"fields": {field: message}})


def decode_json(raw: bytes | str, type_: type[B]) -> B:
    """Decode a REST body into ``type_``, raising ValidationFailed with field details."""
    try:
        return msgspec.json.decode(raw, type=type_)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise validation_error(exc) from None


def convert(obj: Any, type_: type[P]) -> P:
    """Validate an already decoded socket payload into ``type_`` (unknown fields ignored)."""
    if not isinstance(obj, dict):
        raise ValidationFailed(
            "payload: expected a JSON object", {"fields": {"payload": "expected an object"}}
        )
    try:
        return msgspec.convert(obj, type=type_, strict=True)
    except msgspec.ValidationError as exc:
        raise validation_error(exc) from None


def refuse_unknown_keys(obj: object, known: Collection[str], field: str) -> None:
    """The :class:`RequestBody` rule for a part of a REST body typed as free JSON (the circle
    form of a service area): a key outside ``known`` is a validation_error naming it
    (``service_area.units``). Anything but an object is left to the part's own parser."""
    if not isinstance(obj, dict):
        return
    for key in obj:
        if key not in known:
            name = f"{field}.{key}"
            raise ValidationFailed(f"{name}: unknown field", {"fields": {name: "unknown field"}})


def require_finite(field: str, value: float | None) -> None:
    """Refuse infinities (JSON like 1e999 decodes to inf)."""
    if value is not None and not math.isfinite(value):
        raise ValidationFailed(
            f"{field}: must be a finite number", {"fields": {field: "not finite"}}
        )
