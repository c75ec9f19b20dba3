"""PostgreSQL: the connection pool, the embedded server used when none is configured, and
the migrated database every command outside the hub starts from."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import orjson

from api.migrate import migrate
from hub.contractors.trades import TRADES
from hub.contractors.trades_store import upsert_trades

if TYPE_CHECKING:
    from api.config import Settings

log = logging.getLogger(__name__)


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb columns come and go as Python objects, encoded with orjson.
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda v: orjson.dumps(v).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's default reset query (UNLISTEN, RESET ALL, advisory unlock
    ...): a round trip per release, 9 % of the hub's CPU on the chat path. asyncpg still
    ends an open transaction. The project keeps no session state on pooled connections
    (no SET, LISTEN or session advisory lock outlives its ``acquire``)."""


async def create_pool(dsn: str, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections carry the project's codecs."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        command_timeout=30,
        # Reconnect quickly after a database restart instead of serving dead connections.
        max_inactive_connection_lifetime=60,
        reset=_keep_session,
    )
    if pool is None:  # only possible when not awaited; keeps the type exact
        raise RuntimeError("asyncpg.create_pool returned no pool")
    return pool


@asynccontextmanager
async def embedded_postgres(data_dir: Path) -> AsyncIterator[str]:
    """Start a private PostgreSQL 16 (pgserver) under ``data_dir``; stop it on exit.

    Yields a DSN over a unix socket. Only used when no database is configured, so a newcomer
    can run the hub with nothing installed.
    """
    import warnings

    # pgserver logs every command at INFO; keep the hub's log readable.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pgserver  # imported lazily: production never needs it

    pgdata = (data_dir / "pgdata").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server: Any = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    uri = server.get_uri()
    try:
        exists = "1 row" in server.psql("SELECT 1 FROM pg_database WHERE datname = 'tradeshub'")
        if not exists:
            server.psql("CREATE DATABASE tradeshub")
        yield uri.replace("/postgres?", "/tradeshub?")
    finally:
        server.cleanup()


@asynccontextmanager
async def database_dsn(database_url: str | None, data_dir: Path) -> AsyncIterator[str]:
    """The configured database, or an embedded one for as long as the context lasts."""
    if database_url is not None:
        yield database_url
        return
    async with embedded_postgres(data_dir) as dsn:
        log.info("database: embedded PostgreSQL", extra={"data_dir": str(data_dir)})
        yield dsn


@dataclass(frozen=True, slots=True)
class PreparedDatabase:
    """What :func:`prepared_database` yields."""

    pool: asyncpg.Pool
    applied: list[str]
    """Migrations applied on the way in, in order (empty when the schema was up to date)."""
    trades: int | None
    """Trades in the catalogue once loaded; None when not asked to load them."""


@asynccontextmanager
async def prepared_database(
    settings: Settings, *, pool_size: int = 1, load_trades: bool = False
) -> AsyncIterator[PreparedDatabase]:
    """The configured database (or the embedded one under ``settings.data_dir``), migrated,
    with a pool of up to ``pool_size`` connections; with ``load_trades`` the trade catalogue
    is loaded too (missing trades added, in one transaction). On exit the pool is closed and
    an embedded server stopped.

    The one way in for the commands that work on the database outside a running hub
    (``tradeshub migrate``, ``seed``, ``create-admin``) and for the load-test seeders and
    benchmarks under ``loadtests/``.
    """
    async with database_dsn(settings.database_url, settings.data_dir) as dsn:
        pool = await create_pool(dsn, 1, pool_size)
        try:
            async with pool.acquire() as conn:
                applied = await migrate(conn)
                trades = None
                if load_trades:
                    async with conn.transaction():
                        trades = await upsert_trades(conn, TRADES)
            yield PreparedDatabase(pool, applied, trades)
        finally:
            await pool.close()
