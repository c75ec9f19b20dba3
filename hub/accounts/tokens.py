"""Signed tokens: access and refresh JWTs, and share-link tokens for tracking viewers.

Verification pins the algorithm (HS256), requires ``exp``/``iat``/``jti``/``type`` and checks
the type, so a refresh token can never be used as an access token or the reverse.

Access and refresh tokens carry ``gen``, the user's token generation when they were issued.
Suspension raises the user's generation, and a token of an older one is refused at once
(:meth:`TokenCodec.use_revocations`: ``hub.trust.revocations.Revocations`` keeps every node's
view current), long before its ``exp``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from hub.core.errors import Unauthorized

_ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class Claims:
    """What a verified token says."""

    sub: str
    role: str
    type: str
    jti: str
    iat: float
    exp: float
    extra: dict[str, Any]


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: float


class TokenCodec:
    """Issues and verifies the hub's tokens with one secret.

    Args:
        secret: the HMAC key (JWT_SECRET).
        access_ttl_s: lifetime of access tokens.
        refresh_ttl_s: lifetime of refresh tokens.
        clock: seconds since the epoch; injected so tests can move time.
    """

    def __init__(
        self,
        secret: str,
        access_ttl_s: float,
        refresh_ttl_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self.access_ttl_s = access_ttl_s
        self.refresh_ttl_s = refresh_ttl_s
        self._clock = clock
        self._revoked: Callable[[str, int], bool] = lambda user_id, gen: False

    def use_revocations(self, revoked: Callable[[str, int], bool]) -> None:
        """``revoked(user_id, gen)`` is True when that user's tokens of generation ``gen``
        were cut (suspension); such access and refresh tokens then fail verification."""
        self._revoked = revoked

    def now(self) -> float:
        return self._clock()

    def issue(self, sub: str, role: str, type_: str, ttl_s: float, **extra: Any) -> IssuedToken:
        now = self._clock()
        jti = secrets.token_urlsafe(16)
        exp = now + ttl_s
        payload = {
            "sub": sub,
            "role": role,
            "type": type_,
            "jti": jti,
            "iat": int(now),
            "exp": int(exp),
            **extra,
        }
        return IssuedToken(jwt.encode(payload, self._secret, algorithm=_ALGORITHM), jti, int(exp))

    def issue_access(self, sub: str, role: str, gen: int = 0) -> IssuedToken:
        return self.issue(sub, role, "access", self.access_ttl_s, gen=gen)

    def issue_refresh(self, sub: str, role: str, family: str, gen: int = 0) -> IssuedToken:
        return self.issue(sub, role, "refresh", self.refresh_ttl_s, fam=family, gen=gen)

    def verify(self, token: object, expected_type: str) -> Claims:
        """Verify signature, expiry and type; raise Unauthorized with a reason otherwise."""
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise Unauthorized("missing or malformed token")
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                options={"require": ["exp", "iat", "jti", "sub", "type"], "verify_exp": False},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}") from None
        if payload.get("type") != expected_type:
            raise Unauthorized(f"wrong token type: expected {expected_type}")
        exp = float(payload["exp"])
        # Expiry is checked against the injected clock, not PyJWT's wall clock.
        if exp <= self._clock():
            raise Unauthorized("token expired")
        if expected_type in ("access", "refresh"):
            gen = payload.get("gen", 0)
            if self._revoked(str(payload["sub"]), gen if isinstance(gen, int) else 0):
                raise Unauthorized("token revoked")
        known = {"sub", "role", "type", "jti", "iat", "exp"}
        return Claims(
            sub=str(payload["sub"]),
            role=str(payload.get("role", "")),
            type=expected_type,
            jti=str(payload["jti"]),
            iat=float(payload["iat"]),
            exp=exp,
            extra={k: v for k, v in payload.items() if k not in known},
        )
