#!/usr/bin/env bash
# Load test the hub at HOST: loadtests/run.sh smoke|target|soak HOST
#
# Creates locust's virtual environment (loadtests/.venv) on first use, seeds the hub
# (by SQL with loadseed.py when DATABASE_URL is set, else through the API with
# seed_api.py), runs locust headless, writes CSV + HTML into loadtests/reports/<stamp>/,
# and exits non-zero on any failure, a missing stat, or (target) a missed threshold.
#
# Profiles (override with the LT_* variables):
#   smoke   8 contractors + 8 customers + 14 REST users = 30, 20 s
#   target  300 + 300 + 400 = 1,000 users, 7 min (100 s of ramp-up at 10 users/s, then
#           5 min steady); REST p95 < 200 ms, socket p99 < 250 ms in the steady state
#   soak    150 + 150 + 200 = 500 users, 60 min; zero failures
# Variables:
#   LT_PAIRS, LT_REST, LT_DURATION, LT_SPAWN_RATE   sizes and times of the profile
#   LT_CHAT_WAIT, LT_REST_WAIT       mean seconds between a customer's chats, REST tasks
#   LT_LOGIN_SHARE    share of users logging in with the password (the others resume
#                     with their seeded refresh token)
#   LT_RESET_STATS=1  locust --reset-stats once every user is spawned, the ramp-up kept
#                     apart (default in target and soak)
#   LT_THRESHOLDS=1   gate smoke or soak on the target thresholds too
#   LT_PROCESSES      local locust worker processes (--processes)
#   LT_CPUS           taskset CPU list for locust, e.g. 1
#   LT_SEED=sql|api   sql: loadseed.py into DATABASE_URL, or without it the embedded
#                     database under TRADESHUB_DATA_DIR; api: seed_api.py.
#                     Default: sql when DATABASE_URL is set, else api
#   HUB_PYTHON        the python with the hub installed, which SQL seeding runs
#                     loadseed.py with. Default: the python beside the `tradeshub` on
#                     PATH, else the checkout's .venv/bin/python
#   LOADTEST_VENV     where locust's venv lives (loadtests/.venv)
# docs/LOADTESTS.md has the details, distributed runs included.
set -euo pipefail
# Everything runs from main, called on the last line: bash then has read the whole
# script before running any of it, so editing run.sh cannot derail a run in progress.

main() {

usage() { echo "usage: $0 smoke|target|soak HOST   (e.g. $0 smoke http://127.0.0.1:8080)" >&2; exit 2; }
[ $# -eq 2 ] || usage
MODE=$1
HOST=${2%/}
case "$HOST" in http://*|https://*) ;; *) usage ;; esac

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
VENV=${LOADTEST_VENV:-$HERE/.venv}
export PIP_DISABLE_PIP_VERSION_CHECK=1

THRESHOLDS=${LT_THRESHOLDS:-0}
RESET=0  # 1: thresholds judge the steady state; the ramp-up is judged for failures only
case "$MODE" in
  smoke)  PAIRS=8;   REST=14;  DURATION=20s; SPAWN=30; CHAT_WAIT=3;  REST_WAIT=2; LOGIN=0.5 ;;
  target) PAIRS=300; REST=400; DURATION=7m;  SPAWN=10; CHAT_WAIT=12; REST_WAIT=5; LOGIN=0.1
          THRESHOLDS=${LT_THRESHOLDS:-1}; RESET=1 ;;
  soak)   PAIRS=150; REST=200; DURATION=60m; SPAWN=10; CHAT_WAIT=12; REST_WAIT=5; LOGIN=0.1
          RESET=1 ;;
  *) usage ;;
esac
PAIRS=${LT_PAIRS:-$PAIRS}
REST=${LT_REST:-$REST}
DURATION=${LT_DURATION:-$DURATION}
SPAWN=${LT_SPAWN_RATE:-$SPAWN}
CHAT_WAIT=${LT_CHAT_WAIT:-$CHAT_WAIT}
REST_WAIT=${LT_REST_WAIT:-$REST_WAIT}
LOGIN=${LT_LOGIN_SHARE:-$LOGIN}
PROCESSES=${LT_PROCESSES:-1}
USERS=$((2 * PAIRS + REST))

# Whole pairs per worker process: pair k's contractor and customer share a process.
if [ $((PAIRS % PROCESSES)) -ne 0 ]; then
  echo "LT_PAIRS ($PAIRS) must be a multiple of LT_PROCESSES ($PROCESSES)" >&2; exit 2
fi

say() { printf '==> %s\n' "$*"; }

# The python with the hub installed (SQL seeding imports its database and token code):
# HUB_PYTHON; else the one beside the `tradeshub` on PATH (a venv's bin, or where a
# pipx/symlinked command points); else the checkout's .venv.
hub_python() {
  if [ -n "${HUB_PYTHON:-}" ]; then echo "$HUB_PYTHON"; return; fi
  local cli
  if cli=$(command -v tradeshub 2>/dev/null); then
    cli=$(readlink -f "$cli")
    if [ -x "$(dirname "$cli")/python" ]; then echo "$(dirname "$cli")/python"; return; fi
  fi
  echo "$ROOT/.venv/bin/python"
}

