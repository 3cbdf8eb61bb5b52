"""Run an asyncio server (a PSA simulator, the OpenAI test server) on its own loop in a thread, so that
synchronous code under test (the CLI's ``main``) can talk to it over real HTTP."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


@contextmanager
def serving(start: Callable[[], Awaitable[T]], stop: Callable[[T], Awaitable[Any]]) -> Iterator[T]:
    """Run ``start()`` on a background loop, yield its result, then ``stop(result)`` and end the loop."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    started = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)  # type: ignore[arg-type]
    try:
        yield started
    finally:
        asyncio.run_coroutine_threadsafe(stop(started), loop).result(timeout=30)  # type: ignore[arg-type]
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
