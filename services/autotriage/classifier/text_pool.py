"""Large tickets' text preparation in worker processes, so that it never holds the classifier's event loop.

A worker thread is not enough: it shares the interpreter lock, and one long regular-expression call in C keeps
that lock for its whole run, so the loop waits anyway. Small tickets stay on the loop (shipping them to a process
costs more than preparing them). A worker that dies (killed, out of memory) breaks the pool: the pool is
recreated and the ticket prepared again; a ticket that breaks it every time ends as a ``TransientError`` (the
stage's retry path, then the dead-letter topic), never lost.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from autotriage.classifier.view import PromptView, prompt_view
from autotriage.core import metrics
from autotriage.core.errors import TransientError
from autotriage.core.models import Ticket
from autotriage.core.tenants import Policy
from autotriage.core.text.clean import MAX_INPUT_CHARS

log = logging.getLogger(__name__)

Prepare = Callable[[Ticket, Policy, int], PromptView]

#: Tickets with more characters (summary + description) than this are prepared in a worker process. Measured: a
#: ticket of this size takes 1.4 ms inline (ordinary text) to 2.6 ms (hostile: phone numbers, unclosed tags), 4-5 ms
#: at 2,000; shipping one to the worker holds the loop about 0.3 ms. 99 % of ordinary tickets are smaller.
PROCESS_CHARS = 1_000
#: Pools started for one ticket before it is given up to the retry path.
ATTEMPTS = 2


def _warm() -> None:
    """Worker start: load the tokenizer's encoding once, before the first ticket."""
    from autotriage.core.text.tokens import count_tokens  # noqa: PLC0415 - runs in the worker process

    count_tokens("warm up")


class TextPool:
    """``prompt_view`` for the classifier: inline for small tickets, in one of ``workers`` processes for large
    ones (``workers`` 0: on a thread, the old behaviour, for hosts that cannot start processes)."""

    def __init__(self, workers: int = 1, process_chars: int = PROCESS_CHARS, prepare: Prepare = prompt_view) -> None:
        self.workers = workers
        self.process_chars = process_chars
        self.prepare = prepare  # a module-level function: the workers import it by name
        self._pool: ProcessPoolExecutor | None = None
        self.restarts = 0

    def start(self) -> None:
        """Start the worker processes (the first large ticket would otherwise pay for it)."""
        if self.workers > 0:
            self._running()

    def _running(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: the stage process runs threads (Kafka client, thread pools) that fork would copy
            # mid-state
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_warm
            )
            for _ in range(self.workers):
                self._pool.submit(_warm)
        return self._pool

    async def close(self) -> None:
        """Stop the workers (a ticket still being prepared is cancelled: its record is not acknowledged)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    async def view(self, ticket: Ticket, policy: Policy, budget: int) -> PromptView:
        """``prompt_view(ticket, policy, budget)``, never blocking the loop for a large ticket."""
        if len(ticket.description) + len(ticket.summary) <= self.process_chars:
            return self.prepare(ticket, policy, budget)
        if self.workers <= 0:
            return await asyncio.to_thread(self.prepare, ticket, policy, budget)
        if len(ticket.description) > MAX_INPUT_CHARS:  # never read further: ship only what is read
            ticket = ticket.model_copy(update={"description": ticket.description[:MAX_INPUT_CHARS]})
        for attempt in range(1, ATTEMPTS + 1):
            pool = self._running()
            try:
                return await asyncio.get_running_loop().run_in_executor(pool, self.prepare, ticket, policy, budget)
            except BrokenProcessPool:
                log.warning("text worker lost while preparing ticket %s (attempt %d of %d): restarting the pool",
                            ticket.id, attempt, ATTEMPTS)
                self.restarts += 1
                metrics.TEXT_WORKER_RESTARTS.inc()
                if self._pool is pool:
                    self._pool = None
                    pool.shutdown(wait=False, cancel_futures=True)
        raise TransientError("text_worker_lost",
                             f"ticket {ticket.id}: the text worker died {ATTEMPTS} times while preparing it")
