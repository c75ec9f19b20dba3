#!/usr/bin/env bash
# The README's run command: install into .venv and run the hub on embedded defaults.
# With nothing configured it starts its own PostgreSQL under ./var and runs as a single
# node; set DATABASE_URL / REDIS_URL (see README) to use real services.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
echo "==> installing tradeshub into .venv"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e .
echo "==> loading trade categories (idempotent)"
.venv/bin/tradeshub seed
echo "==> starting the hub on port ${PORT:-8080} (Ctrl+C to stop)"
exec .venv/bin/tradeshub serve "$@"
