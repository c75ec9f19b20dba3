"""The Socket.IO namespace "/": authentication at connect, and safe dispatch of events.

Every client event goes through :meth:`Gateway.trigger_event`, which looks the event up in
a table of handlers, answers unknown events with ``not_found``, turns domain errors into
``{"ok": false, "error": {...}}`` acks and never lets an exception reach python-socketio
(which would log a traceback and leave the client without an answer).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import orjson
import socketio

from hub.accounts.tokens import TokenCodec
from hub.core.errors import (
    DomainError,
    Forbidden,
    NotFound,
    Unauthorized,
    Unavailable,
    as_domain_error,
)
from hub.core.validation import SocketPayload, convert
from hub.engine.guard import origin_allowed
from hub.realtime.events import iso_epoch

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Identity:
    """Who a socket is. Set at connect; never taken from an event payload."""

    sid: str
    user_id: str | None  # None for a share-link viewer
    role: str  # customer | contractor | admin | viewer
    expires_at: float
    share_job_id: str | None = None
    token_gen: int = 0  # the access token's generation (suspension cuts older ones)


EventHandler = Callable[[Identity, Any], Awaitable[dict[str, Any]]]
SyncEventHandler = Callable[[Identity, Any], dict[str, Any]]
"""A handler that never awaits (``location:update``): see :meth:`Gateway.add_handlers`."""
ConnectHook = Callable[[Identity], Awaitable[None]]
DisconnectHook = Callable[[Identity], Awaitable[None]]
ShareVerifier = Callable[[str], Awaitable[tuple[str, float]]]  # token -> (job_id, expires_at)


class RefusedConnection(socketio.exceptions.ConnectionRefusedError):  # type: ignore[misc]
    """Refuses a connect with the contract's body: ``{"error": {"code", "message"}}``.

    ``message`` and ``data`` are repeated at the top level because the JavaScript client
    builds its Error from ``data.message`` and exposes ``data.data`` as ``err.data``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        error = {"code": code, "message": message}
        self.error_args = {"message": message, "error": error, "data": {"error": error}}


class ConnectAuth(SocketPayload):
    """The connect's ``auth``: an access token, or a share link's token."""

    token: str | None = None
    share_token: str | None = None


class RefreshPayload(SocketPayload):
    """``auth:refresh``."""

    token: str


def _gen(extra: dict[str, Any]) -> int:
    gen = extra.get("gen", 0)
    return gen if isinstance(gen, int) else 0


def ok(**fields: Any) -> dict[str, Any]:
    return {"ok": True, **fields}


def failure(exc: DomainError) -> dict[str, Any]:
    return {"ok": False, "error": exc.body()}


