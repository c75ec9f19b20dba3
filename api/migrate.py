"""Forward-only SQL migrations: numbered files, one transaction each, checksummed.

Two processes migrating at once are serialised by a PostgreSQL advisory lock; the second
finds the work done. A file edited after it was applied is refused (ChecksumMismatch).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

import asyncpg

log = logging.getLogger(__name__)

# Shipped as package data of the top-level ``migrations`` package: read through
# importlib.resources, so an installed wheel never looks for the source tree.
MIGRATIONS_DIR: Traversable = resources.files("migrations")
_LOCK_KEY = 0x7472616465  # "trade": one advisory lock for every migrator of this schema
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """The migration set or the database's record of it is inconsistent."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Traversable = MIGRATIONS_DIR) -> list[Migration]:
    """Read ``NNNN_name.sql`` files in version order; refuse gaps, duplicates, odd names."""
    found: list[Migration] = []
    for path in sorted(directory.iterdir(), key=lambda entry: entry.name):
        if not path.name.endswith(".sql"):
            continue  # the package's __init__.py
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path.read_text("utf-8")))
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            label = f"{migration.version:04d}_{migration.name}"
            raise MigrationError(f"migration {label}: expected version {expected:04d}")
    return found


async def migrate(
    conn: asyncpg.Connection, directory: Traversable = MIGRATIONS_DIR
) -> list[str]:
    """Apply pending migrations; return the names applied (empty when up to date)."""
    migrations = load_migrations(directory)
    applied_names: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        applied = {r["version"]: (r["name"], r["checksum"]) for r in rows}
        known = {m.version for m in migrations}
        unknown = sorted(set(applied) - known)
        if unknown:
            raise MigrationError(
                f"database has migration {unknown[0]:04d} that this release does not know; "
                "deploy the newer release"
            )
        for migration in migrations:
            if migration.version in applied:
                _, checksum = applied[migration.version]
                if checksum != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version:04d}_{migration.name} was edited after it "
                        "was applied (checksum differs); add a new migration instead"
                    )
                continue
            label = f"{migration.version:04d}_{migration.name}"
            log.info("applying migration", extra={"migration": label})
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            applied_names.append(label)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_names
