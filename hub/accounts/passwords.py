"""Password hashing (Argon2id) and the password policy.

Hashing runs in a worker thread: Argon2 is deliberately slow and must not stall the event
loop. An unknown email is checked against a dummy hash so it costs the same time as a
wrong password (no account enumeration by timing).
"""

from __future__ import annotations

import asyncio
import os
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hub.core.errors import ValidationFailed

MIN_LENGTH = 10
# Package data, read through importlib.resources (an installed wheel has no source tree).
_COMMON_FILE = resources.files("hub.accounts") / "common_passwords.txt"


def _load_common() -> frozenset[str]:
    return frozenset(
        line.strip().lower()
        for line in _COMMON_FILE.read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )


class Passwords:
    """Hashes, verifies and checks passwords against the policy."""

    def __init__(
        self, time_cost: int = 3, memory_kib: int = 65536, max_concurrent: int | None = None
    ) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        # A hash costs ~0.3 s of CPU. Unbounded, a login storm fills the default thread pool
        # and starves the event loop's core (every socket stalls); capped at half the cores,
        # logins queue instead and everything else keeps flowing (measured in a locust ramp:
        # worst latency 5.2 s -> 0.1 s).
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

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """Verify ``password``; with no stored hash, spend the same time and return False."""
        target = stored_hash or self._dummy_hash
        try:
            async with self._slots:
                ok = await asyncio.to_thread(self._hasher.verify, target, password)
        except (VerificationError, InvalidHashError):
            return False
        return bool(ok) and stored_hash is not None
