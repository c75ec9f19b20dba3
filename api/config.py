"""Settings, parsed once from the environment at start.

Nothing else in the project reads ``os.environ``: every component receives the values it
needs from :class:`Settings`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from hub.accounts.passwords import OWASP_MIN_MEMORY_KIB, OWASP_MIN_TIME_COST

_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


def parse_duration(name: str, raw: str) -> float:
    """Parse ``15m``, ``7d``, ``30s``, ``500ms`` or bare seconds into seconds."""
    match = _DURATION.match(raw)
    if not match:
        raise ConfigError(f"{name}: cannot parse duration {raw!r} (use e.g. 30s, 15m, 7d)")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ConfigError(f"{name}: duration must be positive, got {raw!r}")
    return float(seconds)


def _int(env: Mapping[str, str], name: str, default: int, lo: int = 0, hi: int = 1 << 31) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name}: must be between {lo} and {hi}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


def _mask(url: str | None) -> str | None:
    if not url:
        return url
    return re.sub(r"//([^:/@]*):([^@]*)@", r"//\1:***@", url)


@dataclass(frozen=True)
class Settings:
    """Validated configuration of one hub process. Secrets are masked in ``repr``."""

    app_env: str = "development"
    host: str = "0.0.0.0"
    port: int = 8080
    database_url: str | None = field(default=None, repr=False)
    redis_url: str | None = field(default=None, repr=False)
    redis_cluster: bool = False
    jwt_secret: str = field(default="dev-insecure-secret-change-me-0123456789", repr=False)
    jwt_access_expiry_s: float = 15 * 60
    jwt_refresh_expiry_s: float = 7 * 86400
    cors_origins: tuple[str, ...] = ()
    public_url: str | None = None
    log_level: str = "INFO"
    sentry_dsn: str | None = field(default=None, repr=False)
    data_dir: Path = Path("var")
    migrate_on_start: bool = True
    db_pool_min: int = 2
    db_pool_max: int = 10
    shutdown_grace_s: float = 10.0
    auth_rate_limit: int = 100
    auth_rate_window_s: float = 15 * 60
    login_max_failures: int = 5
    login_ip_max_failures: int = 5
    login_lock_window_s: float = 15 * 60
    argon2_time_cost: int = OWASP_MIN_TIME_COST
    argon2_memory_kib: int = OWASP_MIN_MEMORY_KIB
    max_body_bytes: int = 1024 * 1024
    socket_max_frame_bytes: int = 64 * 1024
    admin_email: str | None = None
    admin_password: str | None = field(default=None, repr=False)
    offer_limit: int = 5
    fcm_credentials: Path | None = None
    fcm_endpoint: str = "https://fcm.googleapis.com"
    push_ttl_s: float = 3600.0
    push_rate_per_s: int = 500
    push_max_attempts: int = 10
    # Fernet keys (urlsafe base64 of 32 bytes) encrypting TOTP secrets at rest, newest first:
    # the first encrypts, every one decrypts (rotation: docs/ADMIN.md). Empty: derived from
    # JWT_SECRET outside production; in production two-factor setup is then unavailable.
    totp_encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    totp_issuer: str = "Tradeshub"
    stripe_secret_key: str | None = field(default=None, repr=False)
    stripe_webhook_secret: str | None = field(default=None, repr=False)
    stripe_api_base: str = "https://api.stripe.com"
    stripe_connect_return_url: str | None = None
    platform_fee_bps: int = 1000
    payment_hold_renew_s: float = 6 * 86400.0
    payment_sweep_s: float = 60.0
    checkr_api_key: str | None = field(default=None, repr=False)
    checkr_api_base: str = "https://api.checkr.com"
    checkr_package: str = "tasker_standard"

    @property
    def production(self) -> bool:
        return self.app_env == "production"

    @property
    def embedded_database(self) -> bool:
        """True when no database is configured and the hub starts its own PostgreSQL."""
        return self.database_url is None

    def describe(self) -> dict[str, object]:
        """Settings for the start-up log line, secrets masked."""
        out: dict[str, object] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in (
                "jwt_secret",
                "admin_password",
                "sentry_dsn",
                "stripe_secret_key",
                "stripe_webhook_secret",
                "checkr_api_key",
            ):
                value = "***" if value else None
            elif f.name == "totp_encryption_keys":
                value = f"*** ({len(value)} keys)" if value else None
            elif f.name in ("database_url", "redis_url"):
                value = _mask(value)
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from an environment mapping; raise ConfigError naming the variable."""
        app_env = env.get("APP_ENV", "development").strip().lower() or "development"
        if app_env not in ("production", "development"):
            raise ConfigError(f"APP_ENV: expected production or development, got {app_env!r}")
        production = app_env == "production"

        database_url = env.get("DATABASE_URL") or _postgres_url(env)
        if production and database_url is None:
            raise ConfigError("DATABASE_URL: required in production (or set POSTGRES_HOST)")

        jwt_secret = env.get("JWT_SECRET") or ""
        if production and len(jwt_secret) < 32:
            raise ConfigError("JWT_SECRET: must be at least 32 characters in production")
        if not jwt_secret:
            jwt_secret = cls.jwt_secret

        cors = tuple(
            o.strip().rstrip("/") for o in env.get("CORS_ORIGINS", "").split(",") if o.strip()
        )
        if production and "*" in cors:
            raise ConfigError("CORS_ORIGINS: '*' is not allowed in production; list the origins")

        log_level = env.get("LOG_LEVEL", "INFO").strip().upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(f"LOG_LEVEL: unknown level {log_level!r}")

        fcm_credentials = _service_account(env.get("FCM_CREDENTIALS") or None)
        fcm_endpoint = (env.get("FCM_ENDPOINT") or "https://fcm.googleapis.com").rstrip("/")
        if not re.match(r"^https?://[^/\s]+(/\S*)?$", fcm_endpoint):
            raise ConfigError(f"FCM_ENDPOINT: expected an http(s) URL, got {fcm_endpoint!r}")

        stripe_api_base = _http_url(
            "STRIPE_API_BASE", env.get("STRIPE_API_BASE") or "https://api.stripe.com"
        )
        return_url = env.get("STRIPE_CONNECT_RETURN_URL") or None
        if return_url is not None:
            return_url = _http_url("STRIPE_CONNECT_RETURN_URL", return_url)

        # Below OWASP's Argon2id minimum only outside production (tests hash faster).
        argon2_time_cost = _int(env, "ARGON2_TIME_COST", OWASP_MIN_TIME_COST, 1, 20)
        argon2_memory_kib = _int(
            env, "ARGON2_MEMORY_KIB", OWASP_MIN_MEMORY_KIB, 1024, 4 * 1024 * 1024
        )
        if production and argon2_time_cost < OWASP_MIN_TIME_COST:
            raise ConfigError(
                f"ARGON2_TIME_COST: at least {OWASP_MIN_TIME_COST} in production (OWASP minimum)"
            )
        if production and argon2_memory_kib < OWASP_MIN_MEMORY_KIB:
            raise ConfigError(
                f"ARGON2_MEMORY_KIB: at least {OWASP_MIN_MEMORY_KIB} in production (OWASP minimum)"
            )

        db_pool_max = _int(env, "DB_POOL_MAX", 10, 1, 1000)
        db_pool_min = _int(env, "DB_POOL_MIN", min(2, db_pool_max), 1, 1000)
        if db_pool_min > db_pool_max:  # asyncpg would refuse it at start, with a traceback
            raise ConfigError(
                f"DB_POOL_MIN: must not exceed DB_POOL_MAX ({db_pool_max}), got {db_pool_min}"
            )

        return cls(
            app_env=app_env,
            host=env.get("HOST", "0.0.0.0"),
            port=_int(env, "PORT", 8080, 0, 65535),
            database_url=database_url,
            redis_url=env.get("REDIS_URL") or _redis_url(env),
            redis_cluster=_bool(env, "REDIS_CLUSTER", False),
            jwt_secret=jwt_secret,
            jwt_access_expiry_s=parse_duration(
                "JWT_ACCESS_EXPIRY", env.get("JWT_ACCESS_EXPIRY", "15m")
            ),
            jwt_refresh_expiry_s=parse_duration(
                "JWT_REFRESH_EXPIRY", env.get("JWT_REFRESH_EXPIRY", "7d")
            ),
            cors_origins=cors,
            public_url=(env.get("PUBLIC_URL") or "").rstrip("/") or None,
            log_level=log_level,
            sentry_dsn=env.get("SENTRY_DSN") or None,
            data_dir=Path(env.get("TRADESHUB_DATA_DIR", "var")),
            migrate_on_start=_bool(env, "MIGRATE_ON_START", True),
            db_pool_min=db_pool_min,
            db_pool_max=db_pool_max,
            shutdown_grace_s=parse_duration("SHUTDOWN_GRACE", env.get("SHUTDOWN_GRACE", "10s")),
            auth_rate_limit=_int(env, "AUTH_RATE_LIMIT", 100, 1),
            auth_rate_window_s=parse_duration(
                "AUTH_RATE_WINDOW", env.get("AUTH_RATE_WINDOW", "15m")
            ),
            login_max_failures=_int(env, "LOGIN_MAX_FAILURES", 5, 1),
            login_ip_max_failures=_int(env, "LOGIN_IP_MAX_FAILURES", 5, 1),
            login_lock_window_s=parse_duration(
                "LOGIN_LOCK_WINDOW", env.get("LOGIN_LOCK_WINDOW", "15m")
            ),
            argon2_time_cost=argon2_time_cost,
            argon2_memory_kib=argon2_memory_kib,
            admin_email=env.get("ADMIN_EMAIL") or None,
            admin_password=env.get("ADMIN_PASSWORD") or None,
            offer_limit=_int(env, "OFFER_LIMIT", 5, 0, 100),
            fcm_credentials=fcm_credentials,
            fcm_endpoint=fcm_endpoint,
            push_ttl_s=parse_duration("PUSH_TTL", env.get("PUSH_TTL", "1h")),
            push_rate_per_s=_int(env, "PUSH_RATE", 500, 1, 100_000),
            push_max_attempts=_int(env, "PUSH_MAX_ATTEMPTS", 10, 1, 100),
            totp_encryption_keys=_fernet_keys(env.get("TOTP_ENCRYPTION_KEYS", "")),
            totp_issuer=(env.get("TOTP_ISSUER") or "Tradeshub").strip() or "Tradeshub",
            stripe_secret_key=env.get("STRIPE_SECRET_KEY") or None,
            stripe_webhook_secret=env.get("STRIPE_WEBHOOK_SECRET") or None,
            stripe_api_base=stripe_api_base,
            stripe_connect_return_url=return_url,
            platform_fee_bps=_int(env, "PLATFORM_FEE_BPS", 1000, 0, 10_000),
            payment_hold_renew_s=parse_duration(
                "PAYMENT_HOLD_RENEW", env.get("PAYMENT_HOLD_RENEW", "6d")
            ),
            payment_sweep_s=parse_duration("PAYMENT_SWEEP", env.get("PAYMENT_SWEEP", "60s")),
            checkr_api_key=env.get("CHECKR_API_KEY") or None,
            checkr_api_base=_checkr_base(env.get("CHECKR_API_BASE") or "https://api.checkr.com"),
            checkr_package=(env.get("CHECKR_PACKAGE") or "tasker_standard").strip(),
        )


