"""The pure status rules of hub/jobs/rules.py, exhaustively."""

from __future__ import annotations

import itertools

from hub.jobs.rules import STATUSES, TRANSITIONS, is_legal, may_move

FORWARD = ["open", "assigned", "en_route", "arrived", "in_progress", "completed"]


def test_table_is_the_contract() -> None:
    legal = {(a, b) for a, b in itertools.product(STATUSES, STATUSES) if is_legal(a, b)}
    expected = set(itertools.pairwise(FORWARD))
    expected |= {(s, "cancelled") for s in FORWARD[:-1]}
    assert legal == expected
    assert set(TRANSITIONS) == set(STATUSES)


def test_movers() -> None:
    for status in ("en_route", "in_progress", "completed"):
        assert may_move("contractor", status) and may_move("admin", status)
        assert not may_move("customer", status) and not may_move("system", status)
    assert may_move("system", "arrived") and may_move("contractor", "arrived")
    assert {
        p for p in ("customer", "contractor", "admin", "system") if may_move(p, "cancelled")
    } == {
        "customer",
        "contractor",
        "admin",
    }
    for party in ("customer", "contractor", "admin", "system"):
        assert not may_move(party, "assigned") and not may_move(party, "open")
