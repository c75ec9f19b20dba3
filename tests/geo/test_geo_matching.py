"""Tests for geo.matching: score, order, and exactness of the pruned ranking."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.areas import parse_service_area
from geo.distance import geodesic_m
from geo.eta import estimate_eta_s
from geo.matching import (
    DISTANCE_WEIGHT,
    RATING_WEIGHT,
    Candidate,
    Match,
    candidate_position,
    rank_contractors,
    score,
)
from geo.types import Position

JOB = Position(41.8781, -87.6298)


def _brute_force(job: Position, candidates: list[Candidate], limit: int) -> list[Match]:
    keyed = sorted(
        (
            not c.verified,
            -score(geodesic_m(c.position, job), c.rating),
            geodesic_m(c.position, job),
            c.id,
        )
        for c in candidates
    )
    return [
        Match(contractor_id=cid, distance_m=d, eta_s=estimate_eta_s(d), score=-s)
        for _, s, d, cid in keyed[:limit]
    ]


def _random_candidates(rng: random.Random, count: int, spread: float) -> list[Candidate]:
    return [
        Candidate(
            id=f"c{i}",
            position=Position(
                JOB.lat + rng.uniform(-spread, spread), JOB.lng + rng.uniform(-spread, spread)
            ),
            rating=rng.choice([0.0, 3.5, 4.0, 4.5, 5.0, rng.uniform(0, 5)]),
            verified=rng.random() < 0.4,
        )
        for i in range(count)
    ]


def test_score_formula() -> None:
    assert score(0.0, 5.0) == pytest.approx(1.0)
    assert score(0.0, 0.0) == pytest.approx(DISTANCE_WEIGHT)
    assert score(10_000.0, 0.0) == pytest.approx(DISTANCE_WEIGHT / 2)
    assert score(1e9, 5.0) == pytest.approx(RATING_WEIGHT, abs=1e-4)
    assert score(0.0, 7.0) == score(0.0, 5.0)
    assert score(0.0, -1.0) == score(0.0, 0.0) == score(0.0, math.nan)


def test_verified_contractors_come_first() -> None:
    near_unverified = Candidate("near", Position(41.879, -87.63), 5.0, False)
    far_verified = Candidate("far", Position(42.2, -87.9), 1.0, True)
    ranked = rank_contractors(JOB, [near_unverified, far_verified], 10)
    assert [m.contractor_id for m in ranked] == ["far", "near"]
    assert ranked[1].score > ranked[0].score


def test_distance_and_rating_trade_off() -> None:
    close_ok = Candidate("close", Position(41.8781, -87.6298 + 0.01), 4.0, True)
    far_great = Candidate("far", Position(41.8781, -87.6298 + 0.3), 5.0, True)
    assert [m.contractor_id for m in rank_contractors(JOB, [far_great, close_ok], 2)] == [
        "close",
        "far",
    ]


def test_reported_values() -> None:
    candidate = Candidate("a", Position(41.95, -87.7), 4.2, True)
    (match,) = rank_contractors(JOB, [candidate], 5)
    exact = geodesic_m(candidate.position, JOB)
    assert match.distance_m == exact
    assert match.eta_s == estimate_eta_s(exact)
    assert match.score == pytest.approx(score(exact, 4.2))


def test_limits_and_empty_input() -> None:
    candidates = _random_candidates(random.Random(1), 5, 0.2)
    assert rank_contractors(JOB, [], 5) == []
    assert rank_contractors(JOB, candidates, 0) == []
    assert rank_contractors(JOB, candidates, -3) == []
    assert len(rank_contractors(JOB, candidates, 100)) == 5


def test_ties_are_deterministic() -> None:
    same = [Candidate(f"c{i}", Position(41.9, -87.6), 4.0, True) for i in (3, 1, 2)]
    assert [m.contractor_id for m in rank_contractors(JOB, same, 3)] == ["c1", "c2", "c3"]


@pytest.mark.parametrize(("count", "limit", "spread"), [(200, 10, 0.5), (1_000, 20, 2.0)])
def test_pruned_ranking_equals_brute_force(count: int, limit: int, spread: float) -> None:
    candidates = _random_candidates(random.Random(count), count, spread)
    assert rank_contractors(JOB, candidates, limit) == _brute_force(JOB, candidates, limit)


@settings(deadline=None, database=None, max_examples=40)
@given(
    seed=st.integers(0, 2**32 - 1),
    count=st.integers(1, 120),
    limit=st.integers(1, 30),
    spread=st.sampled_from([0.001, 0.05, 1.0, 20.0]),
)
def test_ranking_property(seed: int, count: int, limit: int, spread: float) -> None:
    candidates = _random_candidates(random.Random(seed), count, spread)
    # Duplicated positions and ratings produce exact score ties.
    candidates += [
        Candidate(f"dup{c.id}", c.position, c.rating, c.verified) for c in candidates[:5]
    ]
    ranked = rank_contractors(JOB, candidates, limit)
    assert ranked == _brute_force(JOB, candidates, limit)


def test_candidate_position_preference() -> None:
    area = parse_service_area({"center": {"lat": 1.0, "lng": 2.0}, "radius_km": 5})
    live, base = Position(3.0, 4.0), Position(5.0, 6.0)
    assert candidate_position(live, base, area) == live
    assert candidate_position(None, base, area) == base
    assert candidate_position(None, None, area) == Position(1.0, 2.0)
    polygon = parse_service_area(
        {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]]}
    )
    centroid = candidate_position(None, None, polygon)
    assert centroid.lat == pytest.approx(1.0, abs=1e-3) and centroid.lng == pytest.approx(1.0)
