"""What a client and an operator see when a handler fails in a way nobody planned for: a 500
in the contract's error format that leaks nothing, one log line carrying the traceback and
the request id, the 5xx counted in /metrics, and a hub that keeps serving.

The failing handler is an extra route on an app from ``create_app``: every middleware on the
way out is the product's own."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

from aiohttp import web

from api.app import create_app
from api.config import Settings
from api.logs import JsonFormatter


async def test_an_unplanned_failure_is_a_plain_500_logged_and_counted(
    aiohttp_client: Any, settings: Settings
) -> None:
    async def broken(request: web.Request) -> web.Response:
        raise KeyError("secret_column_name")

    app = create_app(settings)
    app.router.add_get("/broken", broken)
    client = await aiohttp_client(app)
    logged = io.StringIO()
    handler = logging.StreamHandler(logged)
    handler.setFormatter(JsonFormatter())  # the hub's log format
    logging.getLogger("api").addHandler(handler)
    try:
        resp = await client.get("/broken", headers={"X-Request-ID": "req-abc-123"})
    finally:
        logging.getLogger("api").removeHandler(handler)
    assert resp.status == 500
    assert resp.headers["X-Request-ID"] == "req-abc-123"
    assert resp.content_type == "application/json"
    text = await resp.text()
    assert "secret_column_name" not in text and "Traceback" not in text
    assert await resp.json() == {"error": {"code": "internal_error", "message": "internal error"}}

    lines = [json.loads(line) for line in logged.getvalue().splitlines()]
    unhandled = [line for line in lines if line["msg"] == "unhandled error"]
    assert len(unhandled) == 1, lines
    assert unhandled[0]["level"] == "error"
    assert unhandled[0]["request_id"] == "req-abc-123"
    assert unhandled[0]["path"] == "/broken"
    assert "KeyError: 'secret_column_name'" in unhandled[0]["exc"]  # the operator gets it all

    metrics = await (await client.get("/metrics")).text()
    assert 'tradeshub_http_requests_total{method="GET",route="/broken",status="500"} 1.0' in metrics
    assert (await client.get("/health")).status == 200
