"""Small helpers shared by REST handlers: JSON in and out, the caller's identity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import orjson
from aiohttp import web

from api.keys import TOKENS
from hub.core.errors import Forbidden, PayloadTooLarge, Unauthorized, ValidationFailed
from hub.core.validation import RequestBody, decode_json

B = TypeVar("B", bound=RequestBody)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def iso(value: datetime) -> str:
    """ISO 8601 UTC with milliseconds and a Z, as the contract writes timestamps."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def dumps(body: Any) -> bytes:
    return orjson.dumps(body, default=_default, option=orjson.OPT_PASSTHROUGH_DATETIME)


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps(body), status=status, content_type="application/json")


async def read_json(request: web.Request, type_: type[B]) -> B:
    """Decode the request body into ``type_`` (msgspec), with contract errors; a field the
    body type does not declare is refused (:class:`hub.core.validation.RequestBody`)."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge("request body over the limit") from None
    if not raw:
        raise ValidationFailed("body: a JSON body is required", {"fields": {"body": "required"}})
    return decode_json(raw, type_)


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: str
    role: str


def caller(request: web.Request, *roles: str) -> Caller:
    """The authenticated caller from the Bearer access token; optionally require a role."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token")
    claims = request.app[TOKENS].verify(token.strip(), "access")
    if roles and claims.role not in roles and claims.role != "admin":
        raise Forbidden(f"only {' or '.join(roles)} accounts may do this")
    return Caller(claims.sub, claims.role)


def query_int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(
            f"{name}: expected an integer", {"fields": {name: "expected an integer"}}
        ) from None
    if not lo <= value <= hi:
        raise ValidationFailed(
            f"{name}: must be between {lo} and {hi}", {"fields": {name: f"between {lo} and {hi}"}}
        )
    return value
