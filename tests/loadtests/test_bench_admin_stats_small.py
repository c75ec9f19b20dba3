"""Runs the admin stats benchmark in its small size: it seeds, serves, answers every request
with the seeded counts, and reports its table. No latency threshold is asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ADMIN_URL
from tests.support.scripts import load_script

pytestmark = pytest.mark.slow


def test_small_benchmark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_script("bench_admin_stats")
    out = tmp_path / "stats.json"
    assert bench.main(["--small", "--pg-admin-url", ADMIN_URL, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    answer = result["answer"]
    assert sum(answer["users"].values()) == 2_000 + 1  # the seeded users and the bench's admin
    assert sum(answer["jobs"].values()) == 4_000
    assert set(result["http"]) == {"p50_ms", "p95_ms", "p99_ms", "max_ms"}
    assert "GET /admin/stats" in capsys.readouterr().out
