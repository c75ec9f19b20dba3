"""``loadtests/loadseed.py``: counts, relations, a seeded user logs in, re-runs are idempotent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from tests.support.scripts import LOADTESTS, load_script

Client = TestClient[Any, Any]
seed = load_script("loadseed", "lt_loadseed")
EMAIL_DOMAIN, FORMAT, layout = seed.EMAIL_DOMAIN, seed.FORMAT, seed.layout


def _loadseed(pg_dsn: str, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "POSTGRES_", "REDIS_", "ADMIN_"))
    }
    env.update(DATABASE_URL=pg_dsn, ARGON2_TIME_COST="1", ARGON2_MEMORY_KIB="1024")
    return subprocess.run(
        [sys.executable, str(LOADTESTS / "loadseed.py"), "--out", str(out), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def _counts(conn: asyncpg.Connection, tag: str) -> dict[str, int]:
    pattern = f"lt.{tag}.%@{EMAIL_DOMAIN}"
    row = await conn.fetchrow(
        """
        WITH u AS (SELECT id, role FROM users WHERE email LIKE $1)
        SELECT
          (SELECT count(*) FROM u WHERE role = 'customer') AS customers,
          (SELECT count(*) FROM u WHERE role = 'contractor') AS contractors,
          (SELECT count(*) FROM contractor_profiles p JOIN u ON u.id = p.user_id) AS profiles,
          (SELECT count(*) FROM jobs j JOIN u ON u.id = j.customer_id) AS jobs,
          (SELECT count(*) FROM conversations c JOIN u ON u.id = c.customer_id) AS conversations,
          (SELECT count(*) FROM conversation_members m JOIN u ON u.id = m.user_id) AS members,
          (SELECT count(*) FROM job_applications a JOIN u ON u.id = a.contractor_id) AS apps
        """,
        pattern,
    )
    assert row is not None
    return dict(row)


async def test_seed_counts_relations_login_and_rerun(
    pg_dsn: str, client: Client, tmp_path: Path
) -> None:
    out = tmp_path / "seed.json"
    first = _loadseed(pg_dsn, out, "--customers", "12", "--contractors", "7", "--tag", "t1")
    assert first.returncode == 0, first.stderr
    assert "users created 19, reused 0" in first.stdout
    data = json.loads(out.read_text())
    assert data["format"] == FORMAT
    assert data["method"] == "sql"
    assert len(data["pairs"]) == 7
    assert len(data["rest_customers"]) == 5
    assert data["idle_contractors"] == []
    assert out.stat().st_mode & 0o077 == 0  # holds a password

    conn = await asyncpg.connect(pg_dsn)
    try:
        assert await _counts(conn, "t1") == {
            "customers": 12,
            "contractors": 7,
            "profiles": 7,
            "jobs": 7,
            "conversations": 7,
            "members": 14,
            "apps": 7,
        }
        for pair in data["pairs"]:
            job = await conn.fetchrow("SELECT * FROM jobs WHERE id = $1", pair["job_id"])
            assert job is not None
            assert job["status"] == "assigned"
            assert job["customer_id"] == pair["customer"]["id"]
            assert job["contractor_id"] == pair["contractor"]["id"]
            assert (job["lat"], job["lng"]) == (pair["site"]["lat"], pair["site"]["lng"])
            assert job["trade"] in pair["contractor"]["profile"]["trades"]
            conv = await conn.fetchrow(
                "SELECT * FROM conversations WHERE id = $1", pair["conversation_id"]
            )
            assert conv is not None
            assert (conv["job_id"], conv["customer_id"], conv["contractor_id"]) == (
                pair["job_id"],
                pair["customer"]["id"],
                pair["contractor"]["id"],
            )
            members = await conn.fetch(
                "SELECT user_id FROM conversation_members WHERE conversation_id = $1",
                pair["conversation_id"],
            )
            assert {m["user_id"] for m in members} == {
                pair["customer"]["id"],
                pair["contractor"]["id"],
            }
            app = await conn.fetchrow(
                "SELECT status, conversation_id FROM job_applications WHERE job_id = $1",
                pair["job_id"],
            )
            assert app is not None
            assert tuple(app) == ("accepted", pair["conversation_id"])
            profile = await conn.fetchrow(
                "SELECT * FROM contractor_profiles WHERE user_id = $1", pair["contractor"]["id"]
            )
            assert profile is not None and profile["available"]
            assert json.loads(profile["service_area"])["radius_km"] > 0
            # The route starts kilometres away from the site, not on it.
            assert abs(pair["start"]["lat"] - pair["site"]["lat"]) > 0.02
        # One Argon2 hash for everybody.
        hashes = await conn.fetchval(
            "SELECT count(DISTINCT password_hash) FROM users WHERE email LIKE $1",
            f"lt.t1.%@{EMAIL_DOMAIN}",
        )
        assert hashes == 1

        # A seeded customer and contractor log in over REST and see their job.
        pair = data["pairs"][0]
        tokens = {}
        for role in ("customer", "contractor"):
            resp = await client.post(
                "/api/v1/auth/login",
                json={"email": pair[role]["email"], "password": data["password"]},
            )
            assert resp.status == 200, await resp.text()
            body = await resp.json()
            assert body["user"]["id"] == pair[role]["id"]
            assert body["user"]["role"] == role
            tokens[role] = {"Authorization": f"Bearer {body['access_token']}"}
        # The seeded refresh token resumes a session, like an app at start.
        resp = await client.post(
            "/api/v1/auth/refresh",
            json={"refresh_token": data["rest_customers"][0]["refresh_token"]},
        )
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["user"]["id"] == data["rest_customers"][0]["id"]
        resp = await client.get(f"/api/v1/jobs/{pair['job_id']}", headers=tokens["customer"])
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["contractor_id"] == pair["contractor"]["id"]
        resp = await client.post(
            f"/api/v1/jobs/{pair['job_id']}/status",
            json={"status": "en_route"},
            headers=tokens["contractor"],
        )
        assert resp.status == 200, await resp.text()

        # Re-run: nothing duplicated, same ids, the job is assigned again.
        second = _loadseed(pg_dsn, out, "--customers", "12", "--contractors", "7", "--tag", "t1")
        assert second.returncode == 0, second.stderr
        assert "users created 0, reused 19" in second.stdout
        assert "jobs created 0, reset 7" in second.stdout
        again = json.loads(out.read_text())
        assert [(p["job_id"], p["conversation_id"]) for p in again["pairs"]] == [
            (p["job_id"], p["conversation_id"]) for p in data["pairs"]
        ]
        assert await _counts(conn, "t1") == {
            "customers": 12,
            "contractors": 7,
            "profiles": 7,
            "jobs": 7,
            "conversations": 7,
            "members": 14,
            "apps": 7,
        }
        status = await conn.fetchval("SELECT status FROM jobs WHERE id = $1", pair["job_id"])
        assert status == "assigned"

        # Growing the population adds the missing users only.
        third = _loadseed(pg_dsn, out, "--customers", "14", "--contractors", "9", "--tag", "t1")
        assert third.returncode == 0, third.stderr
        assert "users created 4, reused 19" in third.stdout
        assert (await _counts(conn, "t1"))["jobs"] == 9
    finally:
        await conn.close()


def test_layout_refuses_bad_input() -> None:
    for args in (("bad tag!", 1, 1), ("ok", -1, 1)):
        try:
            layout(*args)
        except ValueError:
            continue
        raise AssertionError(f"layout{args} accepted")
    try:
        layout("ok", 3, 2, pairs=3)
    except ValueError as exc:
        assert "pairs" in str(exc)
    else:
        raise AssertionError("more pairs than contractors accepted")
    lay = layout("ok", 5, 3)
    assert lay.pairs == 3
    sites = {(lay.site(k)["lat"], lay.site(k)["lng"]) for k in range(3)}
    assert len(sites) == 3


def test_weak_password_refused(pg_dsn: str, tmp_path: Path) -> None:
    res = _loadseed(
        pg_dsn, tmp_path / "x.json", "--customers", "1", "--contractors", "1", "--password", "short"
    )
    assert res.returncode == 2
    assert "password must be at least 10 characters" in res.stderr
    assert not (tmp_path / "x.json").exists()
