"""Seeding for the load tests: ``python loadtests/loadseed.py``.

Creates, by direct SQL, the populations the locust users play (``loadtests/``):
customers, contractors with trades and a service area, and one *assigned* job per
customer/contractor pair with its accepted application and its conversation (both users
members). Then writes the credentials file the locust users pick from.

Not part of the product: it runs with a python that has the hub installed (the SQL half
and the command use its database, password and token code), e.g.
``.venv/bin/python loadtests/loadseed.py --customers 700 --contractors 300 --out seed.json``,
and reads the hub's settings (``DATABASE_URL``, ``JWT_SECRET``, ``ARGON2_*``, ...) from the
environment like ``tradeshub`` does.

The password is hashed once with Argon2id (the hub's configured cost, so a seeded login
costs what a real one does) and that hash is stored for every seeded user.

Re-running with the same ``tag`` is idempotent: users, profiles, jobs and conversations
that exist are reused, missing ones are added, the seeded users' password hash is
replaced, and each pair's job is put back to ``assigned`` at its site so a new run can
go ``en_route`` again. Nothing outside the tag's users is touched.

The layout half of this module (:func:`layout`, :func:`seed_file`) is pure standard
library on purpose, and the module imports nothing else at load time:
``loadtests/seed_api.py`` imports it to seed a hub through its API with the same geometry
and file format, from locust's own virtual environment.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMAT = "tradeshub-loadseed/1"
DEFAULT_PASSWORD = "loadtest passphrase 2026"
DEFAULT_CENTER = (41.8781, -87.6298)  # a city with a street grid: routes are plausible
EMAIL_DOMAIN = "loadtest.example.com"
GRID_SPACING_KM = 1.5  # between pair sites
SERVICE_RADIUS_KM = 5.0  # so a job has a few matches, its own contractor at distance 0
TRADE_SLUGS = (
    "plumbing",
    "electrical",
    "hvac",
    "carpentry",
    "roofing",
    "painting",
    "locksmith",
    "appliance-repair",
    "handyman",
    "cleaning",
)
_KM_PER_DEG_LAT = 111.32


def _offset(lat: float, lng: float, north_km: float, east_km: float) -> dict[str, float]:
    dlat = north_km / _KM_PER_DEG_LAT
    dlng = east_km / (_KM_PER_DEG_LAT * math.cos(math.radians(lat)))
    return {"lat": round(lat + dlat, 6), "lng": round(lng + dlng, 6)}


def email_of(tag: str, role: str, index: int) -> str:
    """The seeded account's email: ``lt.<tag>.c00001@...`` (c customer, k contractor)."""
    return f"lt.{tag}.{'c' if role == 'customer' else 'k'}{index:05d}@{EMAIL_DOMAIN}"


def job_marker(tag: str, pair: int) -> str:
    """Stored as the job's address: finds a pair's job again on a re-run."""
    return f"loadtest:{tag}:{pair}"


