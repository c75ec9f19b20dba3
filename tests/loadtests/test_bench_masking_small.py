"""Runs the masking benchmark in its small CI size: it reports the corpus figures and the
cost table (the timing is the benchmark's to judge, not this test's)."""

from __future__ import annotations

import pytest

from tests.support.scripts import load_script


def test_small_benchmark_reports_figures_and_costs(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_script("bench_masking")
    assert bench.main(["--small"]) == 0
    out = capsys.readouterr().out
    assert "recall 100.0%" in out or "recall 9" in out
    for row in ("corpus messages", "4,000 chars, no contact", "4,000 chars, 120 details"):
        assert row in out
    assert "verdict: corpus p99" in out
