"""The tradeshub command: its four commands only, migrate, seed and create-admin
(idempotent), serve on embedded defaults."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import asyncpg
import socketio

from tests.conftest import PASSWORD, unique_email
from tests.support.cli import cli_env, run_cli
from tests.support.processes import free_port, wait_port


def test_the_product_commands_only() -> None:
    """The load-test seeders live in loadtests/, not in the product's CLI."""
    done = run_cli(["--help"], cli_env())
    assert done.returncode == 0, done.stderr
    assert "{serve,migrate,seed,create-admin,backup,restore}" in done.stdout
    assert "loadseed" not in done.stdout and "benchseed" not in done.stdout
    gone = run_cli(["loadseed", "--help"], cli_env())
    assert gone.returncode == 2
    assert "invalid choice: 'loadseed'" in gone.stderr


def test_migrate_on_a_migrated_database(pg_dsn: str) -> None:
    done = run_cli(["migrate"], cli_env(DATABASE_URL=pg_dsn))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "database is up to date\n"


async def test_seed_twice_changes_nothing(pg_dsn: str) -> None:
    email = unique_email("admin")
    env = cli_env(DATABASE_URL=pg_dsn, ADMIN_EMAIL=email, ADMIN_PASSWORD=PASSWORD)
    first = run_cli(["seed"], env)
    assert first.returncode == 0, first.stderr
    assert f"admin {email}: created" in first.stdout
    conn = await asyncpg.connect(pg_dsn)
    try:
        trades = await conn.fetch("SELECT slug, name FROM trades ORDER BY slug")
        users = await conn.fetchval("SELECT count(*) FROM users")
        second = run_cli(["seed"], env)
        assert second.returncode == 0, second.stderr
        assert f"admin {email}: exists" in second.stdout
        assert await conn.fetch("SELECT slug, name FROM trades ORDER BY slug") == trades
        assert await conn.fetchval("SELECT count(*) FROM users") == users
        assert len(trades) >= 12
        assert {"plumbing", "electrical", "hvac", "carpentry", "roofing", "painting"} <= {
            t["slug"] for t in trades
        }
        role = await conn.fetchval("SELECT role FROM users WHERE lower(email) = $1", email)
        assert role == "admin"
    finally:
        await conn.close()


async def test_create_admin_and_weak_password(pg_dsn: str) -> None:
    email = unique_email("boss")
    ok = run_cli(["create-admin", email], cli_env(DATABASE_URL=pg_dsn, ADMIN_PASSWORD=PASSWORD))
    assert ok.returncode == 0, ok.stderr
    again = run_cli(["create-admin", email], cli_env(DATABASE_URL=pg_dsn, ADMIN_PASSWORD=PASSWORD))
    assert "already an admin" in again.stdout
    weak = run_cli(
        ["create-admin", unique_email()], cli_env(DATABASE_URL=pg_dsn, ADMIN_PASSWORD="short")
    )
    assert weak.returncode == 2
    assert "password must be at least 10 characters" in weak.stderr


async def test_serve_on_embedded_defaults_and_sigterm(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once; the test then awaits it
        [sys.executable, "-m", "api", "serve", "--port", str(port)],
        env=cli_env(TRADESHUB_DATA_DIR=str(tmp_path / "var")),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sio = socketio.AsyncClient()
    try:
        wait_port(port, timeout=60)
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/health") as resp:
                assert resp.status == 200
            creds = {"email": unique_email(), "password": PASSWORD}
            async with http.post(
                f"{base}/api/v1/auth/register", json={**creds, "name": "N", "role": "customer"}
            ) as resp:
                assert resp.status == 201
            async with http.post(f"{base}/api/v1/auth/login", json=creds) as resp:
                assert resp.status == 200
                token = (await resp.json())["access_token"]
        closing: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        sio.on("server:closing", closing.put)
        await sio.connect(base, auth={"token": token}, transports=["websocket"])
        proc.send_signal(signal.SIGTERM)
        reason = await asyncio.wait_for(closing.get(), 10)
        assert "shutting down" in reason["reason"]
        assert await asyncio.to_thread(proc.wait, 30) == 0
        _, err = proc.communicate()
        assert "single node (in-process), embedded PostgreSQL" in err
        assert "start-up objects frozen" in err  # gc.freeze() once started
        # the embedded PostgreSQL was stopped with the hub
        assert not (tmp_path / "var" / "pgdata" / "postmaster.pid").exists()
    finally:
        await sio.disconnect()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