@dataclass(frozen=True, slots=True)
class Layout:
    """Who is who and where, for ``customers`` customers and ``contractors`` contractors.

    Pair ``k`` (``k < pairs``) is customer ``k`` and contractor ``k``: a job at ``site``
    assigned to the contractor, whose base is the site and whose route starts at
    ``start`` (5-9 km away). Contractors beyond the pairs only stand in for matching;
    customers beyond the pairs are the REST users.
    """

    tag: str
    customers: int
    contractors: int
    pairs: int
    center: tuple[float, float]

    def site(self, k: int) -> dict[str, float]:
        """The k-th point of a square grid around the centre (pairs first, then idle)."""
        total = max(self.contractors, self.pairs, 1)
        cols = math.ceil(math.sqrt(total))
        row, col = divmod(k, cols)
        half = (cols - 1) / 2
        return _offset(
            self.center[0],
            self.center[1],
            (row - half) * GRID_SPACING_KM,
            (col - half) * GRID_SPACING_KM,
        )

    def start(self, k: int) -> dict[str, float]:
        """Where contractor ``k`` is when the run begins: a few km from the site."""
        rnd = random.Random(f"{self.tag}:{k}")
        site = self.site(k)
        north = rnd.uniform(3.0, 5.0) * rnd.choice((-1, 1))
        east = rnd.uniform(2.0, 4.0) * rnd.choice((-1, 1))
        return _offset(site["lat"], site["lng"], north, east)

    def trades(self, k: int) -> list[str]:
        n = len(TRADE_SLUGS)
        return [TRADE_SLUGS[k % n], TRADE_SLUGS[(k + 3) % n]]

    def profile(self, k: int) -> dict[str, Any]:
        """The body of ``PUT /contractors/me`` for contractor ``k``."""
        site = self.site(k)
        return {
            "trades": self.trades(k),
            "service_area": {"center": site, "radius_km": SERVICE_RADIUS_KM},
            "available": True,
            "base": site,
        }

    def job_body(self, k: int) -> dict[str, Any]:
        """The body of ``POST /jobs`` for pair ``k``'s job."""
        return {
            "trade": self.trades(k)[0],
            "title": f"Load test job {k}",
            "description": "seeded by loadtests/loadseed.py",
            "location": self.site(k),
            "address": job_marker(self.tag, k),
            "budget_cents": 10000 + 100 * (k % 50),
        }


def layout(
    tag: str,
    customers: int,
    contractors: int,
    pairs: int | None = None,
    center: tuple[float, float] = DEFAULT_CENTER,
) -> Layout:
    """Validate the counts; ``pairs`` defaults to ``min(customers, contractors)``."""
    if customers < 0 or contractors < 0:
        raise ValueError("counts must not be negative")
    if not tag or not all(c.isalnum() or c in "-_" for c in tag) or len(tag) > 24:
        raise ValueError("tag: 1 to 24 letters, digits, - or _")
    most = min(customers, contractors)
    pairs = most if pairs is None else pairs
    if not 0 <= pairs <= most:
        raise ValueError(f"pairs must be between 0 and {most}")
    return Layout(tag, customers, contractors, pairs, center)


