"""The connection pool's bounds: checked together, at start, naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from api.config import ConfigError, Settings


def test_a_pool_minimum_above_its_maximum_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"DB_POOL_MIN": "20", "DB_POOL_MAX": "10"})
    assert str(refused.value) == "DB_POOL_MIN: must not exceed DB_POOL_MAX (10), got 20"


def test_a_small_maximum_alone_lowers_the_default_minimum() -> None:
    s = Settings.from_env({"DB_POOL_MAX": "1"})
    assert (s.db_pool_min, s.db_pool_max) == (1, 1)
    s = Settings.from_env({})
    assert (s.db_pool_min, s.db_pool_max) == (2, 10)
    s = Settings.from_env({"DB_POOL_MIN": "10", "DB_POOL_MAX": "10"})
    assert (s.db_pool_min, s.db_pool_max) == (10, 10)


def test_serve_refuses_the_bounds_in_one_line() -> None:
    """Before the check, asyncpg refused them when the pool opened: a traceback, exit 1."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_POOL", "DATABASE_URL"))}
    env.update(
        {
            "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres",
            "DB_POOL_MIN": "20",
            "DB_POOL_MAX": "10",
        }
    )
    proc = subprocess.run(
        [sys.executable, "-m", "api", "serve", "--no-migrate", "--port", "1"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "tradeshub: configuration error: DB_POOL_MIN: must not exceed DB_POOL_MAX (10), got 20"
    ]
