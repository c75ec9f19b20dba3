"""``tradeshub backup`` and ``tradeshub restore``: a seeded database, backed up, restored into a
fresh database, holds the same rows and the same chat conversation, and serves it."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from api.app import create_app
from api.backup import BackupError, find_tools, libpq_target, restore, tool_major
from api.config import Settings
from tests.api.jobs_support import assigned_job
from tests.conftest import ADMIN_URL, PASSWORD, _db_url


def _tradeshub(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "POSTGRES_", "REDIS_", "ADMIN_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "api", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


async def _create_db() -> str:
    name = f"th_backup_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def _drop_db(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def databases() -> AsyncIterator[Callable[[], Any]]:
    """Makes empty databases on the test server; drops them at the end."""
    made: list[str] = []

    async def make() -> str:
        made.append(await _create_db())
        return _db_url(made[-1])

    yield make
    for name in made:
        await _drop_db(name)


async def _row_counts(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        tables = [
            r["tablename"]
            for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        ]
        return {t: int(await conn.fetchval(f'SELECT count(*) FROM "{t}"')) for t in tables}
    finally:
        await conn.close()


async def _messages(dsn: str, conversation_id: Any) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT * FROM messages WHERE conversation_id = $1 ORDER BY seq", conversation_id
        )
    finally:
        await conn.close()
    return [dict(r) for r in rows]


async def test_backup_then_restore_into_a_fresh_database(
    databases: Callable[[], Any],  # first: its teardown (the drops) runs after the apps close
    aiohttp_client: Callable[..., Any],
    settings: Settings,
    tmp_path: Path,
) -> None:
    source, target = await databases(), await databases()
    done = _tradeshub(["seed"], DATABASE_URL=source)  # migrated, trade catalogue loaded
    assert done.returncode == 0, done.stderr

    # Seed through the API: accounts, a contractor profile, a job, its conversation, chat.
    client = await aiohttp_client(create_app(replace(settings, database_url=source)))
    customer, contractor, job = await assigned_job(client)
    resp = await client.get("/api/v1/conversations", headers=customer["auth"])
    assert resp.status == 200, await resp.text()
    conversation = next(c for c in await resp.json() if c["job_id"] == job["id"])
    url = f"/api/v1/conversations/{conversation['id']}/messages"
    for i, who in enumerate([customer, contractor, customer, contractor]):
        body = {"body": f"message {i}: what time works?", "client_msg_id": f"backup-{i}"}
        resp = await client.post(url, json=body, headers=who["auth"])
        assert resp.status in (200, 201), await resp.text()
    resp = await client.get(url, headers=customer["auth"])
    before = await resp.json()
    assert len(before["items"]) == 4
    await client.close()

    dump = tmp_path / "tradeshub.dump"
    done = _tradeshub(["backup", str(dump)], DATABASE_URL=source)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"backup {dump}: "), done.stdout
    assert dump.read_bytes()[:5] == b"PGDMP", "not a pg_dump custom-format archive"
    assert not dump.with_name(dump.name + ".partial").exists()

    done = _tradeshub(["restore", str(dump)], DATABASE_URL=target)
    assert done.returncode == 0, done.stderr
    assert "next: tradeshub migrate" in done.stdout

    counts = await _row_counts(source)
    assert counts == await _row_counts(target)
    for table in ("users", "jobs", "conversations", "messages", "schema_migrations"):
        assert counts[table] > 0, f"{table} was empty in the seeded database: {counts}"
    assert await _messages(target, conversation["id"]) == await _messages(
        source, conversation["id"]
    )

    # The restored database is a working hub database: migrate has nothing to do, the
    # customer logs in with the same password and reads the same conversation.
    done = _tradeshub(["migrate"], DATABASE_URL=target)
    assert (done.returncode, done.stdout) == (0, "database is up to date\n"), done.stderr
    client = await aiohttp_client(create_app(replace(settings, database_url=target)))
    resp = await client.post(
        "/api/v1/auth/login", json={"email": customer["email"], "password": PASSWORD}
    )
    assert resp.status == 200, await resp.text()
    token = (await resp.json())["access_token"]
    resp = await client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200
    assert await resp.json() == before

    # A second restore into the now populated database is refused, and changes nothing.
    counts = await _row_counts(target)  # the login above stored a refresh token
    done = _tradeshub(["restore", str(dump)], DATABASE_URL=target)
    assert done.returncode == 4, (done.stdout, done.stderr)
    assert "restore failed: the target database already has" in done.stderr
    assert await _row_counts(target) == counts


async def test_restore_needs_an_existing_file(databases: Callable[[], Any], tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no such backup file"):
        await restore(await databases(), tmp_path / "missing.dump")


async def test_a_broken_dump_leaves_the_fresh_database_empty(
    databases: Callable[[], Any], tmp_path: Path
) -> None:
    target = await databases()
    bogus = tmp_path / "bogus.dump"
    bogus.write_bytes(b"not a dump")
    done = _tradeshub(["restore", str(bogus)], DATABASE_URL=target)
    assert done.returncode == 4, done.stderr
    assert "pg_restore exited" in done.stderr
    assert await _row_counts(target) == {}


def test_tools_match_the_server_major(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no pg_dump/pg_restore of PostgreSQL 99 or newer"):
        find_tools(99)
    with pytest.raises(BackupError, match=r"\(found: none\)"):
        find_tools(15, dirs=[tmp_path])
    tools = find_tools(1)  # whatever is installed: the oldest release found
    assert tool_major(tools.pg_dump) == tools.major == tool_major(tools.pg_restore)
    assert tool_major(tmp_path / "absent") is None


def test_the_password_travels_in_the_environment() -> None:
    target, env = libpq_target(
        "postgresql://hub:s%40cret@db.internal:5432/tradeshub?sslmode=require"
    )
    assert target == "postgresql://hub@db.internal:5432/tradeshub?sslmode=require"
    assert env == {"PGPASSWORD": "s@cret"}
    assert libpq_target("postgresql://postgres@127.0.0.1/x") == (
        "postgresql://postgres@127.0.0.1/x",
        {},
    )


def test_the_bundled_tools_back_up_the_managed_server() -> None:
    """The image has no client tools of its own: the bundled PostgreSQL's (16) must serve the
    RDS major of deploy/terraform (db_engine_version)."""
    import re

    from tests.packaging.product_support import REPO_ROOT

    variables = (REPO_ROOT / "deploy/terraform/variables.tf").read_text()
    rds = re.search(r'variable "db_engine_version" \{.*?default\s*=\s*"(\d+)"', variables, re.S)
    assert rds, "db_engine_version's default in deploy/terraform/variables.tf"
    from pgserver._commands import POSTGRES_BIN_PATH

    tools = find_tools(int(rds.group(1)), dirs=[Path(POSTGRES_BIN_PATH)])
    assert tools.major >= int(rds.group(1))