def _checkr_base(raw: str) -> str:
    url = raw.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s]+(/\S*)?$", url):
        raise ConfigError(f"CHECKR_API_BASE: expected an http(s) URL, got {raw!r}")
    return url


def _http_url(name: str, raw: str) -> str:
    url = raw.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s]+(/\S*)?$", url):
        raise ConfigError(f"{name}: expected an http(s) URL, got {raw!r}")
    return url


def _fernet_keys(raw: str) -> tuple[str, ...]:
    """TOTP_ENCRYPTION_KEYS: comma-separated Fernet keys, each checked now."""
    import base64
    import binascii

    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    for index, key in enumerate(keys):
        try:
            ok = len(base64.urlsafe_b64decode(key.encode("ascii"))) == 32
        except (binascii.Error, ValueError, UnicodeEncodeError):
            ok = False
        if not ok:
            raise ConfigError(
                f"TOTP_ENCRYPTION_KEYS: key {index + 1} is not a Fernet key (urlsafe base64 of"
                " 32 bytes; make one with: python -c 'from cryptography.fernet import Fernet;"
                " print(Fernet.generate_key().decode())')"
            )
    return keys


def _service_account(raw: str | None) -> Path | None:
    """The FCM service-account JSON, checked now so a bad path stops the start."""
    if raw is None:
        return None
    path = Path(raw)
    try:
        account = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"FCM_CREDENTIALS: cannot read a JSON file at {raw!r} ({exc})") from None
    missing = [
        k
        for k in ("project_id", "client_email", "private_key", "token_uri")
        if not isinstance(account, dict) or not account.get(k)
    ]
    if missing or account.get("type") != "service_account":
        raise ConfigError(
            f"FCM_CREDENTIALS: {raw!r} is not a service-account JSON"
            f" (missing {', '.join(missing) or 'type: service_account'})"
        )
    return path


