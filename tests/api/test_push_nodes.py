"""Several nodes, one outbox: each push is sent once, and a node killed in the middle of
sending leaves its pushes to another node (nothing lost, nothing sent twice)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest

from api import keys
from api.config import Settings
from tests.api.push_support import Client, add_device, fcm, push_settings, pushes_to, say
from tests.fakes.fcm import FakeFcm, start
from tests.hub.realtime_support import conversation
from tests.support.processes import HubProcess
from tests.support.waiting import eventually

__all__ = ["fcm"]  # fixture


async def test_two_nodes_drain_one_outbox_and_send_each_push_once(
    make_client: Any, fcm: FakeFcm, tmp_path: Path
) -> None:
    a: Client = await make_client(**push_settings(fcm, tmp_path))
    b: Client = await make_client(**push_settings(fcm, tmp_path))
    fcm.held.clear()  # both nodes claim while FCM is slow
    tokens = []
    for i in range(20):
        node = (a, b)[i % 2]
        pair = await conversation(node)
        tokens.append(await add_device(node, pair.customer))
        await say(node, pair.contractor, pair.conversation_id, f"to customer {i}")
    await eventually(lambda: sum(fcm.requests_to[t] for t in tokens) >= 1)
    fcm.held.set()
    for token in tokens:
        await pushes_to(fcm, token, 1)
    await asyncio.sleep(1.5)  # a second send, had there been one, would have arrived by now
    assert [fcm.requests_to[t] for t in tokens] == [1] * 20
    assert [len(fcm.delivered_to(t)) for t in tokens] == [1] * 20
    shares = [node.app[keys.PUSH_WORKER].sent for node in (a, b)]
    assert all(shares), shares  # both nodes took part


@pytest.mark.slow
async def test_a_node_killed_while_sending_loses_nothing_and_duplicates_nothing(
    client: Client, settings: Settings, fcm: FakeFcm, tmp_path: Path, make_client: Any
) -> None:
    # Node A (a real process) sends through its own FCM, which holds every request: A has
    # claimed the pushes and is waiting for FCM when it is killed.
    slow = FakeFcm()
    slow.held.clear()
    slow_server = await start(slow)
    slow_dir = tmp_path / "a"
    slow_dir.mkdir()
    account = slow.service_account(slow_dir)
    node_a = HubProcess(
        {
            "DATABASE_URL": str(settings.database_url),
            "MIGRATE_ON_START": "false",
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_KIB": "1024",
            "DB_POOL_MIN": "1",
            "DB_POOL_MAX": "3",
            "FCM_CREDENTIALS": str(account),
            "FCM_ENDPOINT": slow.base_url,
        },
        tmp_path,
    )
    try:
        node_a.start()
        await asyncio.to_thread(node_a.wait)
        # The events are committed through a node without credentials (it never sends).
        tokens = []
        for i in range(5):
            pair = await conversation(client)
            tokens.append(await add_device(client, pair.customer))
            await say(client, pair.contractor, pair.conversation_id, f"message {i}")
        await eventually(lambda: all(slow.requests_to[t] == 1 for t in tokens), within=15)
        await asyncio.to_thread(node_a.kill, signal.SIGKILL)
        assert slow.delivered == []
        # Node B, started after A died, finds the pushes A held and sends each once.
        await make_client(**push_settings(fcm, tmp_path))
        for token in tokens:
            [push] = await pushes_to(fcm, token, 1, within=15)
            assert push["notification"]["body"].startswith("message ")
        await asyncio.sleep(1.5)
        assert [fcm.requests_to[t] for t in tokens] == [1] * 5
    finally:
        node_a.kill()
        slow.held.set()
        await slow_server.close()
