"""Runs the tracking hot-path benchmark in its small CI size (its own checks: every point
accepted, every watcher written to, one ack per point); no timing is asserted."""

from __future__ import annotations

import pytest

from tests.support.scripts import load_script


def test_small_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_script("bench_tracking")
    assert bench.main(["--small", "--no-uvloop"]) == 0
    out = capsys.readouterr().out
    for stage in ("parse", "tracker", "tracker+fan-out", "server path"):
        assert any(line.startswith(stage + " ") for line in out.splitlines()), out
