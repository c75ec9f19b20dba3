"""Seed a hub through its REST API, for when its database is out of reach (no DATABASE_URL).

Same layout and credentials file as ``loadseed.py`` (it imports that script's pure half,
which needs nothing but the standard library: this runs in locust's virtual environment,
without the hub installed), built the way the apps would: register everybody, publish the
contractors' profiles, post each pair's job (the hub offers it to its contractor, who
stands on the site), apply, accept. That is about 2N + 3M requests, each registration an
Argon2 hash on the hub, so it is for smoke-sized populations: the hub's auth rate limit
(``AUTH_RATE_LIMIT``, 100 per 15 minutes per client IP by default) caps it further.
Seed big populations by SQL.

A tag is seeded once: if its first account exists, this refuses (exit 3) and names a
fresh tag to use.

usage: python loadtests/seed_api.py --host http://127.0.0.1:8080 --customers 22
       --contractors 8 --out loadtests/reports/seed.json [--tag T] [--pairs P]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from loadseed import (
    DEFAULT_PASSWORD,
    TRADE_SLUGS,
    email_of,
    layout,
    seed_file,
    write_seed_file,
)

API = "/api/v1"


class SeedError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class Hub:
    def __init__(self, host: str) -> None:
        self.host = host.rstrip("/")

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.host + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw)
            except ValueError:
                return exc.code, raw.decode(errors="replace")

    def must(
        self, method: str, path: str, body: Any = None, token: str | None = None, ok: int = 200
    ) -> Any:
        status, data = self.request(method, path, body, token)
        return check(method, path, status, data, ok)


def check(method: str, path: str, status: int, data: Any, ok: int) -> Any:
    """``data`` when ``status`` is ``ok``, else a SeedError saying what to do."""
    if status == 429:
        raise SeedError(
            f"{method} {path}: 429 rate limited. The hub's AUTH_RATE_LIMIT (default 100 "
            "per 15 min per IP) is too low to seed this many users through the API: "
            "seed by SQL with DATABASE_URL, or start the hub with a higher AUTH_RATE_LIMIT"
        )
    if status != ok:
        raise SeedError(f"{method} {path}: {status} {str(data)[:300]}")
    return data


def seed(
    host: str, tag: str, customers: int, contractors: int, pairs: int | None, password: str
) -> dict[str, Any]:
    lay = layout(tag, customers, contractors, pairs)
    hub = Hub(host)
    trades = {t["slug"] for t in hub.must("GET", f"{API}/trades")}
    if not set(TRADE_SLUGS) <= trades:
        raise SeedError("the hub has no trade catalogue: run `tradeshub seed` against it")

    def register(role: str, k: int) -> dict[str, Any]:
        body = {
            "email": email_of(tag, role, k),
            "password": password,
            "name": f"Load {role} {k}",
            "role": role,
        }
        status, data = hub.request("POST", f"{API}/auth/register", body)
        if status == 409:
            raise SeedError(
                f"{body['email']} exists: tag {tag!r} was seeded already; "
                f"use a fresh --tag (e.g. {tag}{int(time.time()) % 100000})",
                3,
            )
        return dict(check("POST", f"{API}/auth/register", status, data, 201))

    with ThreadPoolExecutor(8) as pool:
        first = register("customer", 0)  # fails fast on a used tag
        cust = [first, *pool.map(lambda k: register("customer", k), range(1, customers))]
        cont = list(pool.map(lambda k: register("contractor", k), range(contractors)))
        list(
            pool.map(
                lambda k: hub.must(
                    "PUT", f"{API}/contractors/me", lay.profile(k), cont[k]["access_token"]
                ),
                range(contractors),
            )
        )

        def assign(k: int) -> tuple[str, str]:
            job = hub.must("POST", f"{API}/jobs", lay.job_body(k), cust[k]["access_token"], 201)
            app = hub.must(
                "POST",
                f"{API}/jobs/{job['id']}/applications",
                {"quote_cents": 12000, "message": "I can come today"},
                cont[k]["access_token"],
                201,
            )
            hub.must(
                "POST",
                f"{API}/jobs/{job['id']}/applications/{app['id']}/accept",
                None,
                cust[k]["access_token"],
            )
            return job["id"], app["conversation_id"]

        jobs = list(pool.map(assign, range(lay.pairs)))
    return seed_file(
        lay,
        password,
        "api",
        [c["user"]["id"] for c in cust],
        [c["user"]["id"] for c in cont],
        jobs,
        {c["user"]["id"]: c["refresh_token"] for c in cust + cont},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--contractors", type=int, required=True)
    parser.add_argument("--pairs", type=int, default=None)
    parser.add_argument("--tag", default=f"api{int(time.time()) % 1000000}")
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        data = seed(
            args.host, args.tag, args.customers, args.contractors, args.pairs, args.password
        )
    except (SeedError, ValueError) as exc:
        print(f"seed_api: {exc}", file=sys.stderr)
        return exc.code if isinstance(exc, SeedError) else 2
    except OSError as exc:
        print(f"seed_api: cannot reach {args.host}: {exc}", file=sys.stderr)
        return 1
    write_seed_file(args.out, data)
    print(
        f"seed_api {args.tag}: {args.customers} customers, {args.contractors} contractors, "
        f"{len(data['pairs'])} assigned jobs through the API in "
        f"{time.monotonic() - started:.1f}s; credentials: {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
