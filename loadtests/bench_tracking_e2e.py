"""Tracking fan-out, end to end: the hub beside Node's Socket.IO in one alternating run.

Drives the shared Socket.IO benchmark (``../shared/bench``: ``gen.js`` and ``run.py``, copied
and set up in a folder of yours, see docs/BENCHMARKS.md) against the real hub: contractors
emit ``location:update``, watchers joined with ``job:watch`` receive ``job:location``. The
hub runs the whole product path (gateway, msgspec validation, noise filter, live state,
ETA, breadcrumbs, room broadcaster) on a database seeded by ``loadtests/benchseed.py``.

Usage::

    .venv/bin/python loadtests/bench_tracking_e2e.py --bench /work/scratch/bench-e2e \\
        [--servers node,hub,py-fast] [--topologies single,redis] [--reps 3] \\
        [--modes load,idle] [--share-viewers] [--ramp 10,15,20,30,40,55,75,100,130,170,220] \\
        [--rate 10] [--port 3800]

What it does:

1. Checks that the harness copy's ``gen.js`` has the three small options this run needs
   and adds them when it does not (``--no-patch`` refuses instead): ``--pub-speed-key``
   (the hub's schema calls the field ``speed_mps``; an unknown ``speed`` would be ignored),
   ``--pub-track time`` (positions follow each message's ``ts`` at ``--speed-mps``,
   unrounded: with the original fixed step rounded to 6 decimals, points above ~80 msg/s
   per publisher, or two in one 4 ms tick, repeat or imply > 70 m/s, and the hub's noise
   filter rightly drops them), and idle mode taking each client's auth from ``--fixture``.
   Every server of the run gets the same publisher payload.
2. Creates a database on ``--pg-admin-url`` (dropped at the end unless ``--keep-db``), and
   seeds it with ``benchseed.py`` (enough rooms for the idle clients too).
3. Imports the harness's ``run.py`` and adds a server ``hub``: ``python -m api serve``
   pinned to core 0 like the others, a fresh process per trial. Then alternates the servers
   (A B C A B C ..., load trials first, then idle) with ``run.trial``, each server with its
   own protocol arguments: the built-in servers speak the harness's ``join`` /
   ``location``; the hub its real events with the fixture's tokens and job ids.
4. After each hub trial, reads the hub's ``/metrics`` (points accepted / filtered as noise,
   deliveries) before the process stops: a filtered point is not a lost one.
5. Topology ``redis`` (issue 6): two processes per trial, publishers on node A and watchers
   on node B, fan-out through the shared Redis at 127.0.0.1:6379 (run.py's own topology). The
   hub's two nodes are two ``serve`` processes with ``REDIS_URL`` on the same database; Node
   uses @socket.io/redis-adapter and ``py-fast`` python-socketio's AsyncRedisManager, as
   run.py builds them. Both processes are pinned to core 0, so the server side has one core
   in both topologies. Idle trials stay single-node (as in run.py).
6. Prints run.py's tables and the issue's targets (hub vs node in this run), and writes
   ``results/e2e-<stamp>.{json,md}`` in the harness folder.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
DEFAULT_ADMIN_URL = os.environ.get(
    "TEST_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
JWT_SECRET = "bench-e2e-" + secrets.token_hex(16)

# ------------------------------------------------------------------ gen.js options this run needs
_GEN_PATCHES: list[tuple[str, str]] = [
    (
        "  'speed-mps': 12.5,              // publishers move at this speed whatever the rate "
        "(keeps GPS filters happy)\n",
        "  'speed-mps': 12.5,              // publishers move at this speed whatever the rate "
        "(keeps GPS filters happy)\n"
        "  'pub-speed-key': 'speed',       // [e2e] name of the payload's speed field "
        "(the hub's schema: speed_mps)\n"
        "  'pub-track': 'count',           // [e2e] count: lat/lng advance a fixed step per "
        "message, rounded to 6 decimals\n"
        "                                  //       (original; at > ~80 msg/s/publisher, or 2 "
        "messages in one 4 ms tick,\n"
        "                                  //       consecutive points repeat or imply > 70 m/s, "
        "which a GPS noise filter drops);\n"
        "                                  //       time: lat/lng advance with the message's ts "
        "at --speed-mps, unrounded\n",
    ),
    (
        "      for (let j = 0; j < n; j++) {\n"
        "        const step = opt['speed-mps'] / 111320 / Math.max(rate, 1) / Math.SQRT2;  "
        "// degrees per message\n"
        "        p.lat += step; p.lng -= step;\n"
        "        const msg = { lat: +p.lat.toFixed(6), lng: +p.lng.toFixed(6), heading: 87, "
        "speed: 12.5, ts: now() };\n",
        "      for (let j = 0; j < n; j++) {\n"
        "        let msg;\n"
        "        if (TRACK_BY_TIME) {\n"
        "          const ts = now();\n"
        "          if (p.t !== undefined) { const d = DEG_PER_MS * (ts - p.t); p.lat += d; "
        "p.lng -= d; }\n"
        "          p.t = ts;\n"
        "          msg = { lat: p.lat, lng: p.lng, heading: 87, [SPEED_KEY]: 12.5, ts };\n"
        "        } else {\n"
        "        const step = opt['speed-mps'] / 111320 / Math.max(rate, 1) / Math.SQRT2;  "
        "// degrees per message\n"
        "        p.lat += step; p.lng -= step;\n"
        "        msg = { lat: +p.lat.toFixed(6), lng: +p.lng.toFixed(6), heading: 87, "
        "[SPEED_KEY]: 12.5, ts: now() };\n"
        "        }\n",
    ),
    (
        "let pubSent = 0;\n",
        "let pubSent = 0;\n"
        "const SPEED_KEY = opt['pub-speed-key'];\n"
        "const TRACK_BY_TIME = opt['pub-track'] === 'time';\n"
        "const DEG_PER_MS = opt['speed-mps'] / 111320 / 1000 / Math.SQRT2;  "
        "// north and west, each\n",
    ),
    (
        "    makeClient(opt['watch-url'], 'watcher', opt['room-prefix'] + (k % R), k, "
        "opt['idle-join']));\n",
        "    makeClient(opt['watch-url'], 'watcher', opt['room-prefix'] + (k % R), k, "
        "opt['idle-join'],\n"
        "      IDLE_AUTHS ? IDLE_AUTHS[k % IDLE_AUTHS.length] : null));\n",
    ),
    (
        "const roomName = (k) =>",
        "// [e2e] idle mode with --fixture: client k connects with the k-th auth of the fixture "
        "(every room's\n"
        "// watchers, then the publishers), so a server that authenticates sockets can be "
        "measured too.\n"
        "const IDLE_AUTHS = FIXTURE ? [...FIXTURE.rooms.flatMap((r) => r.watchers), "
        "...FIXTURE.rooms.map((r) => r.publisher)] : null;\n"
        "if (IDLE_AUTHS && opt.mode === 'idle' && IDLE_AUTHS.length < opt['idle-clients'])\n"
        "  log(`WARNING: fixture has ${IDLE_AUTHS.length} auths for ${opt['idle-clients']} "
        "idle clients; auths are reused`);\n"
        "const roomName = (k) =>",
    ),
]
_GEN_MARKER = "'pub-track'"


def patch_gen(bench: Path, allowed: bool) -> None:
    """Give the harness copy's gen.js the options above (idempotent)."""
    gen = bench / "gen.js"
    text = gen.read_text("utf-8")
    if _GEN_MARKER in text and "IDLE_AUTHS" in text:
        return
    if not allowed:
        sys.exit(
            f"{gen} lacks --pub-speed-key/--pub-track/idle fixture auth; run without --no-patch"
        )
    for old, new in _GEN_PATCHES:
        if text.count(old) != 1:
            sys.exit(f"{gen}: cannot patch (expected one occurrence of {old[:60]!r})")
        text = text.replace(old, new)
    gen.with_name("gen.js.orig").write_text(gen.read_text("utf-8"), "utf-8")
    gen.write_text(text, "utf-8")
    print(f"patched {gen} (original kept as gen.js.orig)", file=sys.stderr)


