"""create_app picks the fan-out once: memory without REDIS_URL, Redis (or Redis Cluster) with it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from api import keys
from api.app import create_app
from api.config import ConfigError, Settings
from hub.engine.bus import MemoryBus
from hub.engine.bus_redis import RedisBus
from hub.engine.manager import BusManager


def test_memory_mode(settings: Settings) -> None:
    app = create_app(settings)
    assert isinstance(app[keys.BUS], MemoryBus)
    manager = app[keys.SIO].manager
    assert isinstance(manager, BusManager) and manager._bus is app[keys.BUS]
    assert keys.REDIS not in app


def test_redis_mode_and_cluster_setting(settings: Settings) -> None:
    app = create_app(replace(settings, redis_url="redis://127.0.0.1:6379/0"))
    assert isinstance(app[keys.BUS], RedisBus)
    assert isinstance(app[keys.REDIS], Redis)
    assert app[keys.SIO].manager._bus is app[keys.BUS]
    clustered = create_app(
        replace(settings, redis_url="redis://127.0.0.1:7000/0", redis_cluster=True)
    )
    assert isinstance(clustered[keys.REDIS], RedisCluster)  # nothing connects before start


def test_redis_cluster_is_parsed_once() -> None:
    assert Settings.from_env({"REDIS_CLUSTER": "true"}).redis_cluster is True
    assert Settings.from_env({}).redis_cluster is False
    with pytest.raises(ConfigError, match="REDIS_CLUSTER"):
        Settings.from_env({"REDIS_CLUSTER": "maybe"})
