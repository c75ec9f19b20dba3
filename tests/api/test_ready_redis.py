"""/ready follows a configured Redis: 503 within a second when it goes away, 200 when back."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import private_redis

pytestmark = pytest.mark.redis


async def test_ready_turns_503_when_redis_dies(make_client: Any, tmp_path: Path) -> None:
    with private_redis(tmp_path) as redis:
        client = await make_client(redis_url=redis.url)
        resp = await client.get("/ready")
        assert resp.status == 200
        assert (await resp.json())["checks"] == {"database": "ok", "redis": "ok"}

        redis.stop()
        started = time.monotonic()
        resp = await client.get("/ready")
        elapsed = time.monotonic() - started
        assert resp.status == 503
        body = await resp.json()
        assert body["error"]["code"] == "unavailable"
        assert body["error"]["details"]["checks"]["redis"].startswith("down")
        assert elapsed < 1.5  # generous bound on "within a second"; a hang would be 10+ s
        assert (await client.get("/health")).status == 200

        redis.start()
        for _ in range(50):
            resp = await client.get("/ready")
            if resp.status == 200:
                break
        assert resp.status == 200
