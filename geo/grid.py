"""Hierarchical lat/lng grid buckets used by :mod:`geo.index`.

Level ``L`` has square cells of ``2**L / 64`` degrees. An area is placed at the finest
level at which its bounding boxes touch at most ``max_cells_per_axis`` cells per axis,
and recorded in each of those cells, per trade, as a 4-byte slot number. A point then
finds every area that may cover it with one lookup per level in use.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from geo.types import BBox

BASE_CELL_DEG = 1.0 / 64.0
"""Cell size of level 0 in degrees (about 1.7 km of latitude)."""
MAX_LEVEL = 15
"""Cells of 512 degrees: one cell holds the whole world."""

SlotArray = npt.NDArray[np.int32]


def cell_key(level: int, lat: float, lng: float) -> int:
    """Return the key of the cell at ``level`` that contains the point."""
    cell = BASE_CELL_DEG * (1 << level)
    return (
        (level << 42)
        | ((math.floor(lat / cell) + (1 << 20)) << 21)
        | (math.floor(lng / cell) + (1 << 20))
    )


def placement(bboxes: tuple[BBox, ...], max_cells_per_axis: int) -> tuple[int, set[int]]:
    """Return the level and the cell keys at which an area with these boxes is indexed."""
    span = max(max(b.max_lat - b.min_lat, b.max_lng - b.min_lng) for b in bboxes)
    level = 0
    while level < MAX_LEVEL and BASE_CELL_DEG * (1 << level) * (max_cells_per_axis - 1) < span:
        level += 1
    cell = BASE_CELL_DEG * (1 << level)
    keys: set[int] = set()
    for b in bboxes:
        for cy in range(math.floor(b.min_lat / cell), math.floor(b.max_lat / cell) + 1):
            for cx in range(math.floor(b.min_lng / cell), math.floor(b.max_lng / cell) + 1):
                keys.add((level << 42) | ((cy + (1 << 20)) << 21) | (cx + (1 << 20)))
    return level, keys


class CellBuckets:
    """Slots per (trade, cell key), with the levels in use per trade."""

    __slots__ = ("by_trade", "levels")

    def __init__(self) -> None:
        self.by_trade: dict[str, dict[int, array[int]]] = {}
        # trade -> level -> number of bucket entries at that level
        self.levels: dict[str, dict[int, int]] = {}

    def add(self, trades: Iterable[str], level: int, keys: set[int], slot: int) -> None:
        """Record ``slot`` in every ``(trade, key)`` bucket."""
        for trade in trades:
            buckets = self.by_trade.setdefault(trade, {})
            for key in keys:
                bucket = buckets.get(key)
                if bucket is None:
                    buckets[key] = array("i", (slot,))
                else:
                    bucket.append(slot)
            counts = self.levels.setdefault(trade, {})
            counts[level] = counts.get(level, 0) + len(keys)

    def discard(self, trades: Iterable[str], level: int, keys: set[int], slot: int) -> None:
        """Remove ``slot`` from the buckets :meth:`add` put it in (same arguments)."""
        for trade in trades:
            buckets = self.by_trade[trade]
            for key in keys:
                bucket = buckets[key]
                if len(bucket) > 64:
                    i = int(np.flatnonzero(np.frombuffer(bucket, dtype=np.int32) == slot)[0])
                else:
                    i = bucket.index(slot)
                last = bucket.pop()
                if i < len(bucket):
                    bucket[i] = last
                if not bucket:
                    del buckets[key]
            counts = self.levels[trade]
            counts[level] -= len(keys)
            if not counts[level]:
                del counts[level]
            if not buckets:
                del self.by_trade[trade], self.levels[trade]

    def gather(self, trade: str, lat: float, lng: float) -> SlotArray | None:
        """Return the slots in the point's cell at every level in use for the trade, or
        None when there are none."""
        buckets = self.by_trade.get(trade)
        if buckets is None:
            return None
        hits = [b for level in self.levels[trade] if (b := buckets.get(cell_key(level, lat, lng)))]
        if not hits:
            return None
        if len(hits) == 1:
            return np.array(hits[0], dtype=np.int32)
        return np.concatenate([np.frombuffer(b, dtype=np.int32) for b in hits])
