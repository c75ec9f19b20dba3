"""Judge a locust run from its ``<prefix>_stats.csv``: missing stats, failures, thresholds.

Exit 0 when the run passes, 1 when it does not (each reason printed), 2 on unusable
input. Writes a Markdown summary next to the CSV when ``--summary`` is given.

Gates:
- every expected stat name is present with at least one request (``--expect``, by
  default the journeys' stats below);
- no failures at all (``--max-failures``, default 0);
- with ``--thresholds``: p95 of every REST endpoint under ``--rest-p95`` ms, and p99 of
  every socket stat under ``--socket-p99`` ms. Login and refresh are reported but not
  held to the REST gate: a login's cost is Argon2id's by design, they happen once a
  session, nearly all in the ramp-up, and the few that straddle the statistics reset
  carry ramp-up latency into the steady state. ``--auth-p95 MS`` gates them too.

Locust keeps response times in buckets (exact to 100 ms, then 2 significant digits), so a
percentile it prints may be up to about 5 % above the true one.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

SOCKET_STATS = [
    "connect",
    "location: contractor to watcher",
    "location: update to ack",
    "chat: send to ack",
    "chat: send to partner",
    "job:watch",
    "chat:join",
]
REST_STATS = [
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/refresh",
    "PUT /api/v1/contractors/me",
    "GET /api/v1/jobs/[id]",
    "GET /api/v1/trades",
    "POST /api/v1/jobs",
    "GET /api/v1/jobs/[id]/matches",
    "GET /api/v1/jobs",
    "GET /api/v1/conversations/[id]/messages",
]
AUTH = ("POST /api/v1/auth/login", "POST /api/v1/auth/refresh")
NO_LATENCY = ("disconnect (unexpected)",)


def _num(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return float("nan")


def _ms(value: str) -> str:
    number = _num(value)
    return "-" if number != number else f"{number:.0f}"  # NaN: no requests


def _table(rows: list[dict[str, str]]) -> list[str]:
    out = [
        "| type | name | requests | failures | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(rows, key=lambda r: (r["Name"] == "Aggregated", r["Type"] != "WS", r["Name"])):
        out.append(
            f"| {r['Type']} | {r['Name']} | {r['Request Count']} | {r['Failure Count']} | "
            f"{_ms(r['50%'])} | {_ms(r['95%'])} | {_ms(r['99%'])} | "
            f"{_ms(r['Max Response Time'])} |"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stats_csv", type=Path)
    parser.add_argument("--expect", action="append", help="stat name that must be present")
    parser.add_argument("--max-failures", type=int, default=0)
    parser.add_argument("--thresholds", action="store_true")
    parser.add_argument("--rest-p95", type=float, default=200.0)
    parser.add_argument("--auth-p95", type=float, default=0.0, help="0: not gated")
    parser.add_argument("--socket-p99", type=float, default=250.0)
    parser.add_argument(
        "--ramp",
        type=Path,
        help="ramp-up stats written before --reset-stats (judged for "
        "presence and failures; thresholds apply to the main CSV only)",
    )
    parser.add_argument("--summary", type=Path)
    args = parser.parse_args(argv)
    try:
        with args.stats_csv.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        ramp_rows = []
        if args.ramp:
            with args.ramp.open(newline="") as fh:
                ramp_rows = list(csv.DictReader(fh))
    except OSError as exc:
        print(f"check_report: {exc}", file=sys.stderr)
        return 2
    stats = {r["Name"]: r for r in rows if r["Name"] != "Aggregated"}
    total = next((r for r in rows if r["Name"] == "Aggregated"), None)
    ramp = {r["Name"]: r for r in ramp_rows if r["Name"] != "Aggregated"}
    if total is None:
        print("check_report: no Aggregated row: not a locust stats CSV", file=sys.stderr)
        return 2

    problems: list[str] = []
    expected = args.expect or SOCKET_STATS + REST_STATS

    def count(name: str, column: str) -> int:
        return sum(int(src[name][column]) for src in (stats, ramp) if name in src)

    for name in expected:
        if count(name, "Request Count") == 0:
            problems.append(f"missing stat: {name!r} never recorded")
    names = sorted(set(stats) | set(ramp))
    failures = sum(count(n, "Failure Count") for n in names)
    if failures > args.max_failures:
        failing = [f"{n} ({count(n, 'Failure Count')})" for n in names if count(n, "Failure Count")]
        problems.append(f"{failures} failures: " + ", ".join(failing))

    text_parts = []
    if ramp_rows:
        text_parts += ["Ramp-up (until every user was spawned):", "", *_table(ramp_rows), ""]
        text_parts += ["Steady state (every user running; thresholds apply here):", ""]
    lines = [
        "| type | name | requests | failures | p50 ms | p95 ms | p99 ms | max ms | gate |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, row in sorted(stats.items(), key=lambda kv: (kv[1]["Type"] != "WS", kv[0])):
        p95, p99 = _num(row["95%"]), _num(row["99%"])
        gate = ""
        if int(row["Request Count"]) == 0:
            pass  # nothing in this phase (e.g. one-time steps after the ramp-up)
        elif row["Type"] == "WS" and name not in NO_LATENCY:
            gate = f"p99 < {args.socket_p99:g}"
            if args.thresholds and not p99 < args.socket_p99:
                problems.append(f"socket p99 of {name!r} is {p99:g} ms (limit {args.socket_p99:g})")
                gate += " MISSED"
        elif row["Type"] in ("GET", "POST", "PUT", "DELETE"):
            limit = args.auth_p95 if name in AUTH else args.rest_p95
            gate = f"p95 < {limit:g}" if limit else "reported"
            if args.thresholds and limit and not p95 < limit:
                problems.append(f"REST p95 of {name!r} is {p95:g} ms (limit {limit:g})")
                gate += " MISSED"
        if not args.thresholds:
            gate = ""
        lines.append(
            f"| {row['Type']} | {name} | {row['Request Count']} | {row['Failure Count']} | "
            f"{_ms(row['50%'])} | {_ms(row['95%'])} | {_ms(row['99%'])} | "
            f"{_ms(row['Max Response Time'])} | {gate} |"
        )
    lines.append(
        f"| | **all** | {total['Request Count']} | {failures} | {_num(total['50%']):g} | "
        f"{_num(total['95%']):g} | {_num(total['99%']):g} | "
        f"{_num(total['Max Response Time']):.0f} | |"
    )
    verdict = "PASS" if not problems else "FAIL"
    text = "\n".join([*text_parts, *lines, "", f"**{verdict}**", *(f"- {p}" for p in problems), ""])
    print(text)
    if args.summary:
        args.summary.write_text(text, "utf-8")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