# ------------------------------------------------------------------ database
def _db_url(admin_url: str, name: str) -> str:
    """``admin_url`` with its database replaced by ``name``."""
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


def _psql(admin_url: str, sql: str) -> None:
    import asyncio

    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


def hub_env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "REDIS_", "JWT_", "ADMIN_", "POSTGRES_"))
    }
    env.update(
        DATABASE_URL=database_url,
        JWT_SECRET=JWT_SECRET,
        JWT_ACCESS_EXPIRY="6h",
        ARGON2_TIME_COST="1",
        ARGON2_MEMORY_KIB="1024",
        LOG_LEVEL="WARNING",
        TRADESHUB_DATA_DIR=str(data_dir),
        PYTHONPATH=str(ROOT),
    )
    return env


def benchseed(env: dict[str, str], rooms: int, watchers: int, share: bool, out: Path) -> None:
    cmd = [PYTHON, str(HERE / "benchseed.py"), "--rooms", str(rooms), "--watchers", str(watchers)]
    cmd += ["--token-ttl", "6h", "--out", str(out)] + (["--share-viewers"] if share else [])
    # Its progress (stderr) shows as it goes; its summary is the first line of stdout.
    r = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True, timeout=600)
    if r.returncode != 0:
        sys.exit(f"benchseed failed (exit {r.returncode}; its errors are above):\n{r.stdout}")
    print(r.stdout.strip().splitlines()[0], file=sys.stderr)


