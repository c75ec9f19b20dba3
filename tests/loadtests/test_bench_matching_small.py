"""Runs the matching benchmark in its small CI size: index and naive scan must agree."""

from __future__ import annotations

import pytest

from tests.support.scripts import load_script


def test_small_benchmark_agrees(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_script("bench_matching")
    assert bench.main(["--small"]) == 0
    table = capsys.readouterr().out
    assert "index vs naive disagreements (300 jobs)" in table
    disagreements = [line for line in table.splitlines() if "disagreements" in line]
    assert disagreements and disagreements[0].split()[-1] == "0"
