"""Account actions: register, login, refresh rotation, logout, admin creation."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from hub.accounts import store
from hub.accounts.passwords import Passwords
from hub.accounts.tokens import TokenCodec
from hub.core.errors import (
    Conflict,
    OtpRequired,
    RateLimited,
    Suspended,
    Unauthorized,
    field_error,
)
from hub.core.ids import new_id
from hub.core.ratelimit import RateLimiter
from hub.trust import audit
from hub.trust.two_factor import TwoFactor

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def normalise_email(raw: str) -> str:
    email = raw.strip()
    if len(email) > 254 or not _EMAIL.match(email):
        raise field_error("email", "not a valid email address")
    return email


def _hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class Session:
    user: store.User
    access_token: str
    refresh_token: str
    expires_in: int

    def body(self) -> dict[str, object]:
        return {
            "user": self.user.public(),
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_in": self.expires_in,
        }


@dataclass(frozen=True, slots=True)
class LoginLimits:
    max_failures: int
    ip_max_failures: int
    window_s: float


class Accounts:
    """Everything that creates, authenticates or ends a user's session."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        passwords: Passwords,
        tokens: TokenCodec,
        limiter: RateLimiter,
        limits: LoginLimits,
        two_factor: TwoFactor | None = None,
    ) -> None:
        self._pool = pool
        self._passwords = passwords
        self._tokens = tokens
        self._limiter = limiter
        self._limits = limits
        self._two_factor = two_factor

    async def register(
        self, email: str, password: str, name: str, role: str, phone: str | None
    ) -> Session:
        email = normalise_email(email)
        self._passwords.check_policy(password, email)
        password_hash = await self._passwords.hash(password)
        async with self._pool.acquire() as conn, conn.transaction():
            user = await store.insert_user(
                conn, new_id("u_"), email, password_hash, name, role, phone
            )
            if user is None:
                raise Conflict("an account with this email exists", {"fields": {"email": "taken"}})
            return await self._start_session(conn, user, new_id("f_"))

    async def create_admin(self, email: str, password: str, name: str = "Admin") -> bool:
        """Create an admin, or promote the existing account; True when something changed."""
        email = normalise_email(email)
        self._passwords.check_policy(password, email)
        async with self._pool.acquire() as conn, conn.transaction():
            existing = await store.user_by_email(conn, email)
            if existing is not None:
                if existing.role == "admin":
                    return False
                await store.set_role(conn, existing.id, "admin")
                return True
            password_hash = await self._passwords.hash(password)
            await store.insert_user(conn, new_id("u_"), email, password_hash, name, "admin", None)
            return True

    async def login(
        self, email: str, password: str, client_ip: str, otp: str | None = None
    ) -> Session:
        """Check the password, then the account's status, then its one-time code.

        Raises:
            RateLimited: the account or the address failed too often (the lock is audited).
            Unauthorized: wrong email, password or code, or a code already used.
            Suspended: right password, but the account is suspended (403 ``suspended``).
            OtpRequired: right password, two-factor on, and no ``otp`` given.
        """
        account_key = f"loginfail:acct:{email.strip().lower()}"
        ip_key = f"loginfail:ip:{client_ip}"
        window = self._limits.window_s
        for key, limit in (
            (account_key, self._limits.max_failures),
            (ip_key, self._limits.ip_max_failures),
        ):
            seen = await self._limiter.count(key, window)
            if seen.count >= limit:
                raise RateLimited("too many failed logins; try again later", seen.retry_after)
        async with self._pool.acquire() as conn:
            user = await store.user_by_email(conn, email.strip())
        verdict = await self._passwords.verify(user.password_hash if user else None, password)
        if not verdict.ok or user is None:
            await self._failed(account_key, ip_key, user)
            raise Unauthorized("wrong email or password")
        if user.status == "suspended":
            raise Suspended("this account is suspended; contact support")
        if user.two_factor:
            if otp is None:
                raise OtpRequired("two-factor sign-in is on: send otp, the app's 6-digit code")
            if self._two_factor is None or not await self._two_factor.check_login(user.id, otp):
                # Counted like a wrong password, so codes cannot be guessed past the lock.
                await self._failed(account_key, ip_key, user)
                raise Unauthorized("wrong or already used one-time code")
        await self._limiter.reset(account_key)
        async with self._pool.acquire() as conn, conn.transaction():
            if verdict.upgraded is not None:  # made with older parameters: store today's
                await store.set_password(conn, user.id, verdict.upgraded)
            return await self._start_session(conn, user, new_id("f_"))

    async def _failed(self, account_key: str, ip_key: str, user: store.User | None) -> None:
        """Count a failed login; the failure that locks an existing account is audited."""
        window_s = self._limits.window_s
        seen = await self._limiter.hit(account_key, self._limits.max_failures, window_s)
        await self._limiter.hit(ip_key, self._limits.ip_max_failures, window_s)
        if user is not None and seen.count == self._limits.max_failures:
            async with self._pool.acquire() as conn:
                await audit.record(
                    conn,
                    None,
                    audit.LOGIN_LOCKED,
                    "user",
                    user.id,
                    None,
                    {"failures": seen.count, "window_s": window_s},
                )

    async def refresh(self, refresh_token: str) -> Session:
        """Rotate a refresh token. A spent one revokes its family (reuse means theft)."""
        claims = self._tokens.verify(refresh_token, "refresh")
        token_hash = _hash_token(refresh_token)
        async with self._pool.acquire() as conn:
            async with conn.transaction():
                row = await store.refresh_for_update(conn, token_hash)
                if row is None or row.user_id != claims.sub:
                    raise Unauthorized("unknown refresh token")
                if row.revoked_at is not None:
                    raise Unauthorized("refresh token revoked")
                if row.spent_at is None:
                    await store.spend_refresh(conn, token_hash)
                    user = await store.user_by_id(conn, row.user_id)
                    if user is None:
                        raise Unauthorized("account no longer exists")
                    if user.status == "suspended":
                        raise Suspended("this account is suspended; contact support")
                    return await self._start_session(conn, user, row.family_id)
            # Reuse of a spent token: revoke the family in its own committed transaction.
            async with conn.transaction():
                await store.revoke_family(conn, row.family_id)
        raise Unauthorized("refresh token reused; all sessions of this login were revoked")

    async def logout(self, user_id: str, refresh_token: str) -> None:
        """Revoke the family of the given refresh token, if it belongs to the caller."""
        try:
            claims = self._tokens.verify(refresh_token, "refresh")
        except Unauthorized:
            return  # logging out with a dead token is already done
        if claims.sub != user_id:
            return
        async with self._pool.acquire() as conn, conn.transaction():
            row = await store.refresh_for_update(conn, _hash_token(refresh_token))
            if row is not None:
                await store.revoke_family(conn, row.family_id)

    async def me(self, user_id: str) -> store.User:
        async with self._pool.acquire() as conn:
            user = await store.user_by_id(conn, user_id)
        if user is None:
            raise Unauthorized("account no longer exists")
        return user

    async def _start_session(
        self, conn: asyncpg.Connection, user: store.User, family: str
    ) -> Session:
        access = self._tokens.issue_access(user.id, user.role, user.token_gen)
        refresh = self._tokens.issue_refresh(user.id, user.role, family, user.token_gen)
        await store.insert_refresh(
            conn,
            _hash_token(refresh.token),
            family,
            user.id,
            datetime.fromtimestamp(refresh.expires_at, UTC),
        )
        return Session(user, access.token, refresh.token, int(self._tokens.access_ttl_s))
