"""Runs the matching benchmark in its small CI size: index and naive scan must agree."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "loadtests" / "bench_matching.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_matching", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered before running it: its dataclasses look their module up by name.
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module


def test_small_benchmark_agrees(capsys: pytest.CaptureFixture[str]) -> None:
    bench = _load()
    assert bench.main(["--small"]) == 0
    table = capsys.readouterr().out
    assert "index vs naive disagreements (300 jobs)" in table
    disagreements = [line for line in table.splitlines() if "disagreements" in line]
    assert disagreements and disagreements[0].split()[-1] == "0"
