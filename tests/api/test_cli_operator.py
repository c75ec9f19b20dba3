"""What an operator sees from the tradeshub command when a database is fresh, behind or ahead
of the release, and when an existing account is made an admin. Each test runs the command as
a separate process on a database of its own."""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from api.migrate import load_migrations
from tests.conftest import PASSWORD, register
from tests.support.cli import cli_env, run_cli
from tests.support.processes import free_port

Client = TestClient[Any, Any]


def _serve(dsn: str, *flags: str) -> tuple[subprocess.CompletedProcess[str], int]:
    """``tradeshub serve`` expected to stop by itself (within 60 s) at start-up."""
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "api", "serve", "--port", str(port), *flags],
        env=cli_env(DATABASE_URL=dsn),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done, port


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


async def test_migrate_names_each_migration_it_applies(fresh_db: str) -> None:
    done = run_cli(["migrate"], cli_env(DATABASE_URL=fresh_db))
    assert done.returncode == 0, done.stderr
    expected = [f"applied {m.version:04d}_{m.name}" for m in load_migrations()]
    assert done.stdout.splitlines() == expected
    again = run_cli(["migrate"], cli_env(DATABASE_URL=fresh_db))
    assert again.returncode == 0, again.stderr
    assert again.stdout == "database is up to date\n"


async def test_a_release_older_than_its_database_refuses_to_migrate_or_serve(
    fresh_db: str,
) -> None:
    """A rollback to a release that lacks a migration the database already has must not run
    against a schema it was not written for; it says so in one line (exit 3)."""
    assert run_cli(["migrate"], cli_env(DATABASE_URL=fresh_db)).returncode == 0
    conn = await asyncpg.connect(fresh_db)
    try:
        await conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'later', 'x')"
        )
        tables = await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname='public'")
    finally:
        await conn.close()
    line = (
        "tradeshub: migration error: database has migration 9999 that this release does not "
        "know; deploy the newer release\n"
    )
    done = run_cli(["migrate"], cli_env(DATABASE_URL=fresh_db))
    assert (done.returncode, done.stderr, done.stdout) == (3, line, "")

    served, port = _serve(fresh_db)
    assert served.returncode == 3, served.stderr[-2000:]
    assert served.stderr.endswith(line)
    assert not _listening(port)
    conn = await asyncpg.connect(fresh_db)
    try:  # nothing was applied or dropped on the way
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == 9999
        assert (
            await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname='public'")
            == tables
        )
    finally:
        await conn.close()


async def test_serve_no_migrate_on_an_unmigrated_database_says_what_to_do(
    fresh_db: str,
) -> None:
    """``serve --no-migrate`` leaves the schema alone; on a database nobody migrated it stops
    with one line telling the operator to migrate, instead of a bare traceback."""
    served, port = _serve(fresh_db, "--no-migrate")
    assert served.returncode == 3, served.stderr[-2000:]
    last = served.stderr.splitlines()[-1]
    assert last.startswith("tradeshub: the database schema is behind this release"), last
    assert "run `tradeshub migrate`" in last
    assert not _listening(port)
    conn = await asyncpg.connect(fresh_db)
    try:  # --no-migrate created nothing
        assert await conn.fetchval("SELECT to_regclass('schema_migrations')") is None
    finally:
        await conn.close()


async def test_create_admin_promotes_an_existing_account(client: Client, pg_dsn: str) -> None:
    """The account keeps its password and id; it is an admin from its next login."""
    customer = await register(client, "customer")
    email = customer["email"]
    env = cli_env(DATABASE_URL=pg_dsn, ADMIN_PASSWORD="another long passphrase")
    done = run_cli(["create-admin", email.upper()], env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"admin {email.upper()}: created or promoted\n"

    resp = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    login = await resp.json()
    assert login["user"]["id"] == customer["user"]["id"]
    assert login["user"]["role"] == "admin"
    conn = await asyncpg.connect(pg_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM users WHERE lower(email) = $1", email) == 1
    finally:
        await conn.close()
