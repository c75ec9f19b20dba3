"""The load test's pure parts: the seeded route stays inside the hub's noise filter, and
check_report.py's verdict (missing stats, failures, thresholds, ramp-up file)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from tests.support.scripts import load_script


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    north = (b[0] - a[0]) * 111_320
    east = (b[1] - a[1]) * 111_320 * math.cos(math.radians(a[0]))
    return math.hypot(north, east)


@pytest.mark.parametrize("k", [0, 7, 42])
def test_route_stays_inside_the_noise_filter_and_arrives(k: int) -> None:
    route = load_script("route", "lt_route")
    lay = load_script("loadseed", "lt_loadseed").layout("rt", 50, 50)
    start, site = lay.start(k), lay.site(k)
    drive = route.Drive((start["lat"], start["lng"]), (site["lat"], site["lng"]), seed=k)
    previous = None
    arrived_at = None
    for second in range(1500):
        fix = drive.step(0.9)  # the closest the contractors send two fixes
        here = (fix.lat, fix.lng)
        assert fix.accuracy_m < 100
        if previous is not None:
            assert here != previous  # exact repeats are noise
            assert _metres(previous, here) / 0.9 < 70  # implied speed
        previous = here
        if drive.arrived and arrived_at is None:
            arrived_at = second
        if arrived_at is not None:
            assert _metres(here, (site["lat"], site["lng"])) < 100
    assert arrived_at is not None and 200 < arrived_at < 1200  # minutes, not seconds


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    cols = ["Type", "Name", "Request Count", "Failure Count", "50%", "95%", "99%"]
    cols.append("Max Response Time")
    with path.open("w", newline="") as fh:
        out = csv.DictWriter(fh, cols)
        out.writeheader()
        out.writerows(rows)
    return path


def _row(kind: str, name: str, n: int, fails: int, p95: float, p99: float) -> dict[str, object]:
    return {
        "Type": kind,
        "Name": name,
        "Request Count": n,
        "Failure Count": fails,
        "50%": 1,
        "95%": p95,
        "99%": p99,
        "Max Response Time": p99,
    }


def test_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    check = load_script("check_report", "lt_check_report")
    names = check.SOCKET_STATS + check.REST_STATS
    steady = [
        _row("WS" if n in check.SOCKET_STATS else "GET", n, 10, 0, 5, 9)
        for n in names
        if n != "connect"
    ]
    ramp = [_row("WS", "connect", 5, 0, 400, 900)]
    total = _row("", "Aggregated", 100, 0, 5, 9)
    stats = _write(tmp_path / "s.csv", [*steady, total])
    ramp_csv = _write(tmp_path / "r.csv", [*ramp, _row("", "Aggregated", 5, 0, 400, 900)])

    assert check.main([str(stats)]) == 1  # connect missing
    assert "missing stat: 'connect'" in capsys.readouterr().out
    # connect only in the ramp-up: present, and its slow ramp is not held to thresholds
    assert check.main([str(stats), "--ramp", str(ramp_csv), "--thresholds"]) == 0

    slow = [*steady, _row("GET", "GET /api/v1/trades", 10, 0, 250, 300), total]
    assert check.main([_s(tmp_path, slow), "--ramp", str(ramp_csv), "--thresholds"]) == 1
    assert "REST p95 of 'GET /api/v1/trades' is 250 ms" in capsys.readouterr().out
    # without --thresholds only failures and presence count
    assert check.main([_s(tmp_path, slow), "--ramp", str(ramp_csv)]) == 0

    failing = [*steady, _row("WS", "disconnect (unexpected)", 1, 1, 0, 0), total]
    assert check.main([_s(tmp_path, failing), "--ramp", str(ramp_csv)]) == 1
    assert "1 failures: disconnect (unexpected) (1)" in capsys.readouterr().out


def _s(tmp_path: Path, rows: list[dict[str, object]]) -> str:
    return str(_write(tmp_path / "x.csv", rows))
