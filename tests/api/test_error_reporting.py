"""Error reporting: with SENTRY_DSN set, errors logged by the hub reach a Sentry server.

The server is a local aiohttp fake of Sentry's envelope endpoint; the hub's side is the real
sentry-sdk, configured by ``api.error_reporting`` in a process of its own (the SDK is
process-wide state).
"""

from __future__ import annotations

import asyncio
import sys

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

from api.config import Settings
from api.error_reporting import start_error_reporting

_REPORTER = """
import logging, sys
import sentry_sdk
from api.config import Settings
from api.error_reporting import start_error_reporting

settings = Settings.from_env({"SENTRY_DSN": sys.argv[1], "JWT_SECRET": "s3cret-" + "x" * 30})
print(start_error_reporting(settings, "9.9.9"))
try:
    raise RuntimeError("the pool is on fire")
except RuntimeError:
    logging.getLogger("api.errors").exception("unexpected error", extra={"route": "/x"})
sentry_sdk.flush(timeout=5)
"""


async def test_a_logged_error_reaches_sentry_without_secrets() -> None:
    envelopes: list[list[dict[str, object]]] = []

    async def envelope(request: web.Request) -> web.Response:
        raw = await request.read()  # aiohttp undoes the SDK's Content-Encoding
        envelopes.append([orjson.loads(line) for line in raw.splitlines() if line.strip()])
        return web.json_response({"id": "0" * 32})

    app = web.Application()
    app.router.add_post("/api/{project}/envelope/", envelope)
    async with TestServer(app, host="127.0.0.1") as server:
        dsn = f"http://publickey@127.0.0.1:{server.port}/42"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _REPORTER, dsn,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert out.decode().strip() == "Sentry"
    events = [item for env in envelopes for item in env if item.get("level") == "error"]
    assert len(events) == 1, envelopes
    event = events[0]
    assert event["environment"] == "development"
    assert event["release"] == "tradeshub@9.9.9"
    text = orjson.dumps(envelopes).decode()
    assert "the pool is on fire" in text  # the exception, with its traceback
    assert "s3cret-" not in text  # configuration secrets never leave the process


def test_without_a_dsn_reporting_is_off_and_says_so() -> None:
    assert start_error_reporting(Settings(), "1.0") == "off (SENTRY_DSN not set)"
