"""Benchmark of contractor matching: geo.index.ContractorIndex against a naive scan.

Usage::

    python loadtests/bench_matching.py [--contractors 100000] [--jobs 10000]
        [--naive-jobs 300] [--seed 1] [--small]

Builds contractors over a 120 km x 120 km box around Chicago: about 70 % circles
(radius 2-40 km) and 30 % star-shaped convex-ish polygons (5-30 km across, 6-16
vertices), 1-3 of 12 trades each, 70 % available. Then matches random jobs (random point
in the box, random trade) with the index, and the first ``--naive-jobs`` of them also with
a naive scan over every contractor (availability, trade, ``area.covers``), and checks
that both give the same contractors. Prints a table; exits with status 1 on any
disagreement. ``--small`` (3,000 contractors, 300 jobs, all compared) runs in seconds
for CI.

Latencies are wall-clock with the cyclic GC off (as timeit does); the on-CPU row uses the
thread's CPU clock, which leaves out time the process was descheduled on a busy machine.
Memory is measured with tracemalloc, so it counts Python allocations made by the index:
for circles that is everything; for polygons it excludes the GEOS geometries, which the
index shares with the ServiceArea objects it is given.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import statistics
import sys
import time
import timeit
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make the repository root importable so that `geo` resolves.
    _ROOT = str(Path(__file__).resolve().parents[1])
    if _ROOT not in sys.path:
        sys.path.insert(0, _ROOT)

from geo.areas import ServiceArea, parse_service_area
from geo.distance import fast_distance_m, geodesic_m
from geo.eta import EtaEstimator
from geo.index import ContractorIndex
from geo.matching import Candidate, candidate_position, rank_contractors
from geo.types import Position

CENTER_LAT = 41.8781
CENTER_LNG = -87.6298
HALF_SIZE_KM = 60.0
KM_PER_DEG_LAT = 111.13
TRADES = (
    "plumbing",
    "electrical",
    "hvac",
    "roofing",
    "carpentry",
    "painting",
    "landscaping",
    "cleaning",
    "locksmith",
    "appliance_repair",
    "pest_control",
    "handyman",
)


Job = tuple[float, float, str]
"""A job to match: lat, lng, trade."""


@dataclass(frozen=True, slots=True)
class Contractor:
    """One generated contractor, as the naive scan sees it."""

    id: str
    trades: frozenset[str]
    area: ServiceArea
    available: bool
    rating: float
    verified: bool


@dataclass(frozen=True, slots=True)
class Config:
    """Sizes of one run."""

    contractors: int
    jobs: int
    naive_jobs: int
    seed: int


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _random_point(rng: random.Random) -> tuple[float, float]:
    km_per_deg_lng = KM_PER_DEG_LAT * math.cos(math.radians(CENTER_LAT))
    lat = CENTER_LAT + rng.uniform(-HALF_SIZE_KM, HALF_SIZE_KM) / KM_PER_DEG_LAT
    lng = CENTER_LNG + rng.uniform(-HALF_SIZE_KM, HALF_SIZE_KM) / km_per_deg_lng
    return lat, lng


def _random_area_json(rng: random.Random) -> dict[str, object]:
    lat, lng = _random_point(rng)
    if rng.random() < 0.7:
        return {"center": {"lat": lat, "lng": lng}, "radius_km": rng.uniform(2.0, 40.0)}
    # Star-shaped around the centre, angles increasing with gaps under 180 degrees, so
    # always a simple polygon.
    radius_km = rng.uniform(2.5, 15.0)
    count = rng.randint(6, 16)
    angles = [2.0 * math.pi * (i + rng.uniform(0.0, 0.8)) / count for i in range(count)]
    km_per_deg_lng = KM_PER_DEG_LAT * math.cos(math.radians(lat))
    ring = []
    for angle in angles:
        r = radius_km * rng.uniform(0.75, 1.0)
        ring.append(
            [lng + r * math.cos(angle) / km_per_deg_lng, lat + r * math.sin(angle) / KM_PER_DEG_LAT]
        )
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def make_contractors(count: int, rng: random.Random) -> list[Contractor]:
    """Generate ``count`` contractors with parsed (validated) service areas."""
    out = []
    for i in range(count):
        out.append(
            Contractor(
                id=f"c{i:07d}",
                trades=frozenset(rng.sample(TRADES, rng.randint(1, 3))),
                area=parse_service_area(_random_area_json(rng)),
                available=rng.random() < 0.7,
                rating=round(rng.uniform(2.5, 5.0), 1),
                verified=rng.random() < 0.4,
            )
        )
        if (i + 1) % 20_000 == 0:
            _progress(f"  generated {i + 1:,} contractors")
    return out


def build_index(
    contractors: Sequence[Contractor], *, all_available: bool = False
) -> ContractorIndex:
    """Upsert every contractor into a fresh index."""
    index = ContractorIndex()
    for c in contractors:
        index.upsert(c.id, c.trades, c.area, all_available or c.available)
    return index


def traced_bytes(build: Callable[[], ContractorIndex]) -> tuple[int, ContractorIndex]:
    """Return the Python memory still held after ``build()``, and what it built."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    index = build()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before, index