def seed_file(
    lay: Layout,
    password: str,
    method: str,
    customer_ids: list[str],
    contractor_ids: list[str],
    jobs: list[tuple[str, str]],
    refresh_tokens: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The credentials file: ``jobs[k]`` is pair k's ``(job_id, conversation_id)``;
    ``refresh_tokens`` (user id -> an unspent refresh token) lets a user resume a
    session the way an app does at start, instead of typing the password again."""

    def person(role: str, k: int, ids: list[str]) -> dict[str, Any]:
        out = {"id": ids[k], "email": email_of(lay.tag, role, k)}
        if refresh_tokens and ids[k] in refresh_tokens:
            out["refresh_token"] = refresh_tokens[ids[k]]
        return out

    def contractor(k: int) -> dict[str, Any]:
        return {**person("contractor", k, contractor_ids), "profile": lay.profile(k)}

    pairs = []
    for k in range(lay.pairs):
        job_id, conversation_id = jobs[k]
        pairs.append(
            {
                "index": k,
                "job_id": job_id,
                "conversation_id": conversation_id,
                "trade": lay.trades(k)[0],
                "site": lay.site(k),
                "start": lay.start(k),
                "customer": person("customer", k, customer_ids),
                "contractor": contractor(k),
            }
        )
    return {
        "format": FORMAT,
        "tag": lay.tag,
        "method": method,
        "seeded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "password": password,
        "center": {"lat": lay.center[0], "lng": lay.center[1]},
        "trades": list(TRADE_SLUGS),
        "pairs": pairs,
        "rest_customers": [
            person("customer", k, customer_ids) for k in range(lay.pairs, lay.customers)
        ],
        "idle_contractors": [contractor(k) for k in range(lay.pairs, lay.contractors)],
    }


def write_seed_file(path: Path, data: dict[str, Any]) -> None:
    """Write atomically (a reader never sees half a file); mode 0600: it holds a password."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", "utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)


# --- the SQL half ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeedResult:
    data: dict[str, Any]
    users_created: int
    users_reused: int
    jobs_created: int
    jobs_reset: int


async def seed_sql(
    conn: Any, lay: Layout, password_hash: str, password: str, tokens: Any = None
) -> SeedResult:
    """Seed ``lay`` in one transaction on ``conn`` (an asyncpg connection with the
    project's codecs); the trades must exist. With ``tokens`` (the hub's
    ``TokenCodec``: same JWT secret), every user also gets a fresh refresh token.
    Returns the credentials file's content."""
    from hub.core.ids import new_id

    async with conn.transaction():
        missing = await conn.fetchval(
            "SELECT count(*) FROM unnest($1::text[]) s WHERE s NOT IN (SELECT slug FROM trades)",
            list(TRADE_SLUGS),
        )
        if missing:
            raise RuntimeError("the trade catalogue is missing; run `tradeshub seed` first")
        emails = [email_of(lay.tag, "customer", k) for k in range(lay.customers)]
        emails += [email_of(lay.tag, "contractor", k) for k in range(lay.contractors)]
        roles = ["customer"] * lay.customers + ["contractor"] * lay.contractors
        await conn.execute(
            "CREATE TEMP TABLE lt_users (id text, email text, name text, role text) ON COMMIT DROP"
        )
        await conn.copy_records_to_table(
            "lt_users",
            records=[
                (new_id("u_"), e, f"Load {r} {e.split('@')[0][-6:]}", r)
                for e, r in zip(emails, roles, strict=True)
            ],
        )
        inserted = await conn.fetchval(
            """
            WITH ins AS (
                INSERT INTO users (id, email, password_hash, name, role)
                SELECT id, email, $1, name, role FROM lt_users
                ON CONFLICT ((lower(email))) DO NOTHING
                RETURNING 1
            ) SELECT count(*) FROM ins
            """,
            password_hash,
        )
        rows = await conn.fetch(
            """
            UPDATE users u SET password_hash = $1
            FROM lt_users t WHERE lower(u.email) = lower(t.email)
            RETURNING u.id, lower(u.email) AS email, u.role
            """,
            password_hash,
        )
        by_email = {r["email"]: r for r in rows}
        for e, role in zip(emails, roles, strict=True):
            found = by_email.get(e.lower())
            if found is None or found["role"] != role:
                raise RuntimeError(f"{e} exists with another role; use another --tag")
        customer_ids = [by_email[e.lower()]["id"] for e in emails[: lay.customers]]
        contractor_ids = [by_email[e.lower()]["id"] for e in emails[lay.customers :]]

        await conn.executemany(
            """
            INSERT INTO contractor_profiles
                (user_id, trades, service_area, available, base_lat, base_lng, updated_at)
            VALUES ($1, $2, $3::text::jsonb, true, $4, $5, now())
            ON CONFLICT (user_id) DO UPDATE SET
                trades = EXCLUDED.trades, service_area = EXCLUDED.service_area,
                available = true, base_lat = EXCLUDED.base_lat,
                base_lng = EXCLUDED.base_lng, updated_at = now()
            """,
            [
                (
                    uid,
                    lay.trades(k),
                    json.dumps(lay.profile(k)["service_area"]),
                    lay.site(k)["lat"],
                    lay.site(k)["lng"],
                )
                for k, uid in enumerate(contractor_ids)
            ],
        )

        jobs, created, reset = await _pair_jobs(conn, lay, customer_ids, contractor_ids)
        sessions = None
        if tokens is not None:
            roles_of = [("customer", customer_ids), ("contractor", contractor_ids)]
            sessions = await _sessions(conn, tokens, roles_of)
    data = seed_file(lay, password, "sql", customer_ids, contractor_ids, jobs, sessions)
    return SeedResult(data, int(inserted), len(emails) - int(inserted), created, reset)


async def _sessions(
    conn: Any, tokens: Any, roles_of: list[tuple[str, list[str]]]
) -> dict[str, str]:
    """One refresh token per user, stored the way ``hub.accounts.actions`` stores them."""
    import hashlib

    from hub.core.ids import new_id

    # Earlier runs' sessions of these test users go: the table stays the size of one run.
    await conn.execute(
        "DELETE FROM refresh_tokens WHERE user_id = any($1::text[])",
        [uid for _, ids in roles_of for uid in ids],
    )
    out: dict[str, str] = {}
    rows = []
    for role, ids in roles_of:
        for uid in ids:
            family = new_id("f_")
            issued = tokens.issue_refresh(uid, role, family)
            out[uid] = issued.token
            rows.append(
                (
                    hashlib.sha256(issued.token.encode()).digest(),
                    family,
                    uid,
                    datetime.fromtimestamp(issued.expires_at, UTC),
                )
            )
    await conn.executemany(
        "INSERT INTO refresh_tokens (token_hash, family_id, user_id, expires_at) "
        "VALUES ($1, $2, $3, $4)",
        rows,
    )
    return out


async def _pair_jobs(
    conn: Any, lay: Layout, customer_ids: list[str], contractor_ids: list[str]
) -> tuple[list[tuple[str, str]], int, int]:
    """Each pair's assigned job, application and conversation; existing ones reset."""
    from hub.core.ids import new_id

    markers = [job_marker(lay.tag, k) for k in range(lay.pairs)]
    existing = {
        r["address"]: r["id"]
        for r in await conn.fetch(
            "SELECT id, address FROM jobs WHERE customer_id = any($1::text[]) "
            "AND address = any($2::text[])",
            customer_ids[: lay.pairs],
            markers,
        )
    }
    new_jobs = []
    reset_jobs = []
    job_ids = []
    for k in range(lay.pairs):
        body = lay.job_body(k)
        job_id = existing.get(markers[k])
        row = (customer_ids[k], contractor_ids[k], body["location"]["lat"], body["location"]["lng"])
        if job_id is None:
            job_id = new_id("j_")
            new_jobs.append((job_id, *row, body["trade"], body["title"], markers[k]))
        else:
            reset_jobs.append((job_id, *row))
        job_ids.append(job_id)
    await conn.executemany(
        """
        INSERT INTO jobs (id, customer_id, contractor_id, lat, lng, trade, title,
                          description, address, status, budget_cents)
        VALUES ($1, $2, $3, $4, $5, $6, $7, 'seeded by loadtests/loadseed.py', $8, 'assigned',
                10000)
        """,
        new_jobs,
    )
    await conn.executemany(
        """
        UPDATE jobs SET customer_id = $2, contractor_id = $3, lat = $4, lng = $5,
                        status = 'assigned', updated_at = now()
        WHERE id = $1
        """,
        reset_jobs,
    )
    pairs = [(job_ids[k], customer_ids[k], contractor_ids[k]) for k in range(lay.pairs)]
    await conn.executemany(
        """
        INSERT INTO conversations (id, job_id, customer_id, contractor_id)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (job_id, contractor_id) DO NOTHING
        """,
        [(new_id("cv_"), *p) for p in pairs],
    )
    conversation_of = {
        r["job_id"]: r["id"]
        for r in await conn.fetch(
            "SELECT id, job_id FROM conversations WHERE job_id = any($1::text[])", job_ids
        )
    }
    await conn.executemany(
        """
        INSERT INTO conversation_members (conversation_id, user_id)
        VALUES ($1, $2), ($1, $3)
        ON CONFLICT (conversation_id, user_id) DO NOTHING
        """,
        [(conversation_of[j], cu, co) for j, cu, co in pairs],
    )
    await conn.executemany(
        """
        INSERT INTO job_applications
            (id, job_id, contractor_id, conversation_id, quote_cents, message, status)
        VALUES ($1, $2, $3, $4, 10000, 'seeded', 'accepted')
        ON CONFLICT (job_id, contractor_id) DO UPDATE SET status = 'accepted'
        """,
        [(new_id("a_"), j, co, conversation_of[j]) for j, _, co in pairs],
    )
    return (
        [(j, conversation_of[j]) for j in job_ids],
        len(new_jobs),
        len(reset_jobs),
    )


# --- the command ----------------------------------------------------------------------


def say(prog: str, message: str) -> None:
    """Progress for the operator, on stderr: stdout carries the results."""
    print(f"{prog}: {message}", file=sys.stderr, flush=True)


def run_command(prog: str, command: Callable[[Any, Any], int], args: Any) -> int:
    """Run ``command(settings, args)`` the way ``tradeshub`` runs its commands: settings
    read once from the environment, the hub's logging, and one clear line (exit 2, or 3
    for migrations) for what an operator can fix."""
    try:
        from api.config import ConfigError, load_settings
        from api.logs import configure_logging
        from api.migrate import MigrationError
        from hub.core.errors import DomainError
    except ModuleNotFoundError as exc:
        print(
            f"{prog}: the hub is not importable by {sys.executable} ({exc}); run this with "
            "the python the hub is installed in, e.g. .venv/bin/python",
            file=sys.stderr,
        )
        return 2
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"{prog}: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        return command(settings, args)
    except MigrationError as exc:
        print(f"{prog}: migration error: {exc}", file=sys.stderr)
        return 3
    except DomainError as exc:
        print(f"{prog}: {exc.message}", file=sys.stderr)
        return 2


def database_label(settings: Any) -> str:
    """Which database a seeder writes to, for its progress line."""
    if settings.database_url:
        return "DATABASE_URL"
    return f"the embedded PostgreSQL under {settings.data_dir}/pgdata"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="loadseed.py",
        description="Seed load-test customers, contractors and assigned jobs by SQL into "
        "DATABASE_URL (or the embedded database under TRADESHUB_DATA_DIR); write the "
        "credentials file the locust users play.",
    )
    p.add_argument("--customers", type=int, required=True, help="customer accounts (N)")
    p.add_argument("--contractors", type=int, required=True, help="contractor accounts (M)")
    p.add_argument("--pairs", type=int, default=None, help="assigned jobs (default min(N, M))")
    p.add_argument("--tag", default="lt", help="names this population; re-runs reuse it")
    p.add_argument("--password", default=DEFAULT_PASSWORD, help="every seeded user's password")
    p.add_argument("--out", type=Path, required=True, help="credentials JSON to write")
    return p


