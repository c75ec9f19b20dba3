"""Polling for a condition that other tasks or processes make true."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any


async def eventually(check: Callable[[], Any], within: float = 5.0, every: float = 0.02) -> None:
    """Return once ``check()`` (a value or an awaitable) is truthy; fail after ``within`` s."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(every)