def naive_query(contractors: Sequence[Contractor], lat: float, lng: float, trade: str) -> list[str]:
    """The reference answer: scan every contractor."""
    return [
        c.id for c in contractors if c.available and trade in c.trades and c.area.covers(lat, lng)
    ]


def percentiles_ms(samples_ns: Sequence[int]) -> tuple[float, float, float]:
    """Return p50, p99 and max of nanosecond samples, in milliseconds."""
    ordered = sorted(samples_ns)
    p99 = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]
    return statistics.median(ordered) / 1e6, p99 / 1e6, ordered[-1] / 1e6


@dataclass(slots=True)
class Results:
    """What one run measured; :func:`report` prints it."""

    rows: list[tuple[str, str]]
    disagreements: int


def _time_index(
    index: ContractorIndex, jobs: Sequence[Job]
) -> tuple[list[int], list[int], list[list[str]]]:
    """Return wall-clock and on-CPU nanoseconds per query, and the answers."""
    wall: list[int] = []
    cpu: list[int] = []
    answers: list[list[str]] = []
    for lat, lng, trade in jobs:
        c = time.thread_time_ns()
        t = time.perf_counter_ns()
        found = index.query(lat, lng, trade)
        wall.append(time.perf_counter_ns() - t)
        cpu.append(time.thread_time_ns() - c)
        answers.append(found)
    return wall, cpu, answers


def _time_naive(
    contractors: Sequence[Contractor], jobs: Sequence[Job], answers: Sequence[list[str]]
) -> tuple[list[int], int]:
    samples: list[int] = []
    disagreements = 0
    for i, (lat, lng, trade) in enumerate(jobs):
        t = time.perf_counter_ns()
        expected = naive_query(contractors, lat, lng, trade)
        samples.append(time.perf_counter_ns() - t)
        if sorted(expected) != sorted(answers[i]):
            disagreements += 1
            _progress(f"  DISAGREEMENT on job {i}: {lat}, {lng}, {trade}")
        if (i + 1) % 100 == 0:
            _progress(f"  {i + 1:,} naive jobs done")
    return samples, disagreements


def _time_ranking(
    contractors: Sequence[Contractor], jobs: Sequence[Job], answers: Sequence[list[str]]
) -> list[int]:
    by_id = {c.id: c for c in contractors}
    samples: list[int] = []
    for (lat, lng, _), found in zip(jobs, answers, strict=False):
        chosen = [by_id[cid] for cid in found]
        candidates = [
            Candidate(c.id, candidate_position(None, None, c.area), c.rating, c.verified)
            for c in chosen
        ]
        t = time.perf_counter_ns()
        rank_contractors(Position(lat, lng), candidates, 20)
        samples.append(time.perf_counter_ns() - t)
    return samples


