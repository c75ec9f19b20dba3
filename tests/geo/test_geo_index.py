"""Tests for geo.index: exact agreement with a naive scan, updates, memory."""

from __future__ import annotations

import gc
import math
import random
import tracemalloc
from dataclasses import dataclass

import pytest
from geographiclib.geodesic import Geodesic  # type: ignore[import-untyped,unused-ignore]
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.areas import ServiceArea, parse_service_area
from geo.index import ContractorIndex
from geo.types import Position

TRADES = ("plumbing", "electrical", "hvac", "roofing")


@dataclass
class Row:
    trades: frozenset[str]
    area: ServiceArea
    available: bool


def _circle(lat: float, lng: float, radius_km: float) -> ServiceArea:
    return parse_service_area({"center": {"lat": lat, "lng": lng}, "radius_km": radius_km})


def _random_area(rng: random.Random, lat0: float, lng0: float, spread: float) -> ServiceArea:
    lat = max(-90.0, min(90.0, lat0 + rng.uniform(-spread, spread)))
    lng = (lng0 + rng.uniform(-spread, spread) + 180.0) % 360.0 - 180.0
    if rng.random() < 0.6:
        return _circle(lat, lng, rng.uniform(0.5, 60.0))
    lat = max(-89.5, min(89.5, lat))  # keep the polygon clear of the pole
    size = rng.uniform(0.02, 0.4)
    count = rng.randint(3, 9)
    ring = []
    for i in range(count):
        angle = 2 * math.pi * (i + rng.uniform(0, 0.8)) / count
        r = size * rng.uniform(0.6, 1.0)
        ring.append(
            [
                (lng + r * math.cos(angle) + 180.0) % 360.0 - 180.0,
                lat + r * math.sin(angle),
            ]
        )
    ring.append(ring[0])
    return parse_service_area({"type": "Polygon", "coordinates": [ring]})


def _naive(rows: dict[str, Row], lat: float, lng: float, trade: str) -> list[str]:
    return sorted(
        cid
        for cid, row in rows.items()
        if row.available and trade in row.trades and row.area.covers(lat, lng)
    )


def _random_row(rng: random.Random, lat0: float, lng0: float, spread: float) -> Row:
    return Row(
        frozenset(rng.sample(TRADES, rng.randint(1, 3))),
        _random_area(rng, lat0, lng0, spread),
        rng.random() < 0.8,
    )


def test_basic_operations() -> None:
    index = ContractorIndex()
    assert len(index) == 0 and index.query(41.88, -87.63, "plumbing") == []
    index.upsert("a", {"plumbing"}, _circle(41.88, -87.63, 10), True)
    index.upsert("b", frozenset({"plumbing", "hvac"}), _circle(41.88, -87.50, 5), True)
    index.upsert("c", {"plumbing"}, _circle(41.88, -87.63, 10), False)
    assert len(index) == 3
    assert index.query(41.88, -87.63, "plumbing") == ["a"]
    assert index.query(41.88, -87.50, "hvac") == ["b"]
    assert sorted(index.query(41.88, -87.55, "plumbing")) == ["a", "b"]
    assert index.query(41.88, -87.63, "roofing") == []
    index.upsert("a", {"plumbing"}, _circle(10.0, 10.0, 10), True)  # moved away
    assert index.query(41.88, -87.63, "plumbing") == []
    assert index.query(10.0, 10.0, "plumbing") == ["a"]
    index.upsert("c", {"plumbing"}, _circle(41.88, -87.63, 10), True)  # now available
    assert index.query(41.88, -87.63, "plumbing") == ["c"]
    index.remove("c")
    index.remove("never-seen")
    assert index.query(41.88, -87.63, "plumbing") == [] and len(index) == 2


def test_no_trades_means_never_matched() -> None:
    index = ContractorIndex()
    index.upsert("a", set(), _circle(0.0, 0.0, 10), True)
    assert len(index) == 1 and index.query(0.0, 0.0, "plumbing") == []


def test_invalid_cells_per_axis() -> None:
    with pytest.raises(ValueError, match="max_cells_per_axis"):
        ContractorIndex(max_cells_per_axis=1)


def test_points_exactly_on_circle_edges() -> None:
    # Points at exactly the radius are in the thin band where the geodesic decides.
    index = ContractorIndex()
    rows: dict[str, Row] = {}
    rng = random.Random(5)
    for i in range(40):
        area = _circle(41.0 + rng.uniform(-0.1, 0.1), -87.0 + rng.uniform(-0.1, 0.1), 20.0)
        rows[f"c{i}"] = Row(frozenset({"plumbing"}), area, True)
        index.upsert(f"c{i}", {"plumbing"}, area, True)
    for row in list(rows.values())[:10]:
        assert row.area.center is not None and row.area.radius_m is not None
        for azimuth in (0.0, 90.0, 180.0, 270.0):
            point = Geodesic.WGS84.Direct(
                row.area.center.lat, row.area.center.lng, azimuth, row.area.radius_m
            )
            lat, lng = float(point["lat2"]), float(point["lon2"])
            assert sorted(index.query(lat, lng, "plumbing")) == _naive(rows, lat, lng, "plumbing")