def loadseed(settings: Any, args: Any) -> int:
    """Seed by SQL into DATABASE_URL (or the embedded database) and write ``--out``."""
    import asyncio
    import time

    from api.db import prepared_database
    from hub.accounts.passwords import Passwords
    from hub.accounts.tokens import TokenCodec

    prog = "loadseed"
    try:
        lay = layout(args.tag, args.customers, args.contractors, args.pairs)
    except ValueError as exc:
        print(f"{prog}: {exc}")
        return 2
    passwords = Passwords(settings.argon2_time_cost, settings.argon2_memory_kib)
    passwords.check_policy(args.password, email_of(lay.tag, "customer", 0))
    tokens = TokenCodec(
        settings.jwt_secret, settings.jwt_access_expiry_s, settings.jwt_refresh_expiry_s
    )

    async def run() -> SeedResult:
        started = time.monotonic()
        say(prog, "hashing the password once (Argon2id, the hub's cost)")
        password_hash = await passwords.hash(args.password)
        say(prog, f"migrating {database_label(settings)} and loading the trades")
        async with prepared_database(settings, load_trades=True) as db:
            say(
                prog,
                f"seeding {lay.customers} customers, {lay.contractors} contractors and "
                f"{lay.pairs} assigned jobs (tag {lay.tag})",
            )
            async with db.pool.acquire() as conn:
                result = await seed_sql(conn, lay, password_hash, args.password, tokens)
        print(
            f"loadseed {lay.tag}: {lay.customers} customers, {lay.contractors} contractors, "
            f"{lay.pairs} assigned jobs; users created {result.users_created}, reused "
            f"{result.users_reused}; jobs created {result.jobs_created}, reset "
            f"{result.jobs_reset}; {time.monotonic() - started:.1f}s"
        )
        return result

    result = asyncio.run(run())
    write_seed_file(args.out, result.data)
    print(f"credentials: {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command("loadseed", loadseed, parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