# ------------------------------------------------------------------ the harness
def load_harness(bench: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", bench / "run.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def scrape_metrics(port: int) -> dict[str, float]:
    """The hub's tracking counters (Prometheus text) while it still runs."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError as exc:
        return {"error": str(exc)}  # type: ignore[dict-item]
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = re.match(r'tradeshub_location_points_total\{outcome="(\w+)"\} (\S+)', line)
        if m:
            out[m.group(1)] = float(m.group(2))
        m = re.match(r'tradeshub_fanout_deliveries_total\{kind="job_location"\} (\S+)', line)
        if m:
            out["deliveries"] = float(m.group(1))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--bench", type=Path, required=True, help="a set-up copy of shared/bench")
    ap.add_argument("--servers", default="node,hub", help="run.py server names and/or hub")
    ap.add_argument("--modes", default="load,idle")
    ap.add_argument(
        "--topologies", default="single", help="single and/or redis (2 nodes: pubs A, watchers B)"
    )
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rooms", type=int, default=50)
    ap.add_argument("--watchers", type=int, default=20)
    ap.add_argument("--rate", type=float, default=10, help="fixed-phase msgs/s per publisher")
    ap.add_argument("--fixed-secs", type=float, default=5)
    ap.add_argument("--ramp", default="10,15,20,30,40,55,75,100,130,170,220,300")
    ap.add_argument("--step-secs", type=float, default=3)
    ap.add_argument("--idle-clients", type=int, default=5000)
    ap.add_argument("--max-secs", type=int, default=150, help="hard limit per generator run")
    ap.add_argument("--port", type=int, default=3800)
    ap.add_argument("--share-viewers", action="store_true", help="watchers: share-link viewers")
    ap.add_argument("--pg-admin-url", default=DEFAULT_ADMIN_URL)
    ap.add_argument("--keep-db", action="store_true")
    ap.add_argument("--no-patch", action="store_true", help="do not add gen.js options")
    ap.add_argument(
        "--hub-env", action="append", default=[], help="KEY=VALUE for the hub (repeatable)"
    )
    ap.add_argument(
        "--hub-base",
        type=Path,
        help="a checkout of another commit (git worktree): adds server 'hub-base', that "
        "commit's `python -m api serve` on the same interpreter and database, to compare "
        "a change against the commit before it in one alternating run",
    )
    args = ap.parse_args()
    bench = args.bench.resolve()
    patch_gen(bench, not args.no_patch)
    harness = load_harness(bench)
    servers = args.servers.split(",")
    if args.hub_base is not None and "hub-base" not in servers:
        servers.append("hub-base")
    for name in servers:
        if name not in ("hub", "hub-base") and name not in harness.SERVERS:
            sys.exit(f"unknown server {name}; harness has {', '.join(harness.SERVERS)}")
    modes = args.modes.split(",")
    outdir = bench / "results"
    outdir.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    fixture = outdir / f"e2e-{stamp}-fixture.json"
    data_dir = outdir / f"e2e-{stamp}-var"
    db = f"bench_e2e_{secrets.token_hex(4)}"
    database_url = _db_url(args.pg_admin_url, db)
    env = hub_env(database_url, data_dir)
    for kv in args.hub_env:
        key, _, value = kv.partition("=")
        env[key] = value

    # Enough rooms for the idle clients as well (each a distinct user or link).
    seed_rooms = args.rooms
    if "idle" in modes:
        seed_rooms = max(seed_rooms, math.ceil(args.idle_clients / args.watchers))
    _psql(args.pg_admin_url, f'CREATE DATABASE "{db}"')
    t_start = time.time()
    try:
        benchseed(env, seed_rooms, args.watchers, args.share_viewers, fixture)

        def hub_builder(port: int, redis: Any, ch: Any) -> tuple[list[str], dict[str, str]]:
            node_env = dict(env, REDIS_URL=redis) if redis else env
            return [PYTHON, "-m", "api", "serve", "--port", str(port), "--no-migrate"], node_env

        harness.SERVERS["hub"] = ("tradeshub hub (python -m api serve)", hub_builder, True)
        if args.hub_base is not None:
            base = str(args.hub_base.resolve())

            def base_builder(port: int, redis: Any, ch: Any) -> tuple[list[str], dict[str, str]]:
                # The other commit's packages come first on the path (its working directory
                # and PYTHONPATH); the interpreter, its libraries and the database are shared.
                cmd, node_env = hub_builder(port, redis, ch)
                return ["env", "-C", base, *cmd], dict(node_env, PYTHONPATH=base)

            harness.SERVERS["hub-base"] = (f"tradeshub at {base}", base_builder, True)
        topologies = args.topologies.split(",")
        for topo in topologies:
            if topo not in ("single", "redis"):
                sys.exit(f"unknown topology {topo}; single or redis")
        if "redis" in topologies:
            no_redis = [n for n in servers if not harness.SERVERS[n][2]]
            if no_redis:
                skipped = ", ".join(no_redis)
                print(f"[e2e] no redis mode (skipped there): {skipped}", file=sys.stderr)
        common = ["--pub-speed-key", "speed_mps", "--pub-track", "time"]
        hub_protocol = [
            "--path", "/socket.io",
            "--join-event", "job:watch",
            "--join-payload", '{"job_id":"{room}"}',
            "--join-ack", "true",
            "--pub-join", "false",
            "--pub-event", "location:update",
            "--sub-event", "job:location",
            "--fixture", str(fixture),
        ]  # fmt: skip
        per_server = {"hub": [*common, *hub_protocol], "hub-base": [*common, *hub_protocol]}
        hargs = argparse.Namespace(
            outdir=str(outdir),
            server_core=0,
            gen_core=1,
            client="lite",
            rooms=args.rooms,
            watchers=args.watchers,
            rate=args.rate,
            fixed_secs=args.fixed_secs,
            ramp=args.ramp,
            step_secs=args.step_secs,
            idle_clients=args.idle_clients,
            max_secs=args.max_secs,
            servers=servers,
            topologies=topologies,
            baseline="node" if "node" in servers else servers[0],
        )

        original_run_gen = harness.run_gen
        current: dict[str, Any] = {}

        def run_gen(a: Any, gen_args: list[str], timeout: float) -> dict[str, Any]:
            d: dict[str, Any] = original_run_gen(a, gen_args, timeout)
            if current.get("name") in ("hub", "hub-base"):
                ports = [current["port"]] + ([current["port"] + 1] if current["redis"] else [])
                d["hub_metrics"] = [scrape_metrics(p) for p in ports]
                print(f"    [hub] {d['hub_metrics']}", file=sys.stderr, flush=True)
            return d

        harness.run_gen = run_gen  # type: ignore[attr-defined]
        results: list[tuple[str, str, str, dict[str, Any]]] = []
        port = args.port
        plan = [("load", topo) for topo in topologies if "load" in modes]
        plan += [("idle", "single")] if "idle" in modes else []
        for mode, topo in plan:
            for rep in range(args.reps):
                for name in servers:  # A B C ... A B C ...
                    if topo == "redis" and not harness.SERVERS[name][2]:
                        continue
                    print(
                        f"[e2e] rep {rep + 1}/{args.reps} {mode} {topo} {name} (port {port})",
                        file=sys.stderr,
                        flush=True,
                    )
                    current.update(name=name, port=port, redis=topo == "redis")
                    passthru = per_server.get(name, common)
                    d = harness.trial(hargs, name, topo, mode, port, passthru)
                    if not d.get("ok"):
                        print(f"[e2e]   FAILED: {str(d.get('error'))[:500]}", file=sys.stderr)
                    results.append((topo, name, mode, d))
                    port += 2
        raw = outdir / f"e2e-{stamp}.json"
        raw.write_text(json.dumps({"argv": sys.argv, "results": results}))
        txt = harness.report(hargs, results) + "\n" + targets(results, servers)
        hdr = (
            f"# e2e run {stamp} ({time.time() - t_start:.0f}s): {' '.join(sys.argv)}\n"
            f"servers pinned to core 0, gen.js (lite) on core 1; watchers of the hub: "
            f"{'customer + share-link viewers' if args.share_viewers else 'customer + admins'}"
        )
        print(hdr)
        print(txt)
        print(f"\nraw results: {raw}")
        (outdir / f"e2e-{stamp}.md").write_text(hdr + "\n" + txt + "\n")
    finally:
        if not args.keep_db:
            _psql(args.pg_admin_url, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        else:
            print(f"kept database {database_url}", file=sys.stderr)
    return 0


def _median(xs: list[float]) -> float | None:
    import statistics

    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def targets(results: list[tuple[str, str, str, dict[str, Any]]], servers: list[str]) -> str:
    """The issues' targets, the hub vs the anchors of this run, plus the hub's noise counters.

    single (issue 5): saturation >= Node, p99 <= 5 ms at the fixed rate, idle RSS <= Node.
    redis (issue 6): saturation >= Node + redis-adapter and >= 1.5x python-socketio's
    AsyncRedisManager (``py-fast``).
    """

    def load(topo: str, name: str, path: tuple[str, ...]) -> float | None:
        vals = []
        for t, n, m, d in results:
            if t == topo and n == name and m == "load" and d.get("ok"):
                v: Any = d
                for p in path:
                    v = v.get(p) if isinstance(v, dict) else None
                vals.append(v)
        return _median(vals)

    def idle(name: str) -> float | None:
        return _median(
            [
                d["phases"]["idle"]["rss_per_1k_mb"]
                for _, n, m, d in results
                if n == name and m == "idle" and d.get("ok")
            ]
        )

    def ratio_line(label: str, hub: float | None, anchor: float | None, need: float) -> str:
        if hub is None or not anchor:
            return f"- {label}: not measured in this run"
        verdict = "met" if hub / anchor >= need else "NOT met"
        return f"- {label} = {hub:,.0f}/{anchor:,.0f} = {hub / anchor:.2f} (>= {need}: {verdict})"

    sat = ("phases", "ramp", "saturation_delivered_per_s")
    lines = ["\n### targets (the hub vs the anchors, this run)\n"]
    if "hub" not in servers:
        return "\n".join([*lines, "- the hub was not in this run"])
    topos = {t for t, _, m, _ in results if m == "load"}
    if "single" in topos and "node" in servers:
        lines.append(
            ratio_line("single: saturation hub/node", load("single", "hub", sat),
                       load("single", "node", sat), 1.0)
        )  # fmt: skip
        p99 = load("single", "hub", ("phases", "fixed", "latency_ms", "p99"))
        if p99 is not None:
            verdict = "met" if p99 <= 5 else "NOT met"
            lines.append(f"- single: hub p99 at the fixed rate = {p99:.2f} ms (<= 5 ms: {verdict})")
    if "redis" in topos:
        hub = load("redis", "hub", sat)
        if "node" in servers:
            lines.append(
                ratio_line("redis: saturation hub/node+redis-adapter", hub,
                           load("redis", "node", sat), 1.0)
            )  # fmt: skip
        if "py-fast" in servers:
            lines.append(
                ratio_line("redis: saturation hub/AsyncRedisManager (py-fast)", hub,
                           load("redis", "py-fast", sat), 1.5)
            )  # fmt: skip
    hi, ni = idle("hub"), idle("node")
    if hi is not None and ni:
        verdict = "met" if hi <= ni else "NOT met"
        lines.append(f"- RSS per 1k idle hub/node = {hi:.2f}/{ni:.2f} MB (<= node: {verdict})")
    for topo in sorted(topos):
        noise = [
            d.get("hub_metrics")
            for t, n, m, d in results
            if t == topo and n == "hub" and m == "load"
        ]
        if noise:
            lines.append(
                f"- {topo}: hub /metrics after each load trial, per node "
                f"(points by outcome, deliveries): {noise}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
