"""Every HTTP route of the hub, with what the OpenAPI document says about it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from api import schemas
from api.handlers import auth, ops

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type | None = None
    public: bool = False
    ok_status: int = 200
    errors: tuple[int, ...] = field(default=(400, 401, 403, 404))
    query: tuple[str, ...] = ()


V1 = "/api/v1"

ROUTES: list[Route] = [
    Route(
        "POST",
        f"{V1}/auth/register",
        auth.register,
        "Create an account",
        "auth",
        schemas.RegisterBody,
        public=True,
        ok_status=201,
        errors=(400, 409, 429),
    ),
    Route(
        "POST",
        f"{V1}/auth/login",
        auth.login,
        "Log in",
        "auth",
        schemas.LoginBody,
        public=True,
        errors=(400, 401, 429),
    ),
    Route(
        "POST",
        f"{V1}/auth/refresh",
        auth.refresh,
        "Rotate a refresh token",
        "auth",
        schemas.RefreshBody,
        public=True,
        errors=(400, 401, 429),
    ),
    Route(
        "POST",
        f"{V1}/auth/logout",
        auth.logout,
        "Revoke a refresh token family",
        "auth",
        schemas.RefreshBody,
        ok_status=204,
        errors=(400, 401),
    ),
    Route("GET", f"{V1}/me", auth.me, "The caller's account", "auth", errors=(401,)),
    Route("GET", "/health", ops.health, "Liveness", "ops", public=True, errors=()),
    Route(
        "GET",
        "/ready",
        ops.ready,
        "Readiness of database and Redis",
        "ops",
        public=True,
        errors=(503,),
    ),
    Route("GET", "/metrics", ops.metrics, "Prometheus metrics", "ops", public=True, errors=()),
    Route("GET", f"{V1}/openapi.json", ops.openapi, "This document", "ops", public=True, errors=()),
]


def add_routes(app: web.Application, routes: list[Route]) -> None:
    for route in routes:
        app.router.add_route(route.method, route.path, route.handler)