def _postgres_url(env: Mapping[str, str]) -> str | None:
    host = env.get("POSTGRES_HOST")
    if not host:
        return None
    port = _int(env, "POSTGRES_PORT", 5432, 1, 65535)
    user = quote(env.get("POSTGRES_USER", "postgres"), safe="")
    password = env.get("POSTGRES_PASSWORD")
    auth = f"{user}:{quote(password, safe='')}" if password else user
    db = quote(env.get("POSTGRES_DB", "tradeshub"), safe="")
    ssl = env.get("POSTGRES_SSL", "").strip().lower()
    query = ""
    if ssl in ("1", "true", "require", "yes"):
        query = "?sslmode=require"
    elif ssl not in ("", "0", "false", "no", "disable"):
        query = f"?sslmode={quote(ssl)}"
    return f"postgresql://{auth}@{host}:{port}/{db}{query}"


def _redis_url(env: Mapping[str, str]) -> str | None:
    host = env.get("REDIS_HOST")
    if not host:
        return None
    port = _int(env, "REDIS_PORT", 6379, 1, 65535)
    password = env.get("REDIS_PASSWORD")
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"redis://{auth}{host}:{port}/0"


def load_settings() -> Settings:
    """Settings of this process, from its environment (the only read of os.environ)."""
    import os

    return Settings.from_env(os.environ)
