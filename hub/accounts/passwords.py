"""Password hashing (Argon2id) and the password policy.

Hashing runs in a worker thread: Argon2 is deliberately slow and must not stall the event
loop. An unknown email is checked against a dummy hash so it costs the same time as a
wrong password (no account enumeration by timing).

Cost: OWASP's minimum for Argon2id (19 MiB, 2 iterations, parallelism 1) by default. It
keeps a login at about 20 ms of one core on this project's 2-core nodes, so one node takes
10 logins/s with a p95 well under 300 ms (loadtests/bench_login.py); the former
64 MiB / 3 iterations cost about 6x that, and a few hundred people signing in after a
deploy queued for minutes. A hash made with other parameters is re-made with the current
ones at the owner's next successful login, so raising the cost later reaches every active
account without a reset.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hub.core.errors import ValidationFailed

MIN_LENGTH = 10
# OWASP Password Storage Cheat Sheet, Argon2id minimum: m=19 MiB, t=2, p=1.
OWASP_MIN_TIME_COST = 2
OWASP_MIN_MEMORY_KIB = 19 * 1024
# Package data, read through importlib.resources (an installed wheel has no source tree).
_COMMON_FILE = resources.files("hub.accounts") / "common_passwords.txt"


def _load_common() -> frozenset[str]:
    return frozenset(
        line.strip().lower()
        for line in _COMMON_FILE.read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    """A password check: ``ok``, and when the stored hash was made with other parameters
    than the current ones, ``upgraded``: the password hashed anew, to be stored."""

    ok: bool
    upgraded: str | None = None


class Passwords:
    """Hashes, verifies and checks passwords against the policy."""

    def __init__(
        self,
        time_cost: int = OWASP_MIN_TIME_COST,
        memory_kib: int = OWASP_MIN_MEMORY_KIB,
        max_concurrent: int | None = None,
    ) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        # Unbounded, a login storm fills the default thread pool and starves the event
        # loop's core (every socket stalls); capped at half the cores, logins queue instead
        # and everything else keeps flowing (measured in a locust ramp with the former
        # 0.3 s hashes: worst latency 5.2 s -> 0.1 s).
        limit = max_concurrent or max(1, (os.cpu_count() or 2) // 2)
        self._slots = asyncio.Semaphore(limit)
        self._common = _load_common()
        self._dummy_hash = self._hasher.hash("dummy password for unknown accounts")

    def check_policy(self, password: str, email: str) -> None:
        """Raise a validation_error naming the rule the password breaks."""
        rule: str | None = None
        if len(password) < MIN_LENGTH:
            rule = f"must be at least {MIN_LENGTH} characters"
        elif len(password) > 256:
            rule = "must be at most 256 characters"
        elif password.strip().lower() in self._common:
            rule = "is too common"
        else:
            lowered = password.lower()
            local = email.split("@", 1)[0].lower()
            if lowered == email.lower() or (len(local) >= 4 and local in lowered):
                rule = "must not contain the email"
        if rule:
            raise ValidationFailed(
                f"password {rule}", {"fields": {"password": rule}, "rule": rule.split()[-1]}
            )

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> Verdict:
        """Verify ``password``; with no stored hash, spend the same time and fail.

        A right password whose hash has other parameters than the current ones comes back
        hashed anew (in the same worker-thread turn, so an upgrade waits for no other slot).
        """
        target = stored_hash or self._dummy_hash
        async with self._slots:
            return await asyncio.to_thread(self._check, target, password, stored_hash is not None)

    def _check(self, target: str, password: str, known: bool) -> Verdict:
        try:
            self._hasher.verify(target, password)
        except (VerificationError, InvalidHashError):
            return Verdict(False)
        if not known:
            return Verdict(False)
        if self._hasher.check_needs_rehash(target):
            return Verdict(True, self._hasher.hash(password))
        return Verdict(True)
