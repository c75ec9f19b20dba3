"""Runs the login benchmark in its small size against real hub processes (one per Argon2
setting): every login answered 200, the anchor's hash costs more than the OWASP minimum's,
and the JSON report has its fields. No latency threshold is asserted.

Marked ``slow``: it starts two ``tradeshub serve`` processes (about 10 s in all).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ADMIN_URL
from tests.support.scripts import load_script

pytestmark = pytest.mark.slow

TRIAL_FIELDS = {
    "config",
    "trial",
    "requests",
    "ok",
    "errors",
    "warmup_errors",
    "error_kinds",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "logins_per_s",
    "max_send_lag_ms",
    "hub_cores",
}


def test_small_benchmark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_script("bench_login")
    out = tmp_path / "login.json"
    assert bench.main(["--small", "--pg-admin-url", ADMIN_URL, "--out", str(out)]) == 0

    report = json.loads(out.read_text())
    assert report["anchor"] == "old"
    assert report["params"]["trials"] == 1
    configs = {c["name"]: c for c in report["configs"]}
    assert list(configs) == ["old", "owasp"]
    assert (configs["old"]["time_cost"], configs["old"]["memory_kib"]) == (3, 65536)
    assert (configs["owasp"]["time_cost"], configs["owasp"]["memory_kib"]) == (2, 19456)
    for config in configs.values():
        assert config["parallelism"] == 1 and config["owasp_minimum"] is True
        assert config["hash_ms"] > 0 and config["verify_ms"] > 0
        assert set(config["summary"]) == {
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "max_ms",
            "logins_per_s",
            "errors",
            "hub_cores",
        }
        assert config["summary"]["errors"] == 0
        [trial] = config["trials"]
        assert set(trial) == TRIAL_FIELDS
        assert trial["config"] == config["name"]
        # 5/s for 2 s with 0.4 s of warm-up: 8 counted logins, all of them 200.
        assert trial["requests"] == trial["ok"] == 8
        assert trial["errors"] == trial["warmup_errors"] == 0 and trial["error_kinds"] == {}
        assert 0 < trial["p50_ms"] <= trial["p95_ms"] <= trial["p99_ms"] <= trial["max_ms"]
        assert trial["logins_per_s"] > 0 and trial["hub_cores"] > 0
    # Four times the memory and one more pass: this order holds on any machine.
    assert configs["old"]["hash_ms"] > configs["owasp"]["hash_ms"]
    assert configs["old"]["verify_ms"] > configs["owasp"]["verify_ms"]
    assert configs["old"]["p95_vs_anchor"] == 1.0

    table = capsys.readouterr().out
    assert "| old | 3 | 65536 | yes |" in table
    assert "| owasp | 2 | 19456 | yes |" in table
