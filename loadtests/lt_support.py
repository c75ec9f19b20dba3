"""What the locust users of one process share: the seed file, who plays which pair,
the stat names, and the delivery checker.

Latency of a delivery is measured where it arrives: ``now - ts`` for a location point
(``ts`` is the contractor's clock when it sent the fix) and ``now - t`` for a chat
message (``t`` travels in the ``client_msg_id``). Both sides read the same clock when
they run in one process, or on one machine; across machines the clocks must be NTP
synced, and pair k's contractor and customer are placed in the same worker process
anyway when they can be (:class:`Picker`).

A missed delivery can only be told when the sender and the receiver run in this
process; the checker then turns "nothing arrived within DELIVERY_TIMEOUT_S" into a
failure of the stat in question.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import gevent

log = logging.getLogger("loadtests")

# Stat names: run.sh checks that each expected one is in the report.
CONNECT = "connect"
LOCATION_DELIVERY = "location: contractor to watcher"
LOCATION_ACK = "location: update to ack"
CHAT_ACK = "chat: send to ack"
CHAT_DELIVERY = "chat: send to partner"
JOB_WATCH = "job:watch"
CHAT_JOIN = "chat:join"
DISCONNECT = "disconnect (unexpected)"
SEED = "seed"
WS = "WS"

DELIVERY_TIMEOUT_S = 5.0
ACK_TIMEOUT_S = 5.0


def now_ms() -> float:
    return time.time() * 1000.0


def fire(
    env: Any, name: str, ms: float, exc: BaseException | str | None = None, kind: str = WS
) -> None:
    """Record a socket measurement as a locust request (UI, CSV, final table)."""
    env.events.request.fire(
        request_type=kind,
        name=name,
        response_time=max(ms, 0.0),
        response_length=0,
        exception=Exception(exc) if isinstance(exc, str) else exc,
        context={},
    )


def new_client_msg_id(seq: int) -> str:
    """Carries the send time: ``<epoch µs>-<seq>-<random>``; the partner reads it back."""
    import secrets

    return f"{int(now_ms() * 1000)}-{seq}-{secrets.token_hex(3)}"


def sent_at_ms(client_msg_id: str) -> float | None:
    head = client_msg_id.split("-", 1)[0]
    return int(head) / 1000.0 if head.isdigit() else None


@dataclass(slots=True)
class Watch:
    """A watcher of one job in this process."""

    since_ms: float  # wall clock when job:watch was acknowledged
    last_ts: float = 0.0  # newest point ts received
    reported_ts: float = 0.0  # newest point already reported missing


@dataclass(slots=True)
class Track:
    """A contractor of this process streaming to one job."""

    connected: bool = False
    accepted: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=16))
    # (point ts, monotonic time its ack said accepted)


@dataclass(slots=True)
class PendingChat:
    sent_mono: float
    recipient: str


class Registry:
    """In-process shared state of the users, plus the checker greenlet."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.online: dict[str, int] = {}  # user id -> connected sockets in this process
        self.tracks: dict[str, Track] = {}
        self.watches: dict[str, dict[int, Watch]] = {}  # job id -> {watcher key: Watch}
        self.pending: dict[str, PendingChat] = {}
        self.stopping = False
        self._checker: gevent.Greenlet | None = None

    def ensure_checker(self) -> None:
        if self._checker is None or self._checker.dead:
            self._checker = gevent.spawn(self._check_loop)

    def stop(self) -> None:
        self.stopping = True
        if self._checker is not None:
            self._checker.kill(block=False)

    def set_online(self, user_id: str, up: bool) -> None:
        n = self.online.get(user_id, 0) + (1 if up else -1)
        if n > 0:
            self.online[user_id] = n
        else:
            self.online.pop(user_id, None)

    # --- chat -------------------------------------------------------------------------

    def chat_sent(self, client_msg_id: str, recipient: str) -> None:
        if recipient in self.online:  # only then can a miss be told
            self.pending[client_msg_id] = PendingChat(time.monotonic(), recipient)

    def chat_received(self, client_msg_id: str) -> float | None:
        """Latency of a partner's message, ms (None when it carries no send time)."""
        self.pending.pop(client_msg_id, None)
        sent = sent_at_ms(client_msg_id)
        return None if sent is None else now_ms() - sent

    # --- location ---------------------------------------------------------------------

    def point_received(self, job_id: str, key: int, ts: float) -> None:
        watch = self.watches.get(job_id, {}).get(key)
        if watch is not None and ts > watch.last_ts:
            watch.last_ts = ts

    def _check_loop(self) -> None:
        while not self.stopping:
            gevent.sleep(1.0)
            try:
                self._check_once(time.monotonic())
            except Exception:
                log.exception("delivery checker failed")

    def _check_once(self, mono: float) -> None:
        deadline = mono - DELIVERY_TIMEOUT_S
        for msg_id, pending in list(self.pending.items()):
            if pending.sent_mono < deadline:
                del self.pending[msg_id]
                if pending.recipient in self.online and not self.stopping:
                    fire(
                        self.env,
                        CHAT_DELIVERY,
                        DELIVERY_TIMEOUT_S * 1000,
                        f"not delivered within {DELIVERY_TIMEOUT_S:g}s",
                    )
        for job_id, watches in self.watches.items():
            track = self.tracks.get(job_id)
            if track is None or not track.connected or not watches:
                continue
            # The newest point accepted long enough ago that it must have arrived.
            due = next((ts for ts, at in reversed(track.accepted) if at < deadline), None)
            if due is None:
                continue
            for watch in watches.values():
                if due > watch.since_ms and due > watch.last_ts and due > watch.reported_ts:
                    watch.reported_ts = due
                    if not self.stopping:
                        fire(
                            self.env,
                            LOCATION_DELIVERY,
                            DELIVERY_TIMEOUT_S * 1000,
                            f"no point as new as an accepted one within {DELIVERY_TIMEOUT_S:g}s",
                        )


