"""In-memory spatial index: which available contractors of a trade cover a point.

Layout. Every indexed contractor sits in a slot of a flat array: for a circle, eight
float64s (centre, radius, the centre in Earth-centred coordinates, chord thresholds) and
no shapely object; for a polygon, its prepared geometry, bounds and an inner disc.
:class:`geo.grid.CellBuckets` map ``(trade, grid cell)`` to an ``array('i')`` of slots on
a hierarchical grid, so a contractor costs a few dozen 4-byte bucket entries per trade
whatever its size. A query looks up the point's cell at each grid level in use for the
trade (one dict lookup per level), gathers the slots, and then decides:

* circles, vectorised: the squared 3D chord from the point to each centre against the
  circle's precomputed thresholds, the exact geodesic only in the thin band where they
  cannot decide (see :mod:`geo.circle`; the answer is the geodesic one, as for
  :func:`geo.circle.circle_covers`);
* polygons: a vectorised bounds check and a check against a disc well inside the
  polygon (its maximum inscribed circle, computed at upsert), then one vectorised
  ``shapely.intersects_xy`` over the prepared geometries left undecided (the predicate
  of :meth:`ServiceArea.covers`).

So ``query`` returns exactly what a scan with ``ServiceArea.covers`` returns. Updates
touch only the contractor's own buckets (no rebuild): ``upsert`` and ``remove`` cost
O(cells x trades x bucket length) for a vectorised search and a swap-remove.

Not thread-safe; one owner mutates and queries it (the hub's event loop).
"""

from __future__ import annotations

from array import array

import numpy as np
import shapely  # type: ignore[import-untyped,unused-ignore]
from shapely.geometry.base import BaseGeometry  # type: ignore[import-untyped,unused-ignore]

from geo.areas import ServiceArea
from geo.circle import chord_thresholds_sq, circle_bboxes, circle_covers, ecef_m
from geo.distance import geodesic_latlng_m
from geo.grid import CellBuckets, SlotArray, placement

_UNINDEXED = -1
_WIDTH = 8  # float64s per circle slot in _c_data
_P_WIDTH = 7  # float64s per polygon slot in _p_bounds
_SMALL = 16  # below this many circle candidates, a Python loop beats numpy's overhead


