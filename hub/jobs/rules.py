"""The job status machine, as pure rules (no I/O).

``open -> assigned -> en_route -> arrived -> in_progress -> completed``; ``cancelled``
from any state before ``completed``. Who may make each move:

- ``assigned``: only by accepting an application (it needs a contractor), never through
  ``POST /jobs/{id}/status``;
- ``en_route``, ``in_progress``, ``completed``: the assigned contractor;
- ``arrived``: the assigned contractor, or the hub itself (live tracking, ``system``);
- ``cancelled``: the job's customer or the assigned contractor;
- an admin may make any move a party may make (support tooling).
"""

from __future__ import annotations

from typing import Literal

Status = Literal["open", "assigned", "en_route", "arrived", "in_progress", "completed", "cancelled"]
Party = Literal["customer", "contractor", "admin", "system"]

STATUSES: tuple[str, ...] = (
    "open",
    "assigned",
    "en_route",
    "arrived",
    "in_progress",
    "completed",
    "cancelled",
)

TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"assigned", "cancelled"}),
    "assigned": frozenset({"en_route", "cancelled"}),
    "en_route": frozenset({"arrived", "cancelled"}),
    "arrived": frozenset({"in_progress", "cancelled"}),
    "in_progress": frozenset({"completed", "cancelled"}),
    "completed": frozenset(),
    "cancelled": frozenset(),
}

# Which parties may move a job *into* each status (legality of the move is separate).
_MOVERS: dict[str, frozenset[str]] = {
    "assigned": frozenset(),  # only by accepting an application, which names the contractor
    "en_route": frozenset({"contractor", "admin"}),
    "arrived": frozenset({"contractor", "admin", "system"}),
    "in_progress": frozenset({"contractor", "admin"}),
    "completed": frozenset({"contractor", "admin"}),
    "cancelled": frozenset({"customer", "contractor", "admin"}),
}

ACTIVE: frozenset[str] = frozenset({"en_route", "arrived", "in_progress"})
"""Statuses in which the assigned contractor is on the way or on site."""


def is_legal(current: str, new: str) -> bool:
    """Return whether the table allows ``current -> new`` (a status never moves to itself)."""
    return new in TRANSITIONS.get(current, frozenset())


def may_move(party: str, new: str) -> bool:
    """Return whether ``party`` may move a job into ``new`` through the status action."""
    return party in _MOVERS.get(new, frozenset())
