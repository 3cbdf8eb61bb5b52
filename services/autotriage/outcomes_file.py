"""The outcomes audit file: with the in-memory bus, every outcome is also appended as one JSON line to a
local file, the only copy of the decisions that another process (``autotriage outcomes``) can read.

With Kafka the ``tickets.outcomes`` topic is that record and no file is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from autotriage.core.bus.base import Bus, Consumer
from autotriage.core.bus.topics import TICKETS_OUTCOMES, Topics
from autotriage.core.errors import ConfigError

log = logging.getLogger(__name__)
GROUP = "autotriage.outcomes-file"


class OutcomesFile:
    """A host component: consumes the outcomes topic and appends each record's JSON to ``path``."""

    def __init__(self, bus: Bus, topics: Topics, path: Path) -> None:
        self.bus = bus
        self.topic = topics.name(TICKETS_OUTCOMES)
        self.path = path
        self._consumer: Consumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.written = 0

    async def start(self) -> None:
        """Open the file (failing at start when it cannot be written) and begin consuming."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.open("a", encoding="utf-8").close()
        except OSError as exc:
            raise ConfigError(f"cannot write the outcomes file {self.path} ({exc.strerror}): set "
                              "AUTOTRIAGE_OUTCOMES_FILE to a writable path (e.g. /tmp/outcomes.jsonl) or to none"
                              ) from exc
        self._consumer = await self.bus.consumer([self.topic], GROUP)
        self._task = asyncio.create_task(self._loop(), name="outcomes-file")
        log.info("outcomes are also appended to %s (read them with `autotriage outcomes`)", self.path)

    async def _loop(self) -> None:
        consumer = self._consumer
        if consumer is None:
            raise RuntimeError("OutcomesFile.start() creates the consumer before the loop runs")
        while True:
            records = await consumer.getmany(timeout_s=0.5, max_records=500)
            if not records:
                if self._stopping.is_set():
                    return
                continue
            with self.path.open("ab") as out:
                for record in records:
                    out.write(record.value.rstrip(b"\n") + b"\n")
            self.written += len(records)
            offsets: dict[tuple[str, int], int] = {}
            for record in records:
                tp = (record.topic, record.partition)
                offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
            await consumer.commit(offsets)

    async def stop(self) -> None:
        """Write what has arrived (the host stops this component last), then stop."""
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, 5)
        if self._consumer is not None:
            await self._consumer.stop()

    @property
    def ready(self) -> bool:
        """Ready once consuming."""
        return self._task is not None

    def healthy(self) -> bool:
        """Healthy while its loop runs."""
        return self._task is not None and (not self._task.done() or self._stopping.is_set())