def _time_updates(index: ContractorIndex, sample: Sequence[Contractor]) -> list[int]:
    samples: list[int] = []
    for c in sample:
        t = time.perf_counter_ns()
        index.upsert(c.id, c.trades, c.area, not c.available)
        index.upsert(c.id, c.trades, c.area, c.available)
        samples.append((time.perf_counter_ns() - t) // 2)
    return samples


def _per_call_us(call: Callable[[], object], number: int = 20_000) -> float:
    return min(timeit.repeat(call, number=number, repeat=5)) / number * 1e6


def _hot_path_rows() -> list[tuple[str, str]]:
    eta = EtaEstimator()
    clock = [0.0]

    def eta_step() -> None:
        clock[0] += 1000.0
        eta.update(5_000.0 - (clock[0] / 1000.0) % 4_000.0, 9.0, clock[0])

    fast = _per_call_us(lambda: fast_distance_m(41.8781, -87.6298, 41.9742, -87.9073))
    exact = _per_call_us(
        lambda: geodesic_m(Position(41.8781, -87.6298), Position(41.9742, -87.9073)), 2_000
    )
    return [
        ("fast_distance_m per call", f"{fast:.2f} µs"),
        ("geodesic_m per call", f"{exact:.1f} µs"),
        ("EtaEstimator.update per call", f"{_per_call_us(eta_step):.2f} µs"),
    ]


def _ms(samples_ns: Sequence[int]) -> str:
    if not samples_ns:
        return "n/a"
    p50, p99, worst = percentiles_ms(samples_ns)
    return f"{p50:.3f} / {p99:.3f} / {worst:.3f} ms"


def run(config: Config) -> Results:
    """Run the benchmark and return what it measured."""
    rng = random.Random(config.seed)
    _progress(f"generating {config.contractors:,} contractors (parsing every service area)")
    t0 = time.perf_counter()
    contractors = make_contractors(config.contractors, rng)
    parse_s = time.perf_counter() - t0
    circles = [c for c in contractors if c.area.kind == "circle"]

    _progress("building the index")
    t0 = time.perf_counter()
    index = build_index(contractors)
    build_s = time.perf_counter() - t0
    _progress("measuring index memory (tracemalloc)")
    mem_all, _ = traced_bytes(lambda: build_index(contractors))
    mem_circles, _ = traced_bytes(lambda: build_index(circles, all_available=True))

    jobs: list[Job] = [(*_random_point(rng), rng.choice(TRADES)) for _ in range(config.jobs)]
    # The cyclic GC is off while timing, as timeit does: otherwise a full collection of
    # the setup objects and the stored answers (tens of ms, the benchmark's own garbage)
    # lands in whichever query happens to trigger it and dominates the max.
    gc.collect()
    gc.disable()
    try:
        index.query(*jobs[0])  # warm-up: first-call costs are not a query's
        _progress(f"matching {config.jobs:,} jobs with the index")
        index_ns, index_cpu_ns, answers = _time_index(index, jobs)
        naive_count = min(config.naive_jobs, config.jobs)
        _progress(f"matching the first {naive_count:,} jobs with the naive scan")
        naive_ns, disagreements = _time_naive(contractors, jobs[:naive_count], answers)
        _progress("ranking and updates")
        rank_ns = _time_ranking(contractors, jobs[:1000], answers)
        update_ns = _time_updates(index, rng.sample(contractors, min(1000, len(contractors))))
        hot_path = _hot_path_rows()
    finally:
        gc.enable()

    matches = [len(a) for a in answers]
    i50, i99, _ = percentiles_ms(index_ns)
    n50, n99, _ = percentiles_ms(naive_ns) if naive_ns else (math.nan,) * 3
    n_all, n_circles = len(contractors), len(circles)
    rows = [
        ("contractors (circles / polygons)", f"{n_all:,} ({n_circles:,} / {n_all - n_circles:,})"),
        ("area parse + validation", f"{parse_s:.2f} s"),
        ("index build", f"{build_s:.2f} s ({build_s / n_all * 1e6:.1f} µs/contractor)"),
        (
            "index memory, all (tracemalloc)",
            f"{mem_all / 2**20:.1f} MiB, {mem_all / n_all:.0f} B/contractor",
        ),
        (
            "index memory, circles only, all available",
            f"{mem_circles / 2**20:.1f} MiB, {mem_circles / max(n_circles, 1):.0f} B/contractor",
        ),
        ("matches per job (mean / max)", f"{statistics.fmean(matches):.0f} / {max(matches)}"),
        (f"index query, {len(index_ns):,} jobs: p50 / p99 / max", _ms(index_ns)),
        ("index query, on-CPU time: p50 / p99 / max", _ms(index_cpu_ns)),
        (f"naive scan, {len(naive_ns):,} jobs: p50 / p99 / max", _ms(naive_ns)),
        ("speedup (naive p50 / index p50)", f"{n50 / i50:.0f}x"),
        ("speedup (naive p99 / index p99)", f"{n99 / i99:.0f}x"),
        (f"rank top 20, {len(rank_ns):,} jobs: p50 / p99 / max", _ms(rank_ns)),
        (f"upsert (availability flip), {len(update_ns):,}: p50 / p99 / max", _ms(update_ns)),
        *hot_path,
        (f"index vs naive disagreements ({naive_count:,} jobs)", str(disagreements)),
    ]
    return Results(rows, disagreements)


def report(results: Results) -> None:
    """Print the results as a two-column table."""
    width = max(len(name) for name, _ in results.rows)
    print(f"{'metric':<{width}}  value")
    print(f"{'-' * width}  {'-' * 40}")
    for name, value in results.rows:
        print(f"{name:<{width}}  {value}")


def parse_args(argv: Sequence[str] | None) -> Config:
    """Parse the command line into a :class:`Config`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--contractors", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--naive-jobs", type=int, default=300, help="jobs also matched naively")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--small", action="store_true", help="3,000 contractors, 300 jobs")
    args = parser.parse_args(argv)
    if args.small:
        return Config(contractors=3_000, jobs=300, naive_jobs=300, seed=args.seed)
    return Config(args.contractors, args.jobs, args.naive_jobs, args.seed)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (1 when the index and the scan disagree)."""
    results = run(parse_args(argv))
    report(results)
    return 1 if results.disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
