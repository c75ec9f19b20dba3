"""The one place that renders errors: every failure becomes the contract's JSON body."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from api.keys import METRICS
from api.logs import request_id_var
from hub.core.errors import DomainError, RateLimited, Unavailable, as_domain_error

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STATUS = {
    "validation_error": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "suspended": 403,
    "two_factor_required": 403,
    "otp_required": 401,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "contractor_not_payable": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "rate_limited": 429,
    "unavailable": 503,
    "internal_error": 500,
}

_HTTP_CODES = {
    400: ("validation_error", "malformed request"),
    401: ("unauthorized", "authentication required"),
    403: ("forbidden", "not allowed"),
    404: ("not_found", "no such resource"),
    405: ("method_not_allowed", "method not allowed on this resource"),
    409: ("conflict", "conflict"),
    413: ("payload_too_large", "request body too large"),
    415: ("unsupported_media_type", "send application/json"),
    429: ("rate_limited", "too many requests"),
    503: ("unavailable", "service unavailable"),
}


def error_response(
    status: int, code: str, message: str, details: dict[str, object] | None = None
) -> web.Response:
    from api.http import json_response  # local: http imports this module's STATUS

    error: dict[str, object] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return json_response({"error": error}, status=status)


def domain_response(exc: DomainError) -> web.Response:
    response = error_response(STATUS.get(exc.code, 500), exc.code, exc.message, exc.details)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _route_name(request: web.Request) -> str:
    info = request.match_info.route.resource
    return info.canonical if info is not None else "unmatched"


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map domain errors and aiohttp's HTTP exceptions to JSON; count and time requests."""
    started = time.perf_counter()
    try:
        response = await handler(request)
    except DomainError as exc:
        response = domain_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code, message = _HTTP_CODES.get(exc.status, ("internal_error", exc.reason))
        response = error_response(exc.status, code, message)
        if exc.status == 405:
            allow = exc.headers.get("Allow")
            if allow:
                response.headers["Allow"] = allow
    except Exception as exc:
        known = as_domain_error(exc)
        if known is not None:
            if isinstance(known, Unavailable):
                log.warning(
                    "dependency unavailable", extra={"path": request.path, "error": repr(exc)}
                )
            response = domain_response(known)
        else:
            log.exception("unhandled error", extra={"path": request.path})
            response = error_response(500, "internal_error", "internal error")
    metrics = request.app[METRICS]
    route = _route_name(request)
    metrics.http_requests.labels(request.method, route, str(response.status)).inc()
    metrics.http_latency.labels(request.method, route).observe(time.perf_counter() - started)
    request_id = request_id_var.get()
    if request_id:
        response.headers["X-Request-ID"] = request_id
    return response