@pytest.mark.parametrize(
    ("lat0", "lng0", "spread"),
    [
        (41.88, -87.63, 0.6),  # a metro area, many overlaps
        (0.0, 180.0, 1.0),  # straddling the antimeridian
        (89.0, 0.0, 1.0),  # near the North Pole
        (-60.0, 0.0, 40.0),  # sparse, large extent
    ],
)
def test_matches_naive_scan_with_updates(lat0: float, lng0: float, spread: float) -> None:
    rng = random.Random(hash((lat0, lng0)) & 0xFFFF)
    index = ContractorIndex()
    rows: dict[str, Row] = {}
    for i in range(400):
        row = _random_row(rng, lat0, lng0, spread)
        rows[f"c{i}"] = row
        index.upsert(f"c{i}", row.trades, row.area, row.available)
    for step in range(300):
        action = rng.random()
        cid = f"c{rng.randrange(500)}"
        if action < 0.3:
            row = _random_row(rng, lat0, lng0, spread)
            rows[cid] = row
            index.upsert(cid, row.trades, row.area, row.available)
        elif action < 0.4:
            rows.pop(cid, None)
            index.remove(cid)
        else:
            lat = max(-90.0, min(90.0, lat0 + rng.uniform(-spread, spread)))
            lng = (lng0 + rng.uniform(-spread, spread) + 180.0) % 360.0 - 180.0
            trade = rng.choice(TRADES)
            found = index.query(lat, lng, trade)
            assert len(found) == len(set(found))
            assert sorted(found) == _naive(rows, lat, lng, trade), step
        assert len(index) == len(rows)


@settings(deadline=None, database=None, max_examples=25)
@given(
    seed=st.integers(0, 2**32 - 1),
    cells=st.integers(2, 10),
    origin=st.sampled_from([(41.88, -87.63), (0.0, 179.5), (-89.0, 45.0), (51.5, 0.0)]),
)
def test_random_operations_match_naive(seed: int, cells: int, origin: tuple[float, float]) -> None:
    rng = random.Random(seed)
    index = ContractorIndex(max_cells_per_axis=cells)
    rows: dict[str, Row] = {}
    for _ in range(150):
        cid = f"c{rng.randrange(60)}"
        if rng.random() < 0.15:
            rows.pop(cid, None)
            index.remove(cid)
        else:
            row = _random_row(rng, *origin, 0.8)
            rows[cid] = row
            index.upsert(cid, row.trades, row.area, row.available)
    for _ in range(40):
        lat = max(-90.0, min(90.0, origin[0] + rng.uniform(-0.8, 0.8)))
        lng = (origin[1] + rng.uniform(-0.8, 0.8) + 180.0) % 360.0 - 180.0
        trade = rng.choice(TRADES)
        assert sorted(index.query(lat, lng, trade)) == _naive(rows, lat, lng, trade)


def test_large_buckets_use_the_vectorised_path() -> None:
    rng = random.Random(11)
    index = ContractorIndex()
    rows: dict[str, Row] = {}
    for i in range(600):
        area = _circle(41.88 + rng.uniform(-0.2, 0.2), -87.63 + rng.uniform(-0.2, 0.2), 30)
        rows[f"c{i}"] = Row(frozenset({"plumbing"}), area, True)
        index.upsert(f"c{i}", {"plumbing"}, area, True)
    for _ in range(50):
        lat, lng = 41.88 + rng.uniform(-0.5, 0.5), -87.63 + rng.uniform(-0.5, 0.5)
        assert sorted(index.query(lat, lng, "plumbing")) == _naive(rows, lat, lng, "plumbing")
    for i in range(0, 600, 2):  # removal from long buckets (the numpy search)
        index.remove(f"c{i}")
        del rows[f"c{i}"]
    for _ in range(50):
        lat, lng = 41.88 + rng.uniform(-0.5, 0.5), -87.63 + rng.uniform(-0.5, 0.5)
        assert sorted(index.query(lat, lng, "plumbing")) == _naive(rows, lat, lng, "plumbing")


def test_slots_are_reused() -> None:
    index = ContractorIndex()
    for round_ in range(3):
        for i in range(100):
            index.upsert(f"c{i}", {"plumbing"}, _circle(0.0, 0.0, 5 + round_), True)
        for i in range(100):
            index.remove(f"c{i}")
    assert len(index) == 0 and index.query(0.0, 0.0, "plumbing") == []
    assert len(index._c_ids) == 100


def test_circle_memory_under_1_kib_per_contractor() -> None:
    rng = random.Random(3)
    areas = [
        ServiceArea.circle(
            Position(41.88 + rng.uniform(-0.54, 0.54), -87.63 + rng.uniform(-0.72, 0.72)),
            rng.uniform(2_000, 40_000),
        )
        for _ in range(10_000)
    ]
    trade_sets = [frozenset(rng.sample(TRADES, rng.randint(1, 3))) for _ in range(10_000)]
    ids = [f"contractor-{i}" for i in range(10_000)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        index = ContractorIndex()
        for cid, trades, area in zip(ids, trade_sets, areas, strict=True):
            index.upsert(cid, trades, area, True)
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(index) == 10_000
    print(f"circle index memory: {used / 10_000:.0f} B/contractor")
    assert used / 10_000 < 1024
