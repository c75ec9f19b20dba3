"""Two-factor sign-in with TOTP (RFC 6238, pyotp): setup, enable, disable, the login check.

* Secrets are stored encrypted (:class:`SecretBox`, Fernet keys from configuration, newest
  first; rotation in docs/ADMIN.md), never in plain text and never in the audit log.
* A code is accepted for the current 30-second step and one step either side (clock drift),
  and never twice: the last accepted step is stored on the user's row and a code must be of
  a later step. The check and the update run under the row's lock, so two nodes given the
  same code at once accept it once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
import pyotp
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from hub.core.errors import Conflict, NotFound, Unavailable, ValidationFailed
from hub.trust import audit

STEP_S = 30
WINDOW_STEPS = 1  # ±1 step


def derived_key(secret: str) -> str:
    """A Fernet key derived from ``secret`` (JWT_SECRET): development only, so two-factor
    works without configuration. Production sets TOTP_ENCRYPTION_KEYS of its own."""
    digest = hashlib.sha256(b"tradeshub totp secrets\x00" + secret.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


class SecretBox:
    """Encrypts TOTP secrets at rest with the first of ``keys``; decrypts with any of them.

    Args:
        keys: Fernet keys, newest first. Empty: the box is unavailable (setup answers 503).
    """

    def __init__(self, keys: tuple[str, ...]) -> None:
        self._fernet = MultiFernet([Fernet(k) for k in keys]) if keys else None

    @property
    def available(self) -> bool:
        return self._fernet is not None

    def _box(self) -> MultiFernet:
        if self._fernet is None:
            raise Unavailable("two-factor sign-in is not configured on this server")
        return self._fernet

    def seal(self, secret: str) -> str:
        return self._box().encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._box().decrypt(sealed.encode()).decode()
        except InvalidToken:
            # A key was removed before every secret was re-sealed: say so, loudly.
            raise Unavailable(
                "a two-factor secret cannot be decrypted with the configured keys"
            ) from None

    def reseal(self, sealed: str) -> str:
        """``sealed`` encrypted again with the newest key (a no-op in meaning)."""
        return self._box().rotate(sealed.encode()).decode()


@dataclass(frozen=True, slots=True)
class Setup:
    secret: str
    otpauth_url: str


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The 30-second step within ±1 of ``now`` whose code is ``code``, or None."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=STEP_S)
    current = int(now // STEP_S)
    for step in range(current - WINDOW_STEPS, current + WINDOW_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


class TwoFactor:
    """The TOTP actions of one user, and the login check.

    Args:
        pool: database pool.
        box: seals and opens the secrets.
        issuer: the name authenticator apps show (TOTP_ISSUER).
        clock: seconds since the epoch; tests move it.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        box: SecretBox,
        issuer: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pool = pool
        self._box = box
        self._issuer = issuer
        self._clock = clock

    async def setup(self, user_id: str) -> Setup:
        """A new secret, pending until :meth:`enable` proves the app has it.

        Raises:
            Conflict: two-factor is already on (disable it first).
            Unavailable: no encryption key is configured.
        """
        secret = pyotp.random_base32()
        sealed = self._box.seal(secret)
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                """
                UPDATE users SET totp_pending_secret = $2
                WHERE id = $1 AND totp_enabled_at IS NULL
                RETURNING email
                """,
                user_id,
                sealed,
            )
            if row is None:
                if await conn.fetchval("SELECT 1 FROM users WHERE id = $1", user_id) is None:
                    raise NotFound("no such user")
                raise Conflict("two-factor sign-in is already on; disable it first")
        url = pyotp.TOTP(secret, interval=STEP_S).provisioning_uri(
            name=row["email"], issuer_name=self._issuer
        )
        return Setup(secret, url)

    async def enable(self, user_id: str, code: str, request_id: str | None) -> None:
        """Turn two-factor on with a code of the pending secret.

        Raises:
            Conflict: no setup pending, or already on.
            ValidationFailed: the code is wrong (400, naming ``code``).
        """
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """
                SELECT totp_pending_secret, totp_enabled_at, totp_last_step
                FROM users WHERE id = $1 FOR UPDATE
                """,
                user_id,
            )
            if row is None:
                raise NotFound("no such user")
            if row["totp_enabled_at"] is not None:
                raise Conflict("two-factor sign-in is already on")
            if row["totp_pending_secret"] is None:
                raise Conflict("call POST /auth/2fa/setup first")
            secret = self._box.open(row["totp_pending_secret"])
            step = matching_step(secret, code, self._clock())
            if step is None:
                raise _wrong_code()
            await conn.execute(
                """
                UPDATE users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL,
                    totp_enabled_at = now(), totp_last_step = $2
                WHERE id = $1
                """,
                user_id,
                step,
            )
            await audit.record(conn, user_id, audit.TWO_FACTOR_ENABLED, "user", user_id, request_id)

    async def disable(self, user_id: str, code: str, request_id: str | None) -> None:
        """Turn two-factor off with a current code (never a used one).

        Raises:
            Conflict: two-factor is off.
            ValidationFailed: the code is wrong or already used (400, naming ``code``).
        """
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT totp_secret, totp_last_step FROM users WHERE id = $1 FOR UPDATE",
                user_id,
            )
            if row is None:
                raise NotFound("no such user")
            if row["totp_secret"] is None:
                raise Conflict("two-factor sign-in is off")
            step = matching_step(self._box.open(row["totp_secret"]), code, self._clock())
            if step is None or (
                row["totp_last_step"] is not None and step <= row["totp_last_step"]
            ):
                raise _wrong_code()
            await conn.execute(
                """
                UPDATE users SET totp_secret = NULL, totp_pending_secret = NULL,
                    totp_enabled_at = NULL, totp_last_step = NULL
                WHERE id = $1
                """,
                user_id,
            )
            await audit.record(
                conn, user_id, audit.TWO_FACTOR_DISABLED, "user", user_id, request_id
            )

    async def check_login(self, user_id: str, code: str) -> bool:
        """True when ``code`` is current and unused; it is then used up (on every node).

        A replayed code (of a step already used) is refused and audited. The stored secret is
        re-sealed with the newest key on the way, so rotation finishes as users sign in.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT totp_secret, totp_last_step FROM users WHERE id = $1 FOR UPDATE",
                user_id,
            )
            if row is None or row["totp_secret"] is None:
                return False
            step = matching_step(self._box.open(row["totp_secret"]), code, self._clock())
            if step is None:
                return False
            if row["totp_last_step"] is not None and step <= row["totp_last_step"]:
                await audit.record(
                    conn,
                    None,
                    audit.TWO_FACTOR_REPLAY_REFUSED,
                    "user",
                    user_id,
                    None,
                    {"step": step},
                )
                return False
            await conn.execute(
                "UPDATE users SET totp_last_step = $2, totp_secret = $3 WHERE id = $1",
                user_id,
                step,
                self._box.reseal(row["totp_secret"]),
            )
            return True

    async def reseal_all(self, batch: int = 500) -> int:
        """Re-encrypt every stored secret with the newest key (after adding one); return how
        many rows were rewritten. Safe to run while nodes serve: each row under its lock."""
        done = 0
        last = ""
        while True:
            async with self._pool.acquire() as conn, conn.transaction():
                rows = await conn.fetch(
                    """
                    SELECT id, totp_secret, totp_pending_secret FROM users
                    WHERE id > $1
                      AND (totp_secret IS NOT NULL OR totp_pending_secret IS NOT NULL)
                    ORDER BY id LIMIT $2 FOR UPDATE
                    """,
                    last,
                    batch,
                )
                for row in rows:
                    await conn.execute(
                        """
                        UPDATE users SET totp_secret = $2, totp_pending_secret = $3 WHERE id = $1
                        """,
                        row["id"],
                        self._reseal_or_none(row["totp_secret"]),
                        self._reseal_or_none(row["totp_pending_secret"]),
                    )
            if not rows:
                return done
            done += len(rows)
            last = rows[-1]["id"]

    def _reseal_or_none(self, sealed: str | None) -> str | None:
        return None if sealed is None else self._box.reseal(sealed)


def _wrong_code() -> ValidationFailed:
    return ValidationFailed(
        "code: wrong or already used one-time code", {"fields": {"code": "wrong code"}}
    )
