"""Runs the Redis scale benchmark in its small CI size: each node reads its rooms' traffic."""

from __future__ import annotations

import pytest

from tests.support.scripts import load_script

pytestmark = pytest.mark.redis  # starts a private redis-server


def test_small_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_script("bench_redis_scale")
    assert bench.main(["--small"]) == 0  # every node received exactly its rooms' traffic
    table = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in table if line.split()[:1] == ["2"]]
    assert len(rows) == 2
    for row in rows:
        own, received, total, redis_manager = int(row[3]), int(row[4]), int(row[7]), int(row[8])
        assert received == own < total == redis_manager
