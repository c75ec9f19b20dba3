"""Opaque page cursors: every cursor-paginated list of the API makes and reads them here.

A cursor is base64url without padding, so clients treat it as an opaque string; what it
holds is the position after the last row of a page. Reading one the API did not make is a
``validation_error`` naming ``cursor``, never a 500.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta

from hub.core.errors import ValidationFailed, field_error

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(raw: str) -> str:
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")


def _refused() -> ValidationFailed:
    return field_error("cursor", "not a cursor this API returned")


def after_row(at: datetime, key: str) -> str:
    """The cursor after a row of a list ordered by ``(created_at, id)`` descending:
    ``<created_at in epoch µs>.<id>``."""
    micros = (at - _EPOCH) // timedelta(microseconds=1)
    return _encode(f"{micros}.{key}")


def row_position(raw: str) -> tuple[datetime, str]:
    """Invert :func:`after_row`: the ``(created_at, id)`` to continue after."""
    try:
        text = _decode(raw)
        micros, _, key = text.partition(".")
        if not key or len(key) > 64 or len(micros) > 20:
            raise ValueError(text)
        return _EPOCH + timedelta(microseconds=int(micros)), key
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError):
        raise _refused() from None


def after_serial(prefix: str, value: int) -> str:
    """The cursor after a row of a list ordered by a serial id descending: ``<prefix><id>``
    (the prefix tells one list's cursors from another's)."""
    return _encode(f"{prefix}{value}")


def serial_position(raw: str, prefix: str) -> int:
    """Invert :func:`after_serial` for ``prefix``: the id to continue after."""
    try:
        text = _decode(raw)
        if not text.startswith(prefix) or len(text) > 20 + len(prefix):
            raise ValueError(text)
        value = int(text[len(prefix) :])
        if value < 0:
            raise ValueError(text)
        return value
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _refused() from None
