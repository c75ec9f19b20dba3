"""Login capacity: login latency at a fixed arrival rate, per Argon2id setting, in one
alternating run against real hub processes.

Usage::

    .venv/bin/python loadtests/bench_login.py [--configs old=3:65536,owasp=2:19456]
        [--rate 10] [--duration 30] [--warmup 5] [--trials 3] [--users 50]
        [--hash-runs 20] [--arrivals fixed|poisson] [--out [PATH]] [--small]

What it does:

1. Times ``argon2.PasswordHasher(t, m, parallelism=1)`` ``hash`` and ``verify`` in this
   process, ``--hash-runs`` times per setting, the settings interleaved; reports the median.
2. Creates a database ``bench_login_<random>`` on ``--pg-admin-url`` (dropped at the end).
3. For each trial, for each setting in order (A B A B ...): starts ``tradeshub serve`` with
   ``ARGON2_TIME_COST`` / ``ARGON2_MEMORY_KIB`` of the setting and the auth limits raised so
   127.0.0.1 is never throttled; on its first trial registers ``--users`` accounts (not
   timed; a few at a time, since registration hashes too); then fires logins open loop:
   each login is its own request, sent at its arrival time whether or not earlier ones
   finished, so a hub that cannot keep up shows it as queueing in the latency. Latency is
   taken from the scheduled arrival (client lateness counts against the hub, as it would
   for a real client). Requests arriving in the first ``--warmup`` seconds are sent but not
   counted. The hub is stopped (SIGTERM, then SIGKILL) after every trial.
4. Prints a markdown table of the medians over trials, the p95 ratio against the first
   setting (the anchor), and whether each meets "p95 <= 300 ms at the arrival rate";
   ``--out`` writes the JSON results (default path under loadtests/reports/, gitignored).

Each setting has its own accounts: ``verify`` runs with the parameters stored in the hash,
so accounts registered under the anchor would cost the anchor's time on any hub.

Nothing is pinned with taskset: the hub uses both cores as a production node would (the
product caps concurrent hashes at half of ``os.cpu_count()``, which taskset does not
change), and this client's load (a few requests a second) is small beside a hash. The
"hub cores" column is the hub's CPU time over the trial's wall time.

``--small`` (rate 5/s, 2 s, 1 trial, 5 users, 3 hash runs) finishes in about 20 s, for CI.
The script imports nothing from the product: it drives the hub over HTTP and its CLI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
from argon2 import PasswordHasher

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "loadtests" / "reports"
DEFAULT_ADMIN_URL = os.environ.get(
    "TEST_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DEFAULT_CONFIGS = "old=3:65536,owasp=2:19456"
OWASP_MIN_MEMORY_KIB = 19456  # OWASP Password Storage Cheat Sheet: Argon2id m=19 MiB, t=2, p=1
OWASP_MIN_TIME_COST = 2
TARGET_P95_MS = 300.0
PASSWORD = "violet-tractor-harbour-42"  # passes the policy: long, uncommon, not the email
NO_LIMIT = 1_000_000_000  # auth limits high enough never to trip during a run
HUB_START_TIMEOUT_S = 60.0
HUB_STOP_TIMEOUT_S = 15.0
REGISTER_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Config:
    name: str
    time_cost: int
    memory_kib: int

    @property
    def owasp_minimum(self) -> bool:
        return self.time_cost >= OWASP_MIN_TIME_COST and self.memory_kib >= OWASP_MIN_MEMORY_KIB

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-") or "cfg"


def parse_configs(raw: str) -> list[Config]:
    """``name=t:m,...`` or ``t:m,...`` (named ``t<t>-m<m>``); the first is the anchor."""
    configs: list[Config] = []
    for item in (part.strip() for part in raw.split(",") if part.strip()):
        name, _, params = item.rpartition("=")
        t_raw, sep, m_raw = params.partition(":")
        if not sep or not t_raw.isdigit() or not m_raw.isdigit():
            raise argparse.ArgumentTypeError(f"bad config {item!r}: expected [name=]t:m")
        t, m = int(t_raw), int(m_raw)
        configs.append(Config(name or f"t{t}-m{m}", t, m))
    if not configs or len({c.name for c in configs}) != len(configs):
        raise argparse.ArgumentTypeError(f"configs must be non-empty with unique names: {raw!r}")
    return configs


# ------------------------------------------------------------------ raw hash cost


def hash_costs(configs: list[Config], runs: int) -> dict[str, tuple[float, float]]:
    """Median ms of ``hash`` and ``verify`` per setting; settings interleaved run by run, so
    a noisy neighbour hits each setting alike."""
    hashers = {c.name: PasswordHasher(c.time_cost, c.memory_kib, parallelism=1) for c in configs}
    times: dict[str, tuple[list[float], list[float]]] = {c.name: ([], []) for c in configs}
    for _ in range(runs):
        for c in configs:
            start = time.perf_counter()
            encoded = hashers[c.name].hash(PASSWORD)
            mid = time.perf_counter()
            hashers[c.name].verify(encoded, PASSWORD)
            end = time.perf_counter()
            times[c.name][0].append((mid - start) * 1000)
            times[c.name][1].append((end - mid) * 1000)
    return {n: (statistics.median(h), statistics.median(v)) for n, (h, v) in times.items()}


# ------------------------------------------------------------------ database and hub process


def _db_url(admin_url: str, name: str) -> str:
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


def _admin_sql(admin_url: str, sql: str) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(admin_url, timeout=10)
        try:
            await conn.execute(sql, timeout=60)
        finally:
            await conn.close()

    asyncio.run(go())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hub_command() -> list[str]:
    """The ``tradeshub`` console script of this interpreter's environment."""
    beside = Path(sys.executable).with_name("tradeshub")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("tradeshub")
    return [found] if found else [sys.executable, "-m", "api"]


