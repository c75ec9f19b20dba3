"""Configuration parsing: defaults, production rules, one clear line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from api.config import ConfigError, Settings, parse_duration

PROD = {
    "APP_ENV": "production",
    "DATABASE_URL": "postgresql://u:secretpw@db:5432/th",
    "JWT_SECRET": "x" * 32,
}


def test_defaults_need_nothing() -> None:
    s = Settings.from_env({})
    assert s.embedded_database and s.redis_url is None
    assert s.jwt_access_expiry_s == 900 and s.jwt_refresh_expiry_s == 7 * 86400
    assert s.port == 8080


def test_durations() -> None:
    assert parse_duration("X", "15m") == 900
    assert parse_duration("X", "7d") == 604800
    assert parse_duration("X", "45") == 45
    assert parse_duration("X", "500ms") == 0.5
    for bad in ("15 minutes", "-1m", "0s", "m"):
        with pytest.raises(ConfigError, match=r"^X: "):
            parse_duration("X", bad)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({**PROD, "JWT_SECRET": "short"}, "JWT_SECRET"),
        ({k: v for k, v in PROD.items() if k != "DATABASE_URL"}, "DATABASE_URL"),
        ({**PROD, "JWT_ACCESS_EXPIRY": "soon"}, "JWT_ACCESS_EXPIRY"),
        ({**PROD, "JWT_REFRESH_EXPIRY": "7 days"}, "JWT_REFRESH_EXPIRY"),
        ({**PROD, "CORS_ORIGINS": "*"}, "CORS_ORIGINS"),
        ({"PORT": "eighty"}, "PORT"),
        ({"APP_ENV": "staging"}, "APP_ENV"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ],
)
def test_errors_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{variable}: "):
        Settings.from_env(env)


def test_postgres_parts_and_masking() -> None:
    s = Settings.from_env(
        {
            **PROD,
            "DATABASE_URL": "",
            "POSTGRES_HOST": "db.internal",
            "POSTGRES_USER": "hub",
            "POSTGRES_PASSWORD": "p@ss word",
            "POSTGRES_DB": "th",
            "POSTGRES_SSL": "require",
            "REDIS_HOST": "cache",
            "REDIS_PASSWORD": "rpw",
        }
    )
    assert s.database_url == "postgresql://hub:p%40ss%20word@db.internal:5432/th?sslmode=require"
    assert s.redis_url == "redis://:rpw@cache:6379/0"
    shown = repr(s) + str(s.describe())
    assert "p%40ss" not in shown and "rpw" not in shown and "x" * 32 not in shown


def test_cli_prints_one_line_and_exits_nonzero() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "APP_ENV"))}
    env.update({"APP_ENV": "production", "DATABASE_URL": "postgresql://x@y/z", "JWT_SECRET": "s"})
    proc = subprocess.run(
        [sys.executable, "-m", "api", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "tradeshub: configuration error: JWT_SECRET: must be at least 32 characters in production"
    ]
