"""A background loop whose cancellation a library swallowed still ends when it is closed.

redis-py's commands run under Python 3.11's ``asyncio.wait_for``, which can return the
command's result instead of raising the cancellation; a loop that only relied on the
exception would then run on, and a node's shutdown (or a test's teardown) would wait forever.
"""

from __future__ import annotations

import asyncio

import pytest

from hub.core.cancellation import raise_if_cancelled


async def _swallowing_command() -> str:
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        return "result"  # what 3.11's wait_for may do when both land in one step
    return "late"


async def test_a_loop_that_checks_ends_although_the_command_swallowed_the_cancel() -> None:
    entered = asyncio.Event()

    async def loop() -> None:
        while True:
            entered.set()
            await _swallowing_command()
            raise_if_cancelled()

    task = asyncio.create_task(loop())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)  # a TimeoutError here would mean the loop ran on


async def test_without_the_check_the_same_loop_runs_on() -> None:
    # The hazard itself, so that the test above means something.
    entered = asyncio.Event()
    rounds = 0

    async def loop() -> None:
        nonlocal rounds
        while True:
            entered.set()
            await _swallowing_command()
            rounds += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(loop())
    await entered.wait()
    task.cancel()
    await asyncio.sleep(0.05)
    assert not task.done() and rounds >= 1
    task.cancel()  # the next cancel lands in the sleep(10) again, and is swallowed again
    await asyncio.sleep(0.05)
    assert not task.done()
    # Clean up: a cancel that lands outside the swallowing call ends it.
    while not task.done():
        task.cancel()
        await asyncio.sleep(0)
