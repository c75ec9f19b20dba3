"""The cross-node twins, in process or in Redis: built here, chosen once by ``create_app``.

Each twin has one protocol (``Bus``, ``Presence``, ``RateLimiter``, ``LiveState``) and two
implementations that pass the same contract tests; the rest of the hub sees the protocol
only, so no feature tests which one it was given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from hub.core.ratelimit import MemoryRateLimiter, RateLimiter
from hub.core.ratelimit_redis import RedisRateLimiter
from hub.engine.bus import Bus, MemoryBus
from hub.engine.bus_redis import RedisBus
from hub.realtime.presence import MemoryPresence, Presence
from hub.realtime.presence_redis import RedisPresence
from hub.realtime.socket_count import (
    LocalCount,
    MemorySocketCount,
    RedisSocketCount,
    SocketCount,
)
from hub.tracking.live_state import LiveState, MemoryLiveState
from hub.tracking.live_state_redis import RedisLiveState

Clock = Callable[[], float]
RedisClient = Redis | RedisCluster


@dataclass(frozen=True)
class Backends:
    """What one node shares with the others (or, alone, keeps to itself)."""

    bus: Bus
    presence: Presence
    limiter: RateLimiter
    # Live tracking's clock is the feature's to choose (tests move it), so the live state is
    # made by the feature, with the implementation picked here.
    live_state: Callable[[Clock], LiveState]
    redis: RedisClient | None
    # Several nodes: a point is relayed to the watchers of other nodes.
    several_nodes: bool
    description: str
    # Open sockets across nodes (admin stats): made by the trust feature with this node's
    # count and a scope (the database's name: one deployment, one count).
    socket_count: Callable[[LocalCount, str], SocketCount] = MemorySocketCount.of


def memory_backends() -> Backends:
    """A single node: everything in process."""
    return Backends(
        bus=MemoryBus(),
        presence=MemoryPresence(),
        limiter=MemoryRateLimiter(),
        live_state=MemoryLiveState,
        redis=None,
        several_nodes=False,
        description="in-process bus and presence (single node)",
    )


def redis_backends(
    url: str, cluster: bool, node_id: str, on_degraded: Callable[[bool], None]
) -> Backends:
    """A node of several: fan-out, presence, rate limits and live state in Redis."""
    redis = redis_client(url, cluster)
    return Backends(
        bus=RedisBus(redis, on_degraded=on_degraded, name=f"tradeshub-{node_id}"),
        presence=RedisPresence(redis, node_id=node_id),
        limiter=RedisRateLimiter(redis),
        live_state=lambda clock: RedisLiveState(redis, clock),
        redis=redis,
        several_nodes=True,
        description="Redis pub/sub, one channel per room; presence in Redis",
        socket_count=lambda local, scope: RedisSocketCount(
            redis, node_id, local, key=f"tradeshub:sockets:{scope}"
        ),
    )


def redis_client(url: str, cluster: bool) -> RedisClient:
    if cluster:  # REDIS_CLUSTER=true: the URL names any node; slots are discovered
        return RedisCluster.from_url(
            url, socket_connect_timeout=1, socket_timeout=2, health_check_interval=5
        )
    return Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2, health_check_interval=5)
