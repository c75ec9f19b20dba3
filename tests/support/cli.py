"""The ``tradeshub`` command as an operator runs it: a separate process, a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys


def cli_env(**extra: str) -> dict[str, str]:
    """This environment without the hub's own settings, with cheap Argon2, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "POSTGRES_", "REDIS_", "ADMIN_", "PORT"))
    }
    env.update({"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "1024", **extra})
    return env


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``tradeshub ARGS`` to its end; no standard input (a prompt fails instead of waiting)."""
    return subprocess.run(
        [sys.executable, "-m", "api", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
