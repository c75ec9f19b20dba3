"""Seeding for the tracking fan-out benchmark: ``python loadtests/benchseed.py``.

The benchmark harness (``../shared/bench``, see docs/BENCHMARKS.md) plays R jobs, each with
one contractor streaming ``location:update`` and W watchers receiving ``job:location``. This
command creates, by direct SQL in one go (no REST, no login storm):

- R customer/contractor pairs with one job each (``loadseed.py``'s users, profiles,
  assigned jobs, conversations), then every job put ``en_route`` with its contractor;
- the watchers of each job: its customer, plus W-1 more who may watch it: admins (the
  default; one admin per watcher slot) or, with ``--share-viewers``, share-link viewers whose
  links are made by the hub's own :meth:`hub.tracking.share.ShareLinks.create` (a ``share_links``
  row and a ``share`` token, exactly what ``POST /jobs/{id}/share`` hands out);
- an access token per user, minted by the hub's :class:`hub.accounts.tokens.TokenCodec` with the
  settings' ``JWT_SECRET`` (so the hub under test must share it), valid ``--token-ttl``.

Each contractor's route starts :data:`START_KM` north-west of the job's site and the harness
moves publishers north-west, away from the site: a run never reaches the arrival geofence,
so the jobs stay ``en_route`` and every accepted point is fanned out.

The output is the harness's ``--fixture`` file (mode 0600: it holds tokens)::

    {"rooms": [{"room": job_id, "publisher": {"token"}, "watchers": [{"token"} |
      {"share_token"}, ...], "start": {"lat", "lng"}, "site": {...}, ...}], ...}

Re-running with the same ``--tag`` reuses the users and jobs (``loadseed.py`` resets the
jobs; this module moves them ``en_route`` again), replaces the jobs' share links and mints
fresh tokens.

Like ``loadseed.py`` (its neighbour, which it imports), it is not part of the product and
runs with a python that has the hub installed, reading the hub's settings from the
environment: ``DATABASE_URL=... JWT_SECRET=... .venv/bin/python loadtests/benchseed.py
--rooms 50 --watchers 20 --out fixture.json``.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if str(Path(__file__).resolve().parent) not in sys.path:  # loaded by path (tests), not run
    sys.path.append(str(Path(__file__).resolve().parent))

from loadseed import (
    DEFAULT_PASSWORD,
    EMAIL_DOMAIN,
    Layout,
    _offset,
    database_label,
    layout,
    run_command,
    say,
    seed_sql,
    write_seed_file,
)

FORMAT = "tradeshub-benchseed/1"
START_KM = 40.0
"""How far north and west of its job's site each contractor starts (about 57 km away)."""


def admin_email(tag: str, index: int) -> str:
    """The seeded watcher admin's email: ``lt.<tag>.a00001@...``."""
    return f"lt.{tag}.a{index:05d}@{EMAIL_DOMAIN}"


def start_of(lay: Layout, k: int) -> dict[str, float]:
    """Where job ``k``'s contractor starts: far north-west of the site (the harness moves
    publishers north-west, so they only get farther)."""
    site = lay.site(k)
    return _offset(site["lat"], site["lng"], START_KM, -START_KM)


@dataclass(frozen=True, slots=True)
class BenchSeed:
    fixture: dict[str, Any]
    users_created: int
    admins_created: int
    share_links: int


