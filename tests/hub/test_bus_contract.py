"""Bus contract cases; the Redis bus (issue 6) runs the same ones."""

from __future__ import annotations

import asyncio

from hub.bus import MemoryBus


async def _collect(bus: MemoryBus, channel: str) -> tuple[list[bytes], asyncio.Event]:
    got: list[bytes] = []
    done = asyncio.Event()

    async def handler(message: bytes) -> None:
        got.append(message)
        if message == b"end":
            done.set()

    await bus.subscribe(channel, handler)
    return got, done


async def test_order_and_publisher_receives() -> None:
    bus = MemoryBus()
    got, done = await _collect(bus, "c")
    for i in range(100):
        await bus.publish("c", str(i).encode())
    await bus.publish("c", b"end")
    await asyncio.wait_for(done.wait(), 2)
    assert got == [str(i).encode() for i in range(100)] + [b"end"]
    await bus.close()


async def test_channels_are_separate_and_failing_handler_survives() -> None:
    bus = MemoryBus()
    calls: list[bytes] = []

    async def flaky(message: bytes) -> None:
        calls.append(message)
        if message == b"boom":
            raise RuntimeError("handler bug")

    await bus.subscribe("a", flaky)
    other, done = await _collect(bus, "b")
    await bus.publish("a", b"boom")
    await bus.publish("a", b"after")
    await bus.publish("b", b"end")
    await asyncio.wait_for(done.wait(), 2)
    await asyncio.sleep(0.01)
    assert calls == [b"boom", b"after"]
    assert other == [b"end"]
    await bus.close()


async def test_slow_subscriber_is_bounded() -> None:
    bus = MemoryBus(queue_bound=10)
    release = asyncio.Event()
    seen: list[bytes] = []

    async def slow(message: bytes) -> None:
        await release.wait()
        seen.append(message)

    sub = await bus.subscribe("s", slow)
    for i in range(100):
        await bus.publish("s", str(i).encode())
    release.set()
    await asyncio.sleep(0.05)
    assert len(seen) <= 11
    assert seen[-1] == b"99"  # the newest survive
    assert sub.dropped >= 89  # type: ignore[attr-defined]
    await bus.close()