class Gateway(socketio.AsyncNamespace):  # type: ignore[misc]
    """Namespace "/" of the hub.

    Args:
        tokens: verifies access tokens.
        allowed_origins: browser origins allowed to open a socket (besides the hub's own).
        share_verifier: resolves a share token to its job, or raises Unauthorized.
        on_event: metrics hook ``(event, outcome)``.
    """

    def __init__(
        self,
        tokens: TokenCodec,
        allowed_origins: tuple[str, ...],
        share_verifier: ShareVerifier | None = None,
        on_event: Callable[[str, str], None] | None = None,
        on_connect_outcome: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__("/")
        self._tokens = tokens
        self._allowed_origins = allowed_origins
        self._share_verifier = share_verifier
        self._handlers: dict[str, EventHandler] = {}
        self._connect_hooks: list[ConnectHook] = []
        self._disconnect_hooks: list[DisconnectHook] = []
        self._on_event = on_event or (lambda event, outcome: None)
        self._on_connect_outcome = on_connect_outcome or (lambda outcome: None)
        self.identities: dict[str, Identity] = {}  # local sockets of this node only
        self._handlers["auth:refresh"] = self._refresh
        self._sync_handlers: dict[str, SyncEventHandler] = {}
        self.fast_prefixes: tuple[str, ...] = ()

    def add_handlers(self, handlers: Mapping[str, EventHandler | SyncEventHandler]) -> None:
        """Register event handlers. A plain (non-``async``) function is a handler that answers
        without awaiting (``location:update``): the server runs it straight from the packet
        (``hub.engine.guard.GuardedServer``'s fast path, :meth:`dispatch_now`), and packets
        that do not take that path (long-polling, binary, odd framing) reach it through
        :meth:`trigger_event` like any other. Same checks and answers either way."""
        for name, handler in handlers.items():
            if name in self._handlers:
                raise ValueError(f"event {name} registered twice")
            if inspect.iscoroutinefunction(handler):
                self._handlers[name] = handler
                continue
            now = cast(SyncEventHandler, handler)

            async def run(identity: Identity, data: Any, now: SyncEventHandler = now) -> Any:
                return now(identity, data)

            self._handlers[name] = run
            self._sync_handlers[name] = now
            # '["location:update",': how the event's JSON text starts
            self.fast_prefixes += (orjson.dumps([name]).decode()[:-1] + ",",)

    def use_share_verifier(self, verifier: ShareVerifier) -> None:
        """Accept ``auth: {share_token}`` connects, resolved by ``verifier`` (live tracking
        plugs it in at start, after the database exists)."""
        self._share_verifier = verifier

    def on_connected(self, hook: ConnectHook) -> None:
        self._connect_hooks.append(hook)

    def on_disconnected(self, hook: DisconnectHook) -> None:
        self._disconnect_hooks.append(hook)

    def identity(self, sid: str) -> Identity | None:
        return self.identities.get(sid)

    async def _refresh(self, identity: Identity, data: Any) -> dict[str, Any]:
        """``auth:refresh`` {token}: a fresh access token of the same user extends the socket."""
        claims = self._tokens.verify(convert(data, RefreshPayload).token, "access")
        if identity.user_id is None:
            raise Forbidden("a tracking-link socket cannot take an access token; reconnect")
        if claims.sub != identity.user_id:
            raise Forbidden("the token belongs to another user")
        identity.role = claims.role
        identity.expires_at = claims.exp
        identity.token_gen = _gen(claims.extra)
        return ok(expires_at=iso_epoch(claims.exp))

    async def _authenticate(self, sid: str, auth: Any) -> Identity:
        if not isinstance(auth, dict):
            raise Unauthorized("send auth: {token} or {share_token}")
        given = convert(auth, ConnectAuth)  # a ValidationFailed refuses the connect too
        if given.token is not None:
            claims = self._tokens.verify(given.token, "access")
            return Identity(sid, claims.sub, claims.role, claims.exp, token_gen=_gen(claims.extra))
        if given.share_token is not None and self._share_verifier is not None:
            job_id, expires_at = await self._share_verifier(given.share_token)
            return Identity(sid, None, "viewer", expires_at, share_job_id=job_id)
        raise Unauthorized("send auth: {token} or {share_token}")

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event == "connect":
            return await self._connect(*args)
        if event == "disconnect":
            identity = self.identities.pop(args[0], None)
            if identity is not None:
                for hook in self._disconnect_hooks:
                    try:
                        await hook(identity)
                    except Exception:
                        log.exception("disconnect hook failed", extra={"sid": identity.sid})
            return None
        return await self._dispatch(event, args)

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        if not origin_allowed(environ, self._allowed_origins):
            # The contract gives every refused connect the code "unauthorized".
            self._on_connect_outcome("bad_origin")
            raise RefusedConnection("unauthorized", "origin not allowed")
        try:
            identity = await self._authenticate(sid, auth)
        except DomainError as exc:
            self._on_connect_outcome("unauthorized")
            raise RefusedConnection("unauthorized", exc.message) from None
        self.identities[sid] = identity
        if identity.user_id is not None:
            await self.enter_room(sid, f"user:{identity.user_id}")
        for hook in self._connect_hooks:
            try:
                await hook(identity)
            except Exception:
                log.exception("connect hook failed", extra={"sid": sid})
        self._on_connect_outcome("ok")
        return True

    def dispatch_now(self, sid: str, event: str, data: Any) -> dict[str, Any]:
        """Run a plain-function handler of :meth:`add_handlers` (the server's fast path)."""
        identity = self.identities.get(sid)
        handler = self._sync_handlers.get(event)
        try:
            self._check(identity, event, handler)
            assert identity is not None and handler is not None  # _check raised otherwise
            result = handler(identity, data)
            self._on_event(event, "ok")
            return result
        except Exception as exc:
            return self._answer_failure(event, handler is not None, sid, exc)

    def _check(self, identity: Identity | None, event: str, handler: object) -> None:
        if identity is None:
            raise Unauthorized("not connected")
        if identity.expires_at <= self._tokens.now() and event != "auth:refresh":
            raise Unauthorized("credentials expired; send auth:refresh")
        if handler is None:
            raise NotFound(f"unknown event {str(event)[:64]!r}")

    async def _dispatch(self, event: str, args: tuple[Any, ...]) -> dict[str, Any] | None:
        if not args:
            return None
        sid = args[0]
        data = args[1] if len(args) > 1 else None
        identity = self.identities.get(sid)
        handler = self._handlers.get(event) if isinstance(event, str) else None
        try:
            self._check(identity, event, handler)
            assert identity is not None and handler is not None  # _check raised otherwise
            result = await handler(identity, data)
            self._on_event(event, "ok")
            return result
        except Exception as exc:
            return self._answer_failure(event, handler is not None, sid, exc)

    def _answer_failure(self, event: str, known: bool, sid: str, exc: Exception) -> dict[str, Any]:
        """The ack of a handler (or check) that raised; never a traceback to the client."""
        if isinstance(exc, DomainError):
            self._on_event(event if known else "unknown", exc.code)
            return failure(exc)
        answer = as_domain_error(exc)
        if answer is not None:
            if isinstance(answer, Unavailable):
                log.warning("dependency unavailable", extra={"event": event, "error": repr(exc)})
            self._on_event(event, answer.code)
            return failure(answer)
        log.error("socket handler failed", exc_info=exc, extra={"event": event, "sid": sid})
        self._on_event(event, "internal_error")
        return {"ok": False, "error": {"code": "internal_error", "message": "internal error"}}
