"""Runs the Redis scale benchmark in its small CI size: each node reads its rooms' traffic."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "loadtests" / "bench_redis_scale.py"

pytestmark = pytest.mark.redis  # starts a private redis-server


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_redis_scale", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module


def test_small_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    bench = _load()
    assert bench.main(["--small"]) == 0  # every node received exactly its rooms' traffic
    table = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in table if line.split()[:1] == ["2"]]
    assert len(rows) == 2
    for row in rows:
        own, received, total, redis_manager = int(row[3]), int(row[4]), int(row[7]), int(row[8])
        assert received == own < total == redis_manager
