"""Domain errors with stable codes, shared by REST responses and socket acks.

The REST layer maps each code to an HTTP status (``api/errors.py``); socket handlers
answer ``{"ok": false, "error": {"code", "message"}}`` with the same codes.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a client may see. ``code`` is a stable snake_case string."""

    code = "internal_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        """The contract's error object: ``{"code", "message", "details"?}``."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return error


class ValidationFailed(DomainError):
    code = "validation_error"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class Unavailable(DomainError):
    code = "unavailable"


class Suspended(Forbidden):
    """The account is suspended by an administrator (login answers 403 ``suspended``)."""

    code = "suspended"


class OtpRequired(Unauthorized):
    """Two-factor sign-in is on and the login carried no ``otp`` (401 ``otp_required``)."""

    code = "otp_required"


class TwoFactorRequired(Forbidden):
    """In production, admin routes need an admin with two-factor sign-in enabled."""

    code = "two_factor_required"


class RateLimited(DomainError):
    code = "rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, {"retry_after_s": max(1, round(retry_after))})
        self.retry_after = max(1, round(retry_after))


def field_error(field: str, message: str) -> ValidationFailed:
    """A validation error about one field, with the field named in ``details``."""
    return ValidationFailed(f"{field}: {message}", {"fields": {field: message}})


def as_unavailable(exc: BaseException) -> Unavailable | None:
    """An ``Unavailable`` when ``exc`` means a dependency is unreachable, else None.

    PostgreSQL going away surfaces as asyncpg connection errors, as connection errors
    (refused, reset) while the pool reconnects, or as a timeout acquiring a connection. Clients get
    ``unavailable`` (HTTP 503) and may retry; nothing else about the request changes.
    """
    import asyncpg

    unreachable = (
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
        asyncpg.CannotConnectNowError,
        asyncpg.TooManyConnectionsError,
        ConnectionError,
        TimeoutError,
    )
    if isinstance(exc, unreachable):
        return Unavailable("a backing service is unavailable; try again shortly")
    return None


def as_domain_error(exc: BaseException) -> DomainError | None:
    """The answer for an exception that is not a bug of ours, else None: ``unavailable``
    (see :func:`as_unavailable`), or ``validation_error`` for text PostgreSQL cannot hold.

    PostgreSQL's text and jsonb refuse the NUL character (U+0000), which JSON can carry in
    any string: a name, an id, a title. Refused there, in the statement, nothing is stored,
    and the client learns its text was at fault instead of getting a 500. Checking every
    string on the way in would cost the location hot path for a character no honest app
    sends; the database already checks.
    """
    down = as_unavailable(exc)
    if down is not None:
        return down
    import asyncpg

    bad_text = (asyncpg.CharacterNotInRepertoireError, asyncpg.UntranslatableCharacterError)
    if isinstance(exc, bad_text):
        return ValidationFailed(
            "text must not contain the NUL character (U+0000)", {"rule": "nul_character"}
        )
    return None
