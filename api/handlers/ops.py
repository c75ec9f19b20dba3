"""Operations endpoints: /health, /ready, /metrics, and the OpenAPI document."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.http import json_response
from api.keys import METRICS, OPENAPI, POOL, REDIS

_READY_TIMEOUT_S = 0.8


async def health(request: web.Request) -> web.Response:
    """Liveness: the process answers. No dependency is consulted."""
    return json_response({"status": "ok"})


async def _check_db(request: web.Request) -> str:
    try:
        async with asyncio.timeout(_READY_TIMEOUT_S):
            async with request.app[POOL].acquire() as conn:
                await conn.fetchval("SELECT 1")
        return "ok"
    except Exception as exc:  # any failure means "not ready", with the reason shown
        return f"down: {type(exc).__name__}"


async def _check_redis(request: web.Request) -> str | None:
    redis = request.app.get(REDIS)
    if redis is None:
        return None
    try:
        async with asyncio.timeout(_READY_TIMEOUT_S):
            await redis.ping()
        return "ok"
    except Exception as exc:
        return f"down: {type(exc).__name__}"


async def ready(request: web.Request) -> web.Response:
    """Readiness: 200 only when the database and a configured Redis answer (within 1 s)."""
    db, redis = await asyncio.gather(_check_db(request), _check_redis(request))
    checks = {"database": db}
    if redis is not None:
        checks["redis"] = redis
    healthy = all(v == "ok" for v in checks.values())
    # The probes' verdict as a gauge, so an alert can see /ready failing on any pod (the
    # kubelet asks every few seconds; Prometheus still scrapes pods that are not ready).
    verdict = 1.0 if healthy else 0.0
    request.app[METRICS].gauge(
        "tradeshub_ready",
        "1 if the last /ready found every dependency answering, else 0.",
        lambda: verdict,
    )
    if healthy:
        return json_response({"status": "ok", "checks": checks})
    return json_response(
        {
            "error": {
                "code": "unavailable",
                "message": "a dependency is down",
                "details": {"checks": checks},
            }
        },
        status=503,
    )


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI])
