"""Runs the tracking hot-path benchmark in its small CI size (its own checks: every point
accepted, every watcher written to, one ack per point); no timing is asserted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "loadtests" / "bench_tracking.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_tracking", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module


def test_small_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    bench = _load()
    assert bench.main(["--small", "--no-uvloop"]) == 0
    out = capsys.readouterr().out
    for stage in ("parse", "tracker", "tracker+fan-out", "server path"):
        assert any(line.startswith(stage + " ") for line in out.splitlines()), out
