#!/usr/bin/env bash
# The project's test command (README "Run the tests"; .ci/run calls exactly this).
#
# Installs what the tests need into .venv, makes sure PostgreSQL and Redis answer on
# 127.0.0.1 (starting them where it can), installs headless Chromium for the browser test,
# then runs lint and the whole pytest suite. It says plainly what it had to skip.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }
PY=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1

say "python environment (.venv)"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'
.venv/bin/python --version

port_open() { .venv/bin/python - "$1" <<'PYEOF'
import socket, sys
s = socket.socket(); s.settimeout(0.5)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PYEOF
}

PYTEST_ARGS=()
say "PostgreSQL on 127.0.0.1:5432"
if ! port_open 5432; then
  if command -v pg_ctlcluster >/dev/null && ls /etc/postgresql >/dev/null 2>&1; then
    echo "not answering; starting the local cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi
if port_open 5432; then
  echo "ok"
else
  # No server here: the tests run against an embedded PostgreSQL (pgserver) instead.
  echo "no PostgreSQL on 5432: using an embedded PostgreSQL for the tests"
  export TEST_EMBEDDED_POSTGRES=1
fi

say "Redis on 127.0.0.1:6379"
if ! port_open 6379 && command -v redis-server >/dev/null; then
  echo "not answering; starting redis-server on 6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  sleep 0.5
fi
if port_open 6379; then
  echo "ok"
else
  echo "SKIPPED: no Redis and no redis-server to start: tests marked 'redis' will not run"
  PYTEST_ARGS+=(-m "not redis")
  NO_REDIS=1
fi

say "headless Chromium for the browser test"
if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "installing Debian's chromium (once)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if command -v chromium >/dev/null; then
  chromium --version 2>/dev/null | head -n1
else
  echo "SKIPPED: no chromium (apt-get install -y chromium): the tracking page browser test will skip"
fi

say "checkov for deploy/terraform (a venv of its own under .tools/)"
CHECKOV_VERSION=3.3.30
if [ "$(.tools/checkov/bin/checkov --version 2>/dev/null)" != "$CHECKOV_VERSION" ]; then
  rm -rf .tools/checkov
  "$PY" -m venv .tools/checkov
  if ! .tools/checkov/bin/python -m pip install -q "checkov==$CHECKOV_VERSION"; then
    echo "SKIPPED: checkov could not be installed: the Terraform checks will skip"
  fi
fi
.tools/checkov/bin/checkov --version 2>/dev/null || true
if command -v terraform >/dev/null; then
  terraform version 2>/dev/null | sed -n 1p  # sed reads it all: head -n1 made terraform die of SIGPIPE (141 under pipefail)
else
  echo "SKIPPED: no terraform (no registry here ships it): terraform fmt -check will skip"
fi

say "lint (ruff)"
.venv/bin/ruff check .

say "tests (pytest, with line coverage of api/, hub/ and geo/)"
# The full run fails below [tool.coverage.report] fail_under; a partial run (any extra
# arguments: -k, a path, ...; or no Redis) reports coverage but cannot fail on it.
PYTEST_ARGS+=(--cov --cov-report=term-missing:skip-covered)
# This run's data files (its own and those of the hub processes it starts) in a folder of
# their own: runs side by side in one checkout must not erase or combine each other's.
export COVERAGE_FILE="${COVERAGE_FILE:-$(mktemp -d)/.coverage}"
if [ "$#" -gt 0 ] || [ -n "${NO_REDIS:-}" ]; then
  echo "partial run: coverage is reported, its threshold not enforced"
  PYTEST_ARGS+=(--cov-fail-under=0)
fi
set +e
.venv/bin/python -m pytest "${PYTEST_ARGS[@]}" "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here"
  exit 1
fi
exit "$status"