class ContractorIndex:
    """Which available contractors offering a trade have a service area covering a point.

    Args:
        max_cells_per_axis: Grid cells an area may span per axis at its level (>= 2).
            Smaller means less memory and more candidates to test per query.
    """

    def __init__(self, max_cells_per_axis: int = 6) -> None:
        if max_cells_per_axis < 2:
            raise ValueError("max_cells_per_axis must be at least 2")
        self._cells_per_axis = max_cells_per_axis
        # contractor id -> 2 * slot (circle) or 2 * slot + 1 (polygon), or _UNINDEXED
        self._slot_of: dict[str, int] = {}
        self._trade_sets: dict[frozenset[str], frozenset[str]] = {}
        self._c_ids: list[str] = []  # "" in free slots
        self._c_trades: list[frozenset[str]] = []
        # per circle slot: x, y, z (ECEF), inside and outside chord thresholds,
        # lat, lng, radius_m
        self._c_data = array("d")
        self._c_free: list[int] = []
        self._c_buckets = CellBuckets()
        self._p_ids: list[str] = []  # "" in free slots
        self._p_trades: list[frozenset[str]] = []
        self._p_areas: list[ServiceArea | None] = []
        self._p_geometries: list[BaseGeometry | None] = []  # area.geometry, looked up once
        # per polygon slot: min_lat, min_lng, max_lat, max_lng, then a disc inside the
        # polygon in plain lng/lat: centre lng, centre lat, radius squared
        self._p_bounds = array("d")
        self._p_free: list[int] = []
        self._p_buckets = CellBuckets()

    def __len__(self) -> int:
        """Number of contractors known to the index, available or not."""
        return len(self._slot_of)

    def upsert(
        self,
        contractor_id: str,
        trades: frozenset[str] | set[str],
        area: ServiceArea,
        available: bool,
    ) -> None:
        """Insert or replace a contractor. Unavailable ones, or ones with no trade, are
        remembered but never returned by :meth:`query`."""
        self.remove(contractor_id)
        if not available or not trades:
            self._slot_of[contractor_id] = _UNINDEXED
            return
        frozen = frozenset(trades)
        shared = self._trade_sets.setdefault(frozen, frozen)  # one object per trade mix
        if area.center is not None and area.radius_m is not None:
            slot = self._c_free.pop() if self._c_free else len(self._c_ids)
            lat, lng, radius_m = area.center.lat, area.center.lng, area.radius_m
            values = (*ecef_m(lat, lng), *chord_thresholds_sq(radius_m), lat, lng, radius_m)
            if slot == len(self._c_ids):
                self._c_ids.append(contractor_id)
                self._c_trades.append(shared)
                self._c_data.extend(values)
            else:
                self._c_ids[slot] = contractor_id
                self._c_trades[slot] = shared
                self._c_data[_WIDTH * slot : _WIDTH * slot + _WIDTH] = array("d", values)
            level, keys = self._circle_placement(slot)
            self._c_buckets.add(shared, level, keys, slot)
            self._slot_of[contractor_id] = 2 * slot
        else:
            slot = self._p_free.pop() if self._p_free else len(self._p_ids)
            min_lng, min_lat, max_lng, max_lat = (float(v) for v in area.geometry.bounds)
            bounds = (min_lat, min_lng, max_lat, max_lng, *_inner_disc(area.geometry))
            if slot == len(self._p_ids):
                self._p_ids.append(contractor_id)
                self._p_trades.append(shared)
                self._p_areas.append(area)
                self._p_geometries.append(area.geometry)
                self._p_bounds.extend(bounds)
            else:
                self._p_ids[slot] = contractor_id
                self._p_trades[slot] = shared
                self._p_areas[slot] = area
                self._p_geometries[slot] = area.geometry
                self._p_bounds[_P_WIDTH * slot : _P_WIDTH * slot + _P_WIDTH] = array("d", bounds)
            level, keys = placement(area.bboxes, self._cells_per_axis)
            self._p_buckets.add(shared, level, keys, slot)
            self._slot_of[contractor_id] = 2 * slot + 1

    def remove(self, contractor_id: str) -> None:
        """Forget a contractor; unknown ids are ignored."""
        coded = self._slot_of.pop(contractor_id, _UNINDEXED)
        if coded == _UNINDEXED:
            return
        slot = coded >> 1
        if coded & 1 == 0:
            level, keys = self._circle_placement(slot)
            self._c_buckets.discard(self._c_trades[slot], level, keys, slot)
            self._c_ids[slot] = ""
            self._c_free.append(slot)
        else:
            area = self._p_areas[slot]
            if area is not None:
                level, keys = placement(area.bboxes, self._cells_per_axis)
                self._p_buckets.discard(self._p_trades[slot], level, keys, slot)
            self._p_ids[slot] = ""
            self._p_areas[slot] = None
            self._p_geometries[slot] = None
            self._p_free.append(slot)

    def query(self, lat: float, lng: float, trade: str) -> list[str]:
        """Return the ids of available contractors offering ``trade`` whose area covers
        the point (edge included), in no particular order and without duplicates.

        Args:
            lat: Latitude in degrees, validated by the caller (see ``parse_position``).
            lng: Longitude in degrees.
            trade: Trade slug.
        """
        out: list[str] = []
        slots = self._c_buckets.gather(trade, lat, lng)
        if slots is not None:
            self._match_circles(slots, lat, lng, out)
        slots = self._p_buckets.gather(trade, lat, lng)
        if slots is not None:
            self._match_polygons(slots, lat, lng, out)
        return out

    def _circle_placement(self, slot: int) -> tuple[int, set[int]]:
        base = _WIDTH * slot
        lat, lng, radius_m = self._c_data[base + 5 : base + 8]
        return placement(circle_bboxes(lat, lng, radius_m), self._cells_per_axis)

    def _match_circles(self, slots: SlotArray, lat: float, lng: float, out: list[str]) -> None:
        ids = self._c_ids
        data = self._c_data
        if len(slots) < _SMALL:
            for slot in slots.tolist():
                base = _WIDTH * slot
                if circle_covers(data[base + 5], data[base + 6], data[base + 7], lat, lng):
                    out.append(ids[slot])
            return
        rows = np.take(np.frombuffer(data, dtype=np.float64).reshape(-1, _WIDTH), slots, axis=0)
        x, y, z = ecef_m(lat, lng)
        dx = rows[:, 0] - x
        dy = rows[:, 1] - y
        dz = rows[:, 2] - z
        chord_sq = dx * dx + dy * dy + dz * dz
        inside = chord_sq <= rows[:, 3]
        out.extend([ids[s] for s in slots[inside].tolist()])
        for i in np.flatnonzero(~inside & (chord_sq <= rows[:, 4])).tolist():
            c_lat, c_lng, radius_m = rows[i, 5:8].tolist()
            if geodesic_latlng_m(c_lat, c_lng, lat, lng) <= radius_m:
                out.append(ids[int(slots[i])])

    def _match_polygons(self, slots: SlotArray, lat: float, lng: float, out: list[str]) -> None:
        rows = np.take(
            np.frombuffer(self._p_bounds, dtype=np.float64).reshape(-1, _P_WIDTH), slots, axis=0
        )
        in_box = (
            (rows[:, 0] <= lat) & (lat <= rows[:, 2]) & (rows[:, 1] <= lng) & (lng <= rows[:, 3])
        )
        dx = rows[:, 4] - lng
        dy = rows[:, 5] - lat
        in_disc = dx * dx + dy * dy < rows[:, 6]
        ids = self._p_ids
        out.extend([ids[s] for s in slots[in_disc].tolist()])
        candidates = slots[in_box & ~in_disc].tolist()
        if not candidates:
            return
        all_geometries = self._p_geometries
        geometries = np.empty(len(candidates), dtype=object)
        geometries[:] = [all_geometries[s] for s in candidates]
        hits = shapely.intersects_xy(geometries, lng, lat)
        out.extend([ids[s] for s, hit in zip(candidates, hits.tolist(), strict=True) if hit])


def _inner_disc(geometry: BaseGeometry) -> tuple[float, float, float]:
    """Return ``(lng, lat, radius**2)`` of a disc, in plain lng/lat, inside the geometry.

    Points strictly inside it are inside the polygon far from any edge, so the shapely
    test (which would say the same) is skipped for them. The disc is the maximum
    inscribed circle shrunk by a relative and absolute 1e-9 against rounding.
    """
    min_lng, min_lat, max_lng, max_lat = (float(v) for v in geometry.bounds)
    tolerance = max(max_lng - min_lng, max_lat - min_lat) / 200.0
    if tolerance <= 0.0:
        return 0.0, 0.0, -1.0
    radius_line = shapely.maximum_inscribed_circle(geometry, tolerance)
    (c_lng, c_lat), _ = shapely.get_coordinates(radius_line).tolist()
    radius = float(radius_line.length) * (1.0 - 1e-9) - 1e-9
    if radius <= 0.0:
        return 0.0, 0.0, -1.0
    return float(c_lng), float(c_lat), radius * radius
