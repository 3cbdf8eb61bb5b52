"""Threads between librdkafka's blocking calls and the event loop, at one cross-thread wake per answer.

``asyncio.to_thread`` costs about 80 us of CPU per call (executor, context copy, two futures); at a few hundred
records a second on several hops that is a large part of a Kafka client's cost. :class:`BlockingWorker` runs
blocking calls on one dedicated thread fed by a ``SimpleQueue`` and settles a loop future with a single
``call_soon_threadsafe``; :class:`DeliveryPoller` serves a producer's delivery reports on its own thread and hands
every report of one ``poll`` to the loop in one wake.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, Protocol

_STOP = object()


class BlockingWorker:
    """One daemon thread that runs blocking calls in order; ``run`` awaits the result on the loop."""

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            job = self._queue.get()
            if job is _STOP:
                return
            loop, future, fn, args = job
            try:
                result = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
                loop.call_soon_threadsafe(_fail, future, exc)
            else:
                loop.call_soon_threadsafe(_succeed, future, result)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` on the worker thread; its result or exception."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put((loop, future, fn, args))
        return await future

    def on_thread(self) -> bool:
        """True when called from the worker thread itself."""
        return threading.current_thread() is self._thread

    def close(self, timeout_s: float = 5.0) -> None:
        """Let the running call finish, then end the thread."""
        self._queue.put(_STOP)
        if not self.on_thread():
            self._thread.join(timeout_s)


class _Pollable(Protocol):
    def poll(self, timeout: float) -> int: ...


Report = tuple["asyncio.Future[Any]", Any, Any]  # future, error (None: delivered), message


class DeliveryPoller:
    """Serves a producer's delivery reports on a thread of its own; settles the send futures on the loop.

    Delivery callbacks run inside ``poll`` on this thread: they only collect ``(future, error, message)``; after
    ``poll`` returns, one ``call_soon_threadsafe`` settles them all through ``settle``.
    """

    def __init__(self, producer: _Pollable, loop: asyncio.AbstractEventLoop,
                 settle: Callable[[list[Report]], None], name: str = "rdkafka-delivery") -> None:
        self._producer = producer
        self._loop = loop
        self._settle = settle
        self._pending: list[Report] = []
        self._lock = threading.Lock()  # a flush on another thread serves callbacks there
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def callback(self, future: asyncio.Future[Any]) -> Callable[[Any, Any], None]:
        """The ``on_delivery`` callback for one record."""
        def report(err: Any, msg: Any) -> None:
            with self._lock:
                self._pending.append((future, err, msg))

        return report

    def _serve(self) -> None:
        while not self._stopped.is_set():
            self._producer.poll(0.2)
            self.hand_over()

    def hand_over(self) -> None:
        """Settle the reports collected so far (on the loop). Also called after a ``flush`` served them."""
        with self._lock:
            reports, self._pending = self._pending, []
        if reports:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody awaits these futures any more
                self._loop.call_soon_threadsafe(self._settle, reports)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop polling (after the current ``poll`` returns)."""
        self._stopped.set()
        self._thread.join(timeout_s)


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
