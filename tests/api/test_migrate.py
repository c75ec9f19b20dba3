"""Migrations against fresh databases on the real PostgreSQL."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import asyncpg
import pytest

from api.migrate import MIGRATIONS_DIR, MigrationError, load_migrations, migrate


async def test_fresh_then_rerun_is_noop(fresh_db: str) -> None:
    conn = await asyncpg.connect(fresh_db)
    try:
        applied = await migrate(conn)
        assert applied == [f"{m.version:04d}_{m.name}" for m in load_migrations()]
        assert await migrate(conn) == []
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in rows] == list(range(1, len(applied) + 1))
        assert all(len(r["checksum"]) == 64 for r in rows)
    finally:
        await conn.close()


async def test_edited_migration_is_refused(fresh_db: str, tmp_path: Path) -> None:
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, copy)
    conn = await asyncpg.connect(fresh_db)
    try:
        await migrate(conn, copy)
        first = sorted(copy.glob("*.sql"))[0]
        first.write_text(first.read_text() + "\n-- edited\n")
        with pytest.raises(MigrationError, match="edited after it was applied"):
            await migrate(conn, copy)
    finally:
        await conn.close()


async def test_failed_migration_rolls_back_alone(fresh_db: str, tmp_path: Path) -> None:
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, copy)
    count = len(list(copy.glob("*.sql")))
    (copy / f"{count + 1:04d}_broken.sql").write_text(
        "CREATE TABLE half_done (id int);\nSELECT no_such_function();\n"
    )
    conn = await asyncpg.connect(fresh_db)
    try:
        with pytest.raises(asyncpg.PostgresError):
            await migrate(conn, copy)
        versions = await conn.fetch("SELECT version FROM schema_migrations")
        assert len(versions) == count  # the good ones stay applied
        assert await conn.fetchval("SELECT to_regclass('half_done')") is None
    finally:
        await conn.close()


async def test_gap_in_numbering_is_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="expected version 0002"):
        load_migrations(tmp_path)


async def test_concurrent_migrators_are_serialised(fresh_db: str) -> None:
    conns = [await asyncpg.connect(fresh_db) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        applied = [name for result in results for name in result]
        assert sorted(applied) == sorted(set(applied))  # each file applied exactly once
        assert len(applied) == len(load_migrations())
    finally:
        for c in conns:
            await c.close()