say "locust environment ($VENV)"
if [ ! -x "$VENV/bin/locust" ] || ! cmp -s "$HERE/requirements.txt" "$VENV/.requirements.txt"; then
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install -q -r "$HERE/requirements.txt"
  cp "$HERE/requirements.txt" "$VENV/.requirements.txt"
fi
"$VENV/bin/locust" --version

say "hub at $HOST"
"$VENV/bin/python" - "$HOST" <<'PY'
import sys, urllib.request
host = sys.argv[1]
for path in ("/health", "/ready"):
    try:
        with urllib.request.urlopen(host + path, timeout=5) as r:
            print(path, r.status)
    except Exception as exc:
        sys.exit(f"the hub at {host} does not answer {path}: {exc}")
PY

STAMP=$(date -u +%Y%m%dT%H%M%SZ)-$MODE
OUT=$HERE/reports/$STAMP
mkdir -p "$OUT"
SEED=$OUT/seed.json

say "seeding $((PAIRS + REST)) customers, $PAIRS contractors, $PAIRS assigned jobs"
SEED_BY=${LT_SEED:-$([ -n "${DATABASE_URL:-}" ] && echo sql || echo api)}
if [ "$SEED_BY" = sql ]; then
  HUB_PY=$(hub_python)
  # Checked from loadtests/, where no source tree is importable by accident.
  if ! (cd "$HERE" && "$HUB_PY" -c 'import api.db') >/dev/null 2>&1; then
    echo "SQL seeding runs loadtests/loadseed.py with a python that has the hub installed," >&2
    echo "and $HUB_PY is not one (or does not exist). Set HUB_PYTHON to the python of the" >&2
    echo "venv where tradeshub is installed (e.g. HUB_PYTHON=$ROOT/.venv/bin/python), or put" >&2
    echo "that venv's tradeshub on PATH, or seed through the API: LT_SEED=api." >&2
    exit 2
  fi
  echo "by SQL: $HUB_PY loadtests/loadseed.py"
  # DATABASE_URL, or else the embedded database under TRADESHUB_DATA_DIR, relative to the
  # checkout like the hub's (./deploy/run-local.sh serves from there).
  (cd "$ROOT" && "$HUB_PY" "$HERE/loadseed.py" --customers $((PAIRS + REST)) \
     --contractors "$PAIRS" --tag "lt-$MODE" --out "$SEED")
else
  echo "seeding through the API (fine for smoke sizes only; LT_SEED=sql seeds by SQL)"
  "$VENV/bin/python" "$HERE/seed_api.py" --host "$HOST" --customers $((PAIRS + REST)) \
     --contractors "$PAIRS" --tag "$(date -u +%H%M%S)$RANDOM" --out "$SEED"
fi

say "locust: $USERS users ($PAIRS contractors, $PAIRS customers, $REST REST), spawn $SPAWN/s, $DURATION"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
PIN=()
if [ -n "${LT_CPUS:-}" ]; then PIN=(taskset -c "$LT_CPUS"); fi
DIST=()
if [ "$PROCESSES" -gt 1 ]; then DIST=(--processes "$PROCESSES"); fi
RESET=${LT_RESET_STATS:-$RESET}
if [ "$RESET" = 1 ]; then DIST+=(--reset-stats); fi
set +e
(cd "$HERE" && "${PIN[@]}" "$VENV/bin/locust" -f locustfile.py --headless \
  -H "$HOST" -u "$USERS" -r "$SPAWN" -t "$DURATION" --stop-timeout 5 \
  "${DIST[@]}" \
  --seed-file "$SEED" --pairs "$PAIRS" --chat-wait "$CHAT_WAIT" --rest-wait "$REST_WAIT" \
  --login-share "$LOGIN" \
  --csv "$OUT/locust" --html "$OUT/report.html" --only-summary \
  --logfile "$OUT/locust.log" --loglevel INFO)
LOCUST_RC=$?
set -e

say "verdict ($OUT)"
CHECK=("$OUT/locust_stats.csv" --summary "$OUT/summary.md")
if [ "$THRESHOLDS" = 1 ]; then CHECK+=(--thresholds); fi
if [ -f "$OUT/locust_ramp_stats.csv" ]; then CHECK+=(--ramp "$OUT/locust_ramp_stats.csv"); fi
set +e
"$VENV/bin/python" "$HERE/check_report.py" "${CHECK[@]}"
CHECK_RC=$?
set -e
grep -E "CPU usage|exceeded cpu|Traceback" "$OUT/locust.log" | head -5 || true
echo "reports: $OUT (report.html, locust_stats.csv, locust_failures.csv, summary.md)"
if [ "$CHECK_RC" -ne 0 ] || [ "$LOCUST_RC" -ne 0 ]; then
  echo "FAIL (locust exit $LOCUST_RC, check exit $CHECK_RC)"
  exit 1
fi
echo "PASS"
}

main "$@"