class SeedData:
    """The credentials file of ``tradeshub loadseed`` / ``seed_api.py``."""

    def __init__(self, path: Path) -> None:
        data = json.loads(path.read_text("utf-8"))
        if data.get("format") != "tradeshub-loadseed/1":
            raise ValueError(f"{path}: not a loadseed credentials file")
        self.password: str = data["password"]
        self.center: dict[str, float] = data["center"]
        self.trades: list[str] = data["trades"]
        self.pairs: list[dict[str, Any]] = data["pairs"]
        self.rest_customers: list[dict[str, Any]] = data["rest_customers"]


class Picker:
    """Hands out seeded identities so that no two users of the whole run play the same one.

    One process (or the local runner) counts by itself. Distributed, the master counts
    for everyone: a worker asks (``lt_pick``) and waits for the answer (``lt_picked``).
    The master gives a customer, when it can, a pair whose contractor runs on the same
    worker, so that the pair shares a process (a clock, and missed deliveries can be
    told); locust's dispatcher does not promise to put both roles on every worker.
    """

    def __init__(self, env: Any) -> None:
        from locust.runners import MasterRunner, WorkerRunner

        self._env = env
        self._next: dict[str, int] = {}
        self._contractor_node: dict[int, str] = {}  # master: pair index -> worker
        self._customer_taken: set[int] = set()
        self._waiting: dict[int, Any] = {}
        self._ids = count()
        runner = env.runner
        self._worker = isinstance(runner, WorkerRunner)
        if isinstance(runner, MasterRunner):
            runner.register_message("lt_pick", self._on_pick)
        elif self._worker:
            runner.register_message("lt_picked", self._on_picked)

    def pick(self, kind: str, items: list[dict[str, Any]]) -> dict[str, Any] | None:
        if self._worker:
            from gevent.event import AsyncResult

            request = next(self._ids)
            result: AsyncResult = AsyncResult()
            self._waiting[request] = result
            self._env.runner.send_message(
                "lt_pick", {"id": request, "kind": kind, "limit": len(items)}
            )
            try:
                index = int(result.get(timeout=30))
            finally:
                self._waiting.pop(request, None)
        else:
            index = self._assign(kind, len(items), "local")
        return items[index] if 0 <= index < len(items) else None

    def _assign(self, kind: str, limit: int, node: str) -> int:
        if kind == "pair:customer" and self._contractor_node:
            same = [
                k
                for k, n in sorted(self._contractor_node.items())
                if n == node and k not in self._customer_taken
            ]
            free = same or [k for k in range(limit) if k not in self._customer_taken]
            index = free[0] if free else limit
            self._customer_taken.add(index)
            return index
        index = self._next.get(kind, 0)
        self._next[kind] = index + 1
        if kind == "pair:contractor":
            self._contractor_node[index] = node
        elif kind == "pair:customer":
            self._customer_taken.add(index)
        return index

    def _on_pick(self, environment: Any, msg: Any, **_: Any) -> None:
        data = msg.data
        index = self._assign(data["kind"], int(data["limit"]), msg.node_id)
        environment.runner.send_message(
            "lt_picked", {"id": data["id"], "index": index}, client_id=msg.node_id
        )

    def _on_picked(self, environment: Any, msg: Any, **_: Any) -> None:
        waiting = self._waiting.get(msg.data["id"])
        if waiting is not None:
            waiting.set(msg.data["index"])