async def _admins(conn: Any, tag: str, count: int, password_hash: str) -> tuple[list[str], int]:
    """``count`` admin accounts of the tag (created when missing); their ids, and how many
    were created."""
    from hub.core.ids import new_id

    emails = [admin_email(tag, i) for i in range(count)]
    if not emails:
        return [], 0
    async with conn.transaction():
        await conn.execute(
            "CREATE TEMP TABLE bs_admins (id text, email text, name text) ON COMMIT DROP"
        )
        await conn.copy_records_to_table(
            "bs_admins",
            records=[(new_id("u_"), e, f"Bench watcher {i}") for i, e in enumerate(emails)],
        )
        created = await conn.fetchval(
            """
            WITH ins AS (
                INSERT INTO users (id, email, password_hash, name, role)
                SELECT id, email, $1, name, 'admin' FROM bs_admins
                ON CONFLICT ((lower(email))) DO NOTHING
                RETURNING 1
            ) SELECT count(*) FROM ins
            """,
            password_hash,
        )
        rows = await conn.fetch(
            "SELECT id, lower(email) AS email, role FROM users u "
            "WHERE lower(u.email) IN (SELECT lower(email) FROM bs_admins)"
        )
    by_email = {r["email"]: r for r in rows}
    ids = []
    for e in emails:
        found = by_email.get(e.lower())
        if found is None or found["role"] != "admin":
            raise RuntimeError(f"{e} exists with another role; use another --tag")
        ids.append(found["id"])
    return ids, int(created)


async def seed_bench(
    pool: Any,
    tag: str,
    rooms: int,
    watchers: int,
    tokens: Any,
    password_hash: str,
    share_viewers: bool = False,
    progress: Callable[[str], None] | None = None,
) -> BenchSeed:
    """Seed ``rooms`` en-route jobs with ``watchers`` watchers each into ``pool`` (asyncpg,
    migrated, trades loaded); ``tokens`` is the hub's :class:`hub.accounts.tokens.TokenCodec`.
    ``progress`` hears how far the share links (made one by one by the hub's code) are."""
    from hub.engine.bus import MemoryBus
    from hub.jobs.changes import JobEvents
    from hub.tracking.share import ShareLinks

    if rooms < 1 or watchers < 1:
        raise ValueError("--rooms and --watchers must be at least 1")
    lay = layout(tag, rooms, rooms, rooms)
    async with pool.acquire() as conn:
        result = await seed_sql(conn, lay, password_hash, DEFAULT_PASSWORD)
        pairs = result.data["pairs"]
        job_ids = [p["job_id"] for p in pairs]
        # Far from the sites (module docstring); en_route, as after POST /jobs/{id}/status.
        await conn.execute(
            "UPDATE jobs SET status = 'en_route', updated_at = now() WHERE id = any($1::text[])",
            job_ids,
        )
        await conn.execute("DELETE FROM share_links WHERE job_id = any($1::text[])", job_ids)
        extra = watchers - 1
        admin_ids: list[str] = []
        admins_created = 0
        if extra and not share_viewers:
            admin_ids, admins_created = await _admins(conn, tag, rooms * extra, password_hash)

    shares = None
    if share_viewers:

        async def drop(sid: str) -> None:  # no sockets here
            return None

        shares = ShareLinks(pool, tokens, {}, drop, JobEvents(MemoryBus()))

    out_rooms = []
    links = 0
    expires = math.inf
    for k, pair in enumerate(pairs):
        customer_id = pair["customer"]["id"]
        contractor_id = pair["contractor"]["id"]
        publisher = tokens.issue_access(contractor_id, "contractor")
        customer = tokens.issue_access(customer_id, "customer")
        expires = min(expires, publisher.expires_at, customer.expires_at)
        auths: list[dict[str, str]] = [{"token": customer.token}]
        for j in range(extra):
            if shares is not None:
                link = await shares.create(pair["job_id"], customer_id, "customer")
                auths.append({"share_token": link.token})
                links += 1
                if progress is not None and links % 1000 == 0:
                    progress(f"share links: {links} of {rooms * extra}")
            else:
                issued = tokens.issue_access(admin_ids[k * extra + j], "admin")
                auths.append({"token": issued.token})
        out_rooms.append(
            {
                "room": pair["job_id"],
                "publisher": {"token": publisher.token},
                "watchers": auths,
                "start": start_of(lay, k),
                "site": pair["site"],
                "contractor_id": contractor_id,
                "customer_id": customer_id,
            }
        )
    fixture = {
        "format": FORMAT,
        "tag": tag,
        "seeded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tokens_expire_at": datetime.fromtimestamp(expires, UTC).isoformat(timespec="seconds"),
        "watchers_are": "customer + share-link viewers" if share_viewers else "customer + admins",
        "rooms": out_rooms,
    }
    return BenchSeed(fixture, result.users_created, admins_created, links)