def hub_env(database_url: str, config: Config, data_dir: Path) -> dict[str, str]:
    # Inherited settings could point the hub at another database or Redis, or throttle us.
    prefixes = ("DATABASE_URL", "REDIS_", "POSTGRES_", "JWT_", "ADMIN_", "ARGON2_", "LOGIN_")
    names = {"AUTH_RATE_LIMIT", "AUTH_RATE_WINDOW", "APP_ENV", "HOST", "PORT", "SENTRY_DSN"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes) and k not in names}
    env.update(
        DATABASE_URL=database_url,
        HOST="127.0.0.1",
        ARGON2_TIME_COST=str(config.time_cost),
        ARGON2_MEMORY_KIB=str(config.memory_kib),
        AUTH_RATE_LIMIT=str(NO_LIMIT),
        LOGIN_MAX_FAILURES=str(NO_LIMIT),
        LOGIN_IP_MAX_FAILURES=str(NO_LIMIT),
        LOG_LEVEL="WARNING",
        SHUTDOWN_GRACE="2s",
        TRADESHUB_DATA_DIR=str(data_dir),
    )
    return env


@dataclass
class Hub:
    """A ``serve`` process this run started; only it is ever signalled (by its PID)."""

    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def wait_ready(self) -> None:
        deadline = time.monotonic() + HUB_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/ready", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"hub on {self.port} not ready:\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        """user + system CPU of the hub (all its threads, hash workers included)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(HUB_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(HUB_STOP_TIMEOUT_S)


@contextlib.contextmanager
def running_hub(command: list[str], env: dict[str, str], workdir: Path) -> Iterator[Hub]:
    """A ``serve`` process answering /ready; stopped on exit whatever happened."""
    port = _free_port()
    log_path = workdir / f"hub-{port}.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [*command, "serve", "--port", str(port)],
            env=env,
            cwd=workdir,  # the product runs from any folder; it must not need the source tree
            stdout=log,
            stderr=log,
        )
    hub = Hub(proc, port, log_path)
    try:
        hub.wait_ready()
        yield hub
    finally:
        hub.stop()


# ------------------------------------------------------------------ load


@dataclass(frozen=True)
class Sample:
    arrival_s: float  # scheduled, from the start of the run
    latency_ms: float  # from the scheduled arrival to the end of the response
    status: int  # 0: no response (timeout or connection error)
    error: str | None


async def register_users(
    session: aiohttp.ClientSession, base: str, emails: list[str], concurrency: int
) -> None:
    slots = asyncio.Semaphore(concurrency)

    async def one(email: str) -> None:
        body = {"email": email, "password": PASSWORD, "name": "Bench", "role": "customer"}
        async with slots, session.post(f"{base}/api/v1/auth/register", json=body) as resp:
            if resp.status != 201:
                raise RuntimeError(f"register {email}: {resp.status} {await resp.text()}")

    async with asyncio.timeout(REGISTER_TIMEOUT_S), asyncio.TaskGroup() as group:
        for email in emails:
            group.create_task(one(email))


def arrival_times(rate: float, duration: float, poisson: bool, rng: random.Random) -> list[float]:
    if not poisson:
        return [i / rate for i in range(int(rate * duration))]
    times: list[float] = []
    at = rng.expovariate(rate)
    while at < duration:
        times.append(at)
        at += rng.expovariate(rate)
    return times


async def open_loop(
    session: aiohttp.ClientSession,
    base: str,
    emails: list[str],
    arrivals: list[float],
    timeout_s: float,
) -> tuple[list[Sample], float]:
    """Fire one login per arrival at its time; return the samples and the worst lateness
    of a send (ms) against its schedule, which tells a starved client from a slow hub."""
    loop = asyncio.get_running_loop()
    url = f"{base}/api/v1/auth/login"
    samples: list[Sample] = []
    tasks: set[asyncio.Task[None]] = set()
    finished: set[int] = set()
    start = loop.time() + 0.05
    worst_lag = 0.0

    async def login(i: int, scheduled: float) -> None:
        status, error = 0, None
        body = {"email": emails[i % len(emails)], "password": PASSWORD}
        try:
            async with session.post(url, json=body) as resp:
                await resp.read()
                status = resp.status
                error = None if status == 200 else f"http {status}"
        except TimeoutError:
            error = "timeout"
        except aiohttp.ClientError as exc:
            error = type(exc).__name__
        samples.append(Sample(arrivals[i], (loop.time() - scheduled) * 1000, status, error))
        finished.add(i)

    for i, at in enumerate(arrivals):
        scheduled = start + at
        await asyncio.sleep(max(0.0, scheduled - loop.time()))
        worst_lag = max(worst_lag, loop.time() - scheduled)
        tasks.add(asyncio.create_task(login(i, scheduled)))
    # Every request has its own timeout, so this wait is a backstop, not the bound.
    _, pending = await asyncio.wait(tasks, timeout=timeout_s + 10) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for i, at in enumerate(arrivals):
        if i not in finished:
            samples.append(Sample(at, (loop.time() - start - at) * 1000, 0, "unfinished"))
    return samples, worst_lag * 1000


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: every value reported was observed)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass
class Trial:
    config: str
    trial: int
    requests: int
    ok: int
    errors: int
    warmup_errors: int
    error_kinds: dict[str, int]
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    logins_per_s: float
    max_send_lag_ms: float
    hub_cores: float


def summarise(
    config: str, trial: int, samples: list[Sample], warmup: float, window: float
) -> Trial:
    """Statistics over requests that arrived after the warm-up. Latency percentiles include
    failed requests at their time to failure."""
    measured = [s for s in samples if s.arrival_s >= warmup]
    kinds: dict[str, int] = {}
    for s in samples:
        if s.error is not None:
            kinds[s.error] = kinds.get(s.error, 0) + 1
    ok = [s for s in measured if s.status == 200]
    latencies = [s.latency_ms for s in measured] or [math.nan]
    # Achieved rate: successes over the time from the first counted arrival to the last
    # counted completion; equals the arrival rate when the hub keeps up, its capacity if not.
    last_done = max((s.arrival_s + s.latency_ms / 1000 for s in ok), default=warmup + window)
    span = max(window, last_done - warmup)
    return Trial(
        config=config,
        trial=trial,
        requests=len(measured),
        ok=len(ok),
        errors=len(measured) - len(ok),
        warmup_errors=sum(1 for s in samples if s.arrival_s < warmup and s.status != 200),
        error_kinds=kinds,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        max_ms=max(latencies),
        logins_per_s=len(ok) / span,
        max_send_lag_ms=0.0,
        hub_cores=0.0,
    )


async def run_trial(
    hub: Hub, config: Config, emails: list[str], register: bool, args: argparse.Namespace, n: int
) -> Trial:
    # No connector limit: a client-side pool would queue requests out of the hub's sight.
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=args.request_timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        if register:
            await register_users(session, hub.url, emails, args.register_concurrency)
        rng = random.Random(f"{args.seed}-{config.name}-{n}")
        arrivals = arrival_times(args.rate, args.duration, args.arrivals == "poisson", rng)
        cpu0, wall0 = hub.cpu_seconds(), time.monotonic()
        samples, lag_ms = await open_loop(session, hub.url, emails, arrivals, args.request_timeout)
        cores = (hub.cpu_seconds() - cpu0) / (time.monotonic() - wall0)
    trial = summarise(config.name, n, samples, args.warmup, args.duration - args.warmup)
    trial.max_send_lag_ms, trial.hub_cores = lag_ms, cores
    return trial


# ------------------------------------------------------------------ report


@dataclass
class Result:
    config: Config
    hash_ms: float
    verify_ms: float
    trials: list[Trial] = field(default_factory=list)

    def median(self, name: str) -> float:
        return float(statistics.median(getattr(t, name) for t in self.trials))

    def summary(self) -> dict[str, float]:
        keys = ("p50_ms", "p95_ms", "p99_ms", "max_ms", "logins_per_s", "errors", "hub_cores")
        return {k: self.median(k) for k in keys}


def table(results: list[Result], rate: float) -> str:
    anchor = results[0]
    head = (
        "| config | t | m KiB | OWASP min | hash ms | verify ms | p50 ms | p95 ms | p99 ms "
        f"| max ms | logins/s | errors | hub cores | p95 vs {anchor.config.name} | p95 per trial |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        s = r.summary()
        ratio = s["p95_ms"] / anchor.summary()["p95_ms"]
        per_trial = ", ".join(f"{t.p95_ms:.0f}" for t in r.trials)
        lines.append(
            f"| {r.config.name} | {r.config.time_cost} | {r.config.memory_kib} "
            f"| {'yes' if r.config.owasp_minimum else 'no'} | {r.hash_ms:.1f} "
            f"| {r.verify_ms:.1f} | {s['p50_ms']:.0f} | {s['p95_ms']:.0f} | {s['p99_ms']:.0f} "
            f"| {s['max_ms']:.0f} | {s['logins_per_s']:.2f} | {s['errors']:.0f} "
            f"| {s['hub_cores']:.2f} | {ratio:.3f} | {per_trial} |"
        )
    lines.append("")
    for r in results:
        p95 = r.summary()["p95_ms"]
        verdict = "meets" if p95 <= TARGET_P95_MS and r.summary()["errors"] == 0 else "misses"
        lines.append(
            f"{r.config.name}: {verdict} p95 <= {TARGET_P95_MS:.0f} ms at {rate:g} logins/s "
            f"(p95 {p95:.0f} ms = {p95 / TARGET_P95_MS:.2f}x the limit; "
            f"OWASP minimum {'met' if r.config.owasp_minimum else 'NOT met'})"
        )
    return "\n".join(lines)


def write_json(path: Path, results: list[Result], args: argparse.Namespace) -> None:
    anchor_p95 = results[0].summary()["p95_ms"]
    doc: dict[str, Any] = {
        "benchmark": "bench_login",
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "loadavg": list(os.getloadavg())},
        "params": {
            k: getattr(args, k)
            for k in ("rate", "duration", "warmup", "trials", "users", "arrivals", "hash_runs")
        },
        "target": {"p95_ms": TARGET_P95_MS, "rate": args.rate},
        "anchor": results[0].config.name,
        "configs": [
            {
                "name": r.config.name,
                "time_cost": r.config.time_cost,
                "memory_kib": r.config.memory_kib,
                "parallelism": 1,
                "owasp_minimum": r.config.owasp_minimum,
                "hash_ms": r.hash_ms,
                "verify_ms": r.verify_ms,
                "summary": r.summary(),
                "p95_vs_anchor": r.summary()["p95_ms"] / anchor_p95,
                "trials": [asdict(t) for t in r.trials],
            }
            for r in results
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")


# ------------------------------------------------------------------ main


def run(args: argparse.Namespace) -> list[Result]:
    configs: list[Config] = args.configs
    print(f"hash cost: {args.hash_runs} runs per setting, interleaved", flush=True)
    costs = hash_costs(configs, args.hash_runs)
    results = [Result(c, *costs[c.name]) for c in configs]
    db = f"bench_login_{secrets.token_hex(4)}"
    command = shlex.split(args.hub_cmd) if args.hub_cmd else hub_command()
    registered: set[str] = set()
    _admin_sql(args.pg_admin_url, f'CREATE DATABASE "{db}"')
    try:
        with tempfile.TemporaryDirectory(prefix="bench-login-") as tmp:
            workdir = Path(tmp)
            for n in range(1, args.trials + 1):
                for result in results:
                    c = result.config
                    emails = [f"bench-{c.slug}-{i}@example.com" for i in range(args.users)]
                    env = hub_env(_db_url(args.pg_admin_url, db), c, workdir)
                    with running_hub(command, env, workdir) as hub:
                        trial = asyncio.run(
                            run_trial(hub, c, emails, c.name not in registered, args, n)
                        )
                    registered.add(c.name)
                    result.trials.append(trial)
                    print(
                        f"trial {n} {c.name}: p95 {trial.p95_ms:.0f} ms, "
                        f"{trial.logins_per_s:.2f} logins/s, {trial.errors} errors, "
                        f"hub {trial.hub_cores:.2f} cores, send lag {trial.max_send_lag_ms:.0f} ms",
                        flush=True,
                    )
    finally:
        _admin_sql(args.pg_admin_url, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--configs", type=parse_configs, default=parse_configs(DEFAULT_CONFIGS))
    parser.add_argument("--rate", type=float, default=10.0, help="login arrivals per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of arrivals")
    parser.add_argument("--warmup", type=float, default=5.0, help="first seconds not counted")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--hash-runs", type=int, default=20)
    parser.add_argument("--arrivals", choices=("fixed", "poisson"), default="fixed")
    parser.add_argument("--request-timeout", type=float, default=120.0)
    parser.add_argument("--register-concurrency", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--hub-cmd", default=None, help="default: the tradeshub console script")
    parser.add_argument("--out", nargs="?", type=Path, const=..., default=None, help="JSON results")
    parser.add_argument("--small", action="store_true", help="CI size: 5/s for 2 s, 1 trial")
    args = parser.parse_args(argv)
    if args.small:
        args.rate, args.duration, args.warmup = 5.0, 2.0, 0.4
        args.trials, args.users, args.hash_runs = 1, 5, 3
    if not 0 <= args.warmup < args.duration or args.rate <= 0 or min(args.trials, args.users) < 1:
        parser.error("need rate > 0, 0 <= warmup < duration, trials >= 1, users >= 1")
    if args.out is ...:
        args.out = REPORTS / f"bench_login-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    if urlsplit(args.pg_admin_url).hostname not in (None, "127.0.0.1", "localhost", "::1"):
        parser.error("--pg-admin-url must be on this machine (127.0.0.1 or a local socket)")

    results = run(args)
    print()
    print(
        f"login at {args.rate:g}/s open loop ({args.arrivals}), {args.duration:g} s "
        f"({args.warmup:g} s warm-up), median of {args.trials} trial(s), {os.cpu_count()} cpus"
    )
    print(table(results, args.rate))
    if args.out is not None:
        write_json(args.out, results, args)
        print(f"\nwrote {args.out}")
    return 0 if all(t.errors == 0 for r in results for t in r.trials) else 1


if __name__ == "__main__":
    sys.exit(main())
