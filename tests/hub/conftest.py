"""Fixtures of the hub tests: the seeded trades the REST helpers need (shared with tests/api)."""

from tests.api.conftest import seeded_trades

__all__ = ["seeded_trades"]
