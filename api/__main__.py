"""The ``tradeshub`` command: serve, migrate, seed, create-admin, backup, restore."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from api.config import ConfigError, Settings, load_settings
from api.logs import configure_logging

log = logging.getLogger("tradeshub")


def _run(coro_fn: Callable[[], Coroutine[Any, Any, int]]) -> int:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro_fn())
    return uvloop.run(coro_fn())


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop where installed: it is what keeps the live path's latency low."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def _freeze_gc(app: Any) -> None:
    """Last start-up step: move every object made so far (modules, the app, its pools and
    caches) to the collector's permanent generation. Full collections then scan only what
    was made since, which shortens the pauses that a burst of connections triggers."""
    gc.collect()
    gc.freeze()
    log.info(f"gc: {gc.get_freeze_count()} start-up objects frozen")


def serve(settings: Settings, args: argparse.Namespace) -> int:
    from aiohttp import web

    from api.app import create_app, package_version
    from api.error_reporting import start_error_reporting

    if args.no_migrate:
        settings = Settings(**{**settings.__dict__, "migrate_on_start": False})
    port = args.port if args.port is not None else settings.port
    mode = "cluster node (Redis fan-out)" if settings.redis_url else "single node (in-process)"
    database = (
        "configured PostgreSQL"
        if settings.database_url
        else (f"embedded PostgreSQL under {settings.data_dir}/pgdata")
    )
    reporting = start_error_reporting(settings, package_version())
    log.info(
        f"tradeshub starting: {mode}, {database}, port {port}, env {settings.app_env}, "
        f"error reporting {reporting}",
        extra={"settings": settings.describe()},
    )
    loop = _new_loop()
    log.info(f"event loop: {type(loop).__module__}")
    app = create_app(settings)
    app.on_startup.append(_freeze_gc)  # after the feature contexts (cleanup_ctx) started
    web.run_app(
        app,
        host=settings.host,
        port=port,
        shutdown_timeout=settings.shutdown_grace_s,
        access_log=None,
        print=lambda text: log.info(str(text).strip()),
        handle_signals=True,
        loop=loop,
    )
    return 0


def migrate_cmd(settings: Settings, args: argparse.Namespace) -> int:
    from api.db import prepared_database

    async def run() -> int:
        async with prepared_database(settings) as db:
            applied = db.applied
        if applied:
            for name in applied:
                print(f"applied {name}")
        else:
            print("database is up to date")
        return 0

    return _run(run)


def _admin_accounts(settings: Settings, pool: Any) -> Any:
    """Accounts for the admin commands: only create_admin is used (no tokens, no limits)."""
    from hub.accounts.actions import Accounts, LoginLimits
    from hub.accounts.passwords import Passwords
    from hub.accounts.tokens import TokenCodec
    from hub.core.ratelimit import MemoryRateLimiter

    return Accounts(
        pool,
        Passwords(settings.argon2_time_cost, settings.argon2_memory_kib),
        TokenCodec(settings.jwt_secret, 60, 60),
        MemoryRateLimiter(),
        LoginLimits(5, 5, 60),
    )


def seed_cmd(settings: Settings, args: argparse.Namespace) -> int:
    from api.db import prepared_database

    async def run() -> int:
        async with prepared_database(settings, pool_size=2, load_trades=True) as db:
            print(f"trades: {db.trades} in the catalogue")
            if settings.admin_email and settings.admin_password:
                changed = await _admin_accounts(settings, db.pool).create_admin(
                    settings.admin_email, settings.admin_password
                )
                print(f"admin {settings.admin_email}: {'created' if changed else 'exists'}")
            else:
                print("admin: skipped (set ADMIN_EMAIL and ADMIN_PASSWORD to create one)")
        return 0

    return _run(run)


def create_admin_cmd(settings: Settings, args: argparse.Namespace) -> int:
    import getpass

    from api.db import prepared_database

    password = settings.admin_password or getpass.getpass("password for the admin: ")

    async def run() -> int:
        async with prepared_database(settings, pool_size=2) as db:
            accounts = _admin_accounts(settings, db.pool)
            changed = await accounts.create_admin(args.email, password, args.name)
        print(f"admin {args.email}: {'created or promoted' if changed else 'already an admin'}")
        return 0

    return _run(run)


def backup_cmd(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from api.backup import backup
    from api.db import database_dsn

    async def run() -> int:
        async with database_dsn(settings.database_url, settings.data_dir) as dsn:
            tools = await backup(dsn, Path(args.file))
        size = await asyncio.to_thread(lambda: Path(args.file).stat().st_size)
        print(f"backup {args.file}: {size} bytes (pg_dump {tools.major}, custom format)")
        return 0

    return _run(run)


def restore_cmd(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from api.backup import restore
    from api.db import database_dsn

    async def run() -> int:
        async with database_dsn(settings.database_url, settings.data_dir) as dsn:
            tools = await restore(dsn, Path(args.file))
        print(f"restored {args.file} (pg_restore {tools.major}); next: tradeshub migrate")
        return 0

    return _run(run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tradeshub", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run the hub (REST + Socket.IO) on PORT")
    p_serve.add_argument("--port", type=int, default=None, help="overrides PORT")
    p_serve.add_argument("--no-migrate", action="store_true", help="do not migrate on start")
    sub.add_parser("migrate", help="apply pending database migrations")
    sub.add_parser("seed", help="load trade categories and the first admin (idempotent)")
    p_admin = sub.add_parser("create-admin", help="create or promote an admin account")
    p_admin.add_argument("email")
    p_admin.add_argument("--name", default="Admin")
    p_backup = sub.add_parser("backup", help="pg_dump the database to FILE (custom format)")
    p_backup.add_argument("file")
    p_restore = sub.add_parser("restore", help="pg_restore FILE into an empty database")
    p_restore.add_argument("file")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"tradeshub: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    commands = {
        "serve": serve,
        "migrate": migrate_cmd,
        "seed": seed_cmd,
        "create-admin": create_admin_cmd,
        "backup": backup_cmd,
        "restore": restore_cmd,
    }
    try:
        return commands[args.command](settings, args)
    except Exception as exc:  # one clear line for operators; details in the log
        from api.migrate import MigrationError

        if isinstance(exc, MigrationError):
            print(f"tradeshub: migration error: {exc}", file=sys.stderr)
            return 3
        import asyncpg

        if isinstance(exc, asyncpg.UndefinedTableError | asyncpg.UndefinedColumnError):
            # serve --no-migrate (or MIGRATE_ON_START=false) on a database nobody migrated
            print(
                f"tradeshub: the database schema is behind this release ({exc}); "
                "run `tradeshub migrate` first",
                file=sys.stderr,
            )
            return 3
        from api.backup import BackupError

        if isinstance(exc, BackupError):
            print(f"tradeshub: {args.command} failed: {exc}", file=sys.stderr)
            return 4
        from hub.core.errors import DomainError

        if isinstance(exc, DomainError):
            print(f"tradeshub: {exc.message}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
