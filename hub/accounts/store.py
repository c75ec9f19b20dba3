"""Users and refresh tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    name: str
    role: str
    phone: str | None
    created_at: datetime
    password_hash: str
    status: str = "active"  # or "suspended"
    token_gen: int = 0  # tokens of an older generation are refused (suspension)
    two_factor: bool = False  # TOTP enabled: login asks for ``otp``

    def public(self) -> dict[str, object]:
        """The contract's user object (never the hash)."""
        out: dict[str, object] = {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at,
        }
        if self.phone is not None:
            out["phone"] = self.phone
        return out


_COLUMNS = (
    "id, email, name, role, phone, created_at, password_hash, status, token_gen,"
    " totp_enabled_at IS NOT NULL AS two_factor"
)


def _user(row: asyncpg.Record | None) -> User | None:
    return None if row is None else User(**dict(row))


async def insert_user(
    conn: asyncpg.Connection,
    user_id: str,
    email: str,
    password_hash: str,
    name: str,
    role: str,
    phone: str | None,
) -> User | None:
    """Insert a user; None when the email (case-insensitively) is taken."""
    row = await conn.fetchrow(
        f"""
        INSERT INTO users (id, email, password_hash, name, role, phone)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT ((lower(email))) DO NOTHING
        RETURNING {_COLUMNS}
        """,
        user_id,
        email,
        password_hash,
        name,
        role,
        phone,
    )
    return _user(row)


async def user_by_email(conn: asyncpg.Connection, email: str) -> User | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM users WHERE lower(email) = lower($1)", email)
    return _user(row)


async def user_by_id(conn: asyncpg.Connection, user_id: str) -> User | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM users WHERE id = $1", user_id)
    return _user(row)


async def set_role(conn: asyncpg.Connection, user_id: str, role: str) -> None:
    await conn.execute("UPDATE users SET role = $2 WHERE id = $1", user_id, role)


async def set_password(conn: asyncpg.Connection, user_id: str, password_hash: str) -> None:
    await conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash)


@dataclass(frozen=True, slots=True)
class RefreshToken:
    family_id: str
    user_id: str
    expires_at: datetime
    spent_at: datetime | None
    revoked_at: datetime | None


async def insert_refresh(
    conn: asyncpg.Connection, token_hash: bytes, family_id: str, user_id: str, expires_at: datetime
) -> None:
    await conn.execute(
        """
        INSERT INTO refresh_tokens (token_hash, family_id, user_id, expires_at)
        VALUES ($1, $2, $3, $4)
        """,
        token_hash,
        family_id,
        user_id,
        expires_at,
    )


async def refresh_for_update(conn: asyncpg.Connection, token_hash: bytes) -> RefreshToken | None:
    """Lock the token's row so two refreshes with one token cannot both succeed."""
    row = await conn.fetchrow(
        """
        SELECT family_id, user_id, expires_at, spent_at, revoked_at
        FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE
        """,
        token_hash,
    )
    return None if row is None else RefreshToken(**dict(row))


async def spend_refresh(conn: asyncpg.Connection, token_hash: bytes) -> None:
    await conn.execute(
        "UPDATE refresh_tokens SET spent_at = now() WHERE token_hash = $1", token_hash
    )


async def revoke_family(conn: asyncpg.Connection, family_id: str) -> None:
    await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
        family_id,
    )
