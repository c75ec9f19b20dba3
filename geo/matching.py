"""Ranking of the contractors that can take a job.

Score, in [0, 1], higher is better::

    score = DISTANCE_WEIGHT / (1 + distance_m / DISTANCE_SCALE_M)
          + RATING_WEIGHT * clamp(rating, 0, 5) / 5

with ``DISTANCE_WEIGHT = 0.6``, ``RATING_WEIGHT = 0.4`` and ``DISTANCE_SCALE_M`` 10 km:
the distance part halves at 10 km and is a third at 20 km, and a full star of rating
(0.08) is worth about the difference between 5 and 7.5 km at close range. The order is
``(not verified, -score, distance_m, contractor_id)``: verified contractors first, then
by score; ties go to the nearer, then to the smaller id, so the order is deterministic.

``distance_m`` is the geodesic distance from the contractor's position (see
:func:`candidate_position`) to the job. With many candidates the fast vectorised distance
pre-ranks them; a candidate is only dropped when even its best possible score (its fast
distance minus the proven error bound) cannot reach the ``limit``-th best worst-case
score, so the result is exactly the geodesic ranking while only a few geodesics are
computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from geo.areas import ServiceArea
from geo.distance import fast_distances_m, fast_error_bounds_m, geodesic_m
from geo.eta import estimate_eta_s
from geo.types import Position

DISTANCE_WEIGHT = 0.6
RATING_WEIGHT = 0.4
DISTANCE_SCALE_M = 10_000.0
MAX_RATING = 5.0
_EXACT_BELOW = 16  # with this few candidates, compute every geodesic directly
_VERIFIED_BONUS = 2.0  # above any score: puts verified candidates first in one number


@dataclass(frozen=True, slots=True)
class Candidate:
    """A contractor who covers the job (offers the trade, available, area covers it).

    Attributes:
        id: Contractor (user) id.
        position: Where distance is measured from (see :func:`candidate_position`).
        rating: Average rating, 0 to 5 (clamped; NaN counts as 0).
        verified: Whether the contractor is verified.
    """

    id: str
    position: Position
    rating: float
    verified: bool


@dataclass(frozen=True, slots=True)
class Match:
    """One ranked contractor, as ``GET /jobs/{id}/matches`` reports it."""

    contractor_id: str
    distance_m: float
    eta_s: int
    score: float


def candidate_position(live: Position | None, base: Position | None, area: ServiceArea) -> Position:
    """Return the position to measure from: live if known, else base, else the area's
    centroid (a circle's centre)."""
    if live is not None:
        return live
    if base is not None:
        return base
    return area.centroid


def score(distance_m: float, rating: float) -> float:
    """Return the match score (module docstring) for one candidate."""
    return DISTANCE_WEIGHT / (1.0 + distance_m / DISTANCE_SCALE_M) + RATING_WEIGHT * (
        _clamp_rating(rating) / MAX_RATING
    )


def _clamp_rating(rating: float) -> float:
    if not rating > 0.0:  # also NaN
        return 0.0
    return min(rating, MAX_RATING)


def rank_contractors(job: Position, candidates: Sequence[Candidate], limit: int) -> list[Match]:
    """Return the best ``limit`` candidates for a job at ``job``, best first.

    Args:
        job: The job's location.
        candidates: Contractors that cover the job; their order does not matter.
        limit: Maximum number of matches to return; 0 or less returns none.
    """
    if limit <= 0 or not candidates:
        return []
    shortlist: Sequence[Candidate] = candidates
    if len(candidates) > max(limit, _EXACT_BELOW):
        shortlist = _prune(job, candidates, limit)
    matches = []
    for c in shortlist:
        distance_m = geodesic_m(c.position, job)
        matches.append(
            (
                not c.verified,
                -score(distance_m, c.rating),
                distance_m,
                c.id,
            )
        )
    matches.sort()
    return [
        Match(contractor_id=cid, distance_m=d, eta_s=estimate_eta_s(d), score=-neg_score)
        for _, neg_score, d, cid in matches[:limit]
    ]


def _prune(job: Position, candidates: Sequence[Candidate], limit: int) -> list[Candidate]:
    """Keep every candidate that could still be in the top ``limit`` by exact distance."""
    n = len(candidates)
    lats = np.fromiter((c.position.lat for c in candidates), dtype=np.float64, count=n)
    lngs = np.fromiter((c.position.lng for c in candidates), dtype=np.float64, count=n)
    fixed = np.fromiter(
        (
            RATING_WEIGHT * _clamp_rating(c.rating) / MAX_RATING
            + (_VERIFIED_BONUS if c.verified else 0.0)
            for c in candidates
        ),
        dtype=np.float64,
        count=n,
    )
    distances = fast_distances_m(job.lat, job.lng, lats, lngs)
    tolerance = fast_error_bounds_m(distances)
    best = fixed + DISTANCE_WEIGHT / (
        1.0 + np.maximum(distances - tolerance, 0.0) / DISTANCE_SCALE_M
    )
    worst = fixed + DISTANCE_WEIGHT / (1.0 + (distances + tolerance) / DISTANCE_SCALE_M)
    threshold = float(np.partition(worst, n - limit)[n - limit])
    # The small slack absorbs rounding differences between this and score().
    keep = np.flatnonzero(best >= threshold - 1e-9)
    return [candidates[i] for i in keep.tolist()]
