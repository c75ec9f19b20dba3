"""Request-scoped hygiene: request id, security headers, CORS, body size, route-group limits."""

from __future__ import annotations

import re
import secrets

from aiohttp import web

from api.errors import Handler, domain_response, error_response
from api.keys import LIMITER, SETTINGS
from api.logs import request_id_var
from hub.core.errors import RateLimited

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# Route groups with their own limits; the key is a path prefix under /api/v1.
RATE_GROUPS = {"auth": "/api/v1/auth/"}
SOCKET_PATH = "/socket.io/"  # where api.app attaches the Socket.IO server


def client_ip(request: web.Request) -> str:
    return request.remote or "unknown"


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Take X-Request-ID when sane, else make one; it is in every log line of the request."""
    incoming = request.headers.get("X-Request-ID", "")
    request_id = incoming if _REQUEST_ID.match(incoming) else secrets.token_hex(8)
    token = request_id_var.set(request_id)
    try:
        if _is_socket_upgrade(request):
            # The engine's handler then runs as long as the websocket, and each middleware
            # below would keep a frame alive with it (~2.5 KB per connection, measured with
            # 5,000 idle sockets) for little: the 101 response is sent from inside the
            # handler, so their headers never reach it; origins are the gateway's to check;
            # a refused handshake is the engine's plain 400 to a websocket client.
            return await request.match_info.handler(request)
        return await handler(request)
    finally:
        request_id_var.reset(token)


def _is_socket_upgrade(request: web.Request) -> bool:
    """A websocket upgrade of Socket.IO's path (polling requests take the full chain)."""
    return request.path == SOCKET_PATH and request.headers.get("Upgrade", "").lower() == (
        "websocket"
    )


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CORS for listed origins only, body size cap, security headers on every response."""
    settings = request.app[SETTINGS]
    origin = request.headers.get("Origin")
    allowed = origin is not None and (
        origin in settings.cors_origins or "*" in settings.cors_origins
    )
    length = request.content_length
    response: web.StreamResponse
    if (
        request.method == "OPTIONS"
        and origin
        and request.headers.get("Access-Control-Request-Method")
    ):
        response = web.Response(status=204 if allowed else 403)
        if allowed:
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, DELETE, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = (
                "Authorization, Content-Type, X-Request-ID"
            )
            response.headers["Access-Control-Max-Age"] = "600"
    elif length is not None and length > settings.max_body_bytes:
        response = error_response(413, "payload_too_large", "request body over 1 MiB")
    else:
        response = await handler(request)
    if allowed and origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
        response.headers["Access-Control-Expose-Headers"] = "X-Request-ID, Retry-After"
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if (response.content_type or "").startswith("text/html"):
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
            "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        )
    if settings.production:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Per-client limits for route groups (auth: 100 requests per 15 minutes by default)."""
    settings = request.app[SETTINGS]
    for group, prefix in RATE_GROUPS.items():
        if request.path.startswith(prefix):
            decision = await request.app[LIMITER].hit(
                f"rl:{group}:{client_ip(request)}",
                settings.auth_rate_limit,
                settings.auth_rate_window_s,
            )
            if not decision.allowed:
                return domain_response(
                    RateLimited("too many requests; slow down", decision.retry_after)
                )
    return await handler(request)