# --- the command ----------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="benchseed.py",
        description="Seed en-route jobs with watchers for the tracking benchmark by SQL into "
        "DATABASE_URL (or the embedded database under TRADESHUB_DATA_DIR); write its fixture.",
    )
    p.add_argument("--rooms", type=int, default=50, help="jobs, one contractor each (R)")
    p.add_argument("--watchers", type=int, default=20, help="watchers per job (W)")
    p.add_argument(
        "--share-viewers",
        action="store_true",
        help="watchers beyond the customer are share-link viewers (default: admins)",
    )
    p.add_argument("--tag", default="bench", help="names this population; re-runs reuse it")
    p.add_argument(
        "--token-ttl",
        default=None,
        help="access tokens' lifetime, e.g. 2h (default: JWT_ACCESS_EXPIRY)",
    )
    p.add_argument("--out", type=Path, required=True, help="fixture JSON to write")
    return p


def benchseed(settings: Any, args: Any) -> int:
    """Seed by SQL into DATABASE_URL (or the embedded database) and write ``--out``."""
    import asyncio
    import time

    from api.config import parse_duration
    from api.db import prepared_database
    from hub.accounts.passwords import Passwords
    from hub.accounts.tokens import TokenCodec

    prog = "benchseed"
    try:
        layout(args.tag, args.rooms, args.rooms, args.rooms)
        if args.rooms < 1 or args.watchers < 1:
            raise ValueError("--rooms and --watchers must be at least 1")
        ttl = (
            parse_duration("--token-ttl", args.token_ttl)
            if args.token_ttl
            else settings.jwt_access_expiry_s
        )
    except Exception as exc:
        print(f"{prog}: {exc}")
        return 2
    tokens = TokenCodec(settings.jwt_secret, ttl, settings.jwt_refresh_expiry_s)
    passwords = Passwords(settings.argon2_time_cost, settings.argon2_memory_kib)

    async def run() -> BenchSeed:
        started = time.monotonic()
        say(prog, "hashing the password once (Argon2id, the hub's cost)")
        password_hash = await passwords.hash(DEFAULT_PASSWORD)
        say(prog, f"migrating {database_label(settings)} and loading the trades")
        async with prepared_database(settings, pool_size=2, load_trades=True) as db:
            say(
                prog,
                f"seeding {args.rooms} en_route jobs x {args.watchers} watchers "
                f"({'share-link viewers' if args.share_viewers else 'admins'} beyond the "
                f"customer; tag {args.tag})",
            )
            seeded = await seed_bench(
                db.pool,
                args.tag,
                args.rooms,
                args.watchers,
                tokens,
                password_hash,
                args.share_viewers,
                progress=lambda message: say(prog, message),
            )
        print(
            f"benchseed {args.tag}: {args.rooms} en_route jobs x {args.watchers} watchers "
            f"({seeded.fixture['watchers_are']}); users created {seeded.users_created}, "
            f"admins created {seeded.admins_created}, share links {seeded.share_links}; "
            f"tokens valid until {seeded.fixture['tokens_expire_at']}; "
            f"{time.monotonic() - started:.1f}s"
        )
        if ttl < 3600:
            print(f"note: tokens expire in {ttl:.0f}s; a long run needs --token-ttl 2h")
        return seeded

    seeded = asyncio.run(run())
    write_seed_file(args.out, seeded.fixture)
    print(f"fixture: {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command("benchseed", benchseed, parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
