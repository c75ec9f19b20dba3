"""Logical backups: ``tradeshub backup FILE`` and ``tradeshub restore FILE``.

A backup is ``pg_dump --format=custom`` of the configured database (schema, data and the
``schema_migrations`` table, no owners or grants); a restore is ``pg_restore`` of it into the
configured database, which must be empty (a fresh database), in one transaction. This is
the portable, tested copy an operator keeps beside the managed database's own snapshots
and point-in-time recovery (docs/OPERATIONS.md).

pg_dump cannot dump a server newer than itself, and a dump is best restored by the
pg_restore of the same release, so both tools are taken from one PostgreSQL ``bin``
folder whose major version is the server's (or, failing that, the oldest newer one): the
folders searched are ``PATH``, Debian's ``/usr/lib/postgresql/N/bin`` and the embedded
PostgreSQL's (pgserver).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

TOOLS = ("pg_dump", "pg_restore")
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")


class BackupError(Exception):
    """A backup or restore cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class PgTools:
    """pg_dump and pg_restore from one folder, and their major version."""

    pg_dump: Path
    pg_restore: Path
    major: int


def _candidate_dirs() -> list[Path]:
    dirs: list[Path] = []
    for name in TOOLS:
        found = shutil.which(name)
        if found:
            dirs.append(Path(found).resolve().parent)
    dirs.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin")))
    try:
        from pgserver._commands import POSTGRES_BIN_PATH  # the embedded PostgreSQL's tools
    except Exception:  # pgserver missing or broken: the other folders may do
        pass
    else:
        dirs.append(Path(POSTGRES_BIN_PATH))
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def tool_major(binary: Path) -> int | None:
    """The major version ``binary --version`` reports, or None when it does not run."""
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(out)
    return int(match.group(1)) if match else None


def find_tools(server_major: int, dirs: list[Path] | None = None) -> PgTools:
    """pg_dump and pg_restore able to work with a server of ``server_major``: the same major
    when one is installed, else the oldest newer one; BackupError naming what was found."""
    found: dict[int, PgTools] = {}
    for folder in _candidate_dirs() if dirs is None else dirs:
        dump, restore = folder / "pg_dump", folder / "pg_restore"
        if not (dump.is_file() and restore.is_file()):
            continue
        major = tool_major(dump)
        if major is not None and major == tool_major(restore):
            found.setdefault(major, PgTools(dump, restore, major))
    usable = sorted(m for m in found if m >= server_major)
    if not usable:
        seen = ", ".join(f"{m} ({found[m].pg_dump})" for m in sorted(found)) or "none"
        raise BackupError(
            f"no pg_dump/pg_restore of PostgreSQL {server_major} or newer (found: {seen}); "
            f"install the client tools of the server's release, e.g. "
            f"postgresql-client-{server_major}"
        )
    return found[usable[0]]


def libpq_target(dsn: str) -> tuple[str, dict[str, str]]:
    """``dsn`` for libpq's ``--dbname`` without its password, and the environment that
    carries the password instead (so it never shows in a process listing)."""
    parts = urlsplit(dsn)
    env: dict[str, str] = {}
    if parts.password is not None:
        env["PGPASSWORD"] = unquote(parts.password)
        host = parts.netloc.rsplit("@", 1)[1]
        user = parts.netloc.rsplit("@", 1)[0].split(":", 1)[0]
        parts = parts._replace(netloc=f"{user}@{host}")
    return urlunsplit(parts), env


async def server_state(dsn: str) -> tuple[int, int]:
    """The server's major version and the number of tables in the database's own schemas."""
    conn = await asyncpg.connect(dsn)
    try:
        version = int(await conn.fetchval("SHOW server_version_num"))
        tables = await conn.fetchval(
            "SELECT count(*) FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
    finally:
        await conn.close()
    return version // 10000, int(tables)


def _run(cmd: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(
        cmd, env={**os.environ, **env}, capture_output=True, text=True, timeout=6 * 3600
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise BackupError(f"{Path(cmd[0]).name} exited {done.returncode}: " + " | ".join(tail))


def _dump(dsn: str, out: Path, major: int) -> PgTools:
    tools = find_tools(major)
    target, env = libpq_target(dsn)
    partial = out.with_name(out.name + ".partial")
    _run(
        [
            str(tools.pg_dump),
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            f"--file={partial}",
            f"--dbname={target}",
        ],
        env,
    )
    partial.replace(out)
    return tools


def _restore(dsn: str, dump: Path, major: int) -> PgTools:
    tools = find_tools(major)
    target, env = libpq_target(dsn)
    _run(
        [
            str(tools.pg_restore),
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={target}",
            str(dump),
        ],
        env,
    )
    return tools


async def backup(dsn: str, out: Path) -> PgTools:
    """Write a custom-format dump of ``dsn`` to ``out`` (written beside it, then renamed, so
    a failed backup never leaves a truncated file under the final name)."""
    major, _ = await server_state(dsn)
    return await asyncio.to_thread(_dump, dsn, out, major)


async def restore(dsn: str, dump: Path) -> PgTools:
    """Restore ``dump`` into ``dsn``, which must hold no table yet, in one transaction: an
    error leaves the database as it was."""
    if not await asyncio.to_thread(dump.is_file):
        raise BackupError(f"{dump}: no such backup file")
    major, tables = await server_state(dsn)
    if tables:
        raise BackupError(
            f"the target database already has {tables} table(s); restore into a fresh, empty "
            "database (CREATE DATABASE ...) and point DATABASE_URL at it"
        )
    return await asyncio.to_thread(_restore, dsn, dump, major)
