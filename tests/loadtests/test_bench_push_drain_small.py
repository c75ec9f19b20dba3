"""Runs the push drain benchmark in its small size: every queued push delivered once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_small_drain_delivers_everything_once(tmp_path: Path) -> None:
    out = tmp_path / "drain.json"
    subprocess.run(
        [sys.executable, "loadtests/bench_push_drain.py", "--small", "--out", str(out)],
        cwd=ROOT,
        check=True,
        timeout=300,
        capture_output=True,
    )
    [result] = json.loads(out.read_text())
    assert result["delivered"] == result["pushes"] == 500
    assert result["duplicates"] == 0
    assert result["probes_while_down"] >= 1  # FCM was down first, then back
