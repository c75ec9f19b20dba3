"""Cancellation that a library swallowed, raised again.

redis-py runs its commands under Python 3.11's ``asyncio.wait_for``, which returns the
command's result instead of raising when a cancellation and the result land in the same
step. A background loop that is cancelled in the middle of a Redis command would then go on
forever, and whoever awaits it on shutdown (or a test's teardown) would wait forever too.
"""

from __future__ import annotations

import asyncio


def raise_if_cancelled() -> None:
    """Raise ``CancelledError`` if the current task was asked to stop (its cancellation
    may have been swallowed by a callee). Call it after each awaited library call in a
    loop that runs until cancelled."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
