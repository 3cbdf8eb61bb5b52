"""The confluent-kafka <-> asyncio bridge of the librdkafka pass-through hop (tools/rdkafka_bridge.py).

Offline: delivery reports come from a real librdkafka producer whose broker does not answer, so every report is
the client's own "message timed out" error.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

from confluent_kafka import KafkaError, Producer
from rdkafka_bridge import BlockingWorker, LoopDeliveryPoller, Report


def _unreachable_producer() -> Producer:
    return Producer({"bootstrap.servers": "127.0.0.1:1", "message.timeout.ms": 200, "socket.timeout.ms": 100,
                     "reconnect.backoff.max.ms": 100, "log_level": 0})


def _settle(reports: list[Report]) -> None:
    for future, err, _msg in reports:
        if not future.done():
            future.set_result(None) if err is None else future.set_exception(RuntimeError(err.name()))


async def test_worker_runs_calls_on_its_own_thread_in_order() -> None:
    worker = BlockingWorker("test-worker")
    try:
        threads = await asyncio.gather(*(worker.run(lambda i: (i, threading.current_thread().name), i)
                                         for i in range(5)))
        assert [i for i, _ in threads] == list(range(5))
        assert {name for _, name in threads} == {"test-worker"}
    finally:
        worker.close()


async def test_worker_hands_back_the_exception() -> None:
    worker = BlockingWorker("test-worker")

    def fail() -> None:
        raise KeyError("no such partition")

    try:
        with pytest.raises(KeyError, match="no such partition"):
            await worker.run(fail)
        assert await worker.run(lambda: 42) == 42  # still serving after a failure
    finally:
        worker.close()


async def test_delivery_reports_are_served_on_the_loop() -> None:
    producer = _unreachable_producer()
    poller = LoopDeliveryPoller(producer, asyncio.get_running_loop(), _settle)
    futures: list[asyncio.Future[Any]] = []
    try:
        for n in range(3):
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            producer.produce("t", f"v{n}".encode(), on_delivery=poller.callback(future))
            futures.append(future)
        poller.sent(len(futures))
        results = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 10)
    finally:
        await poller.close()
    assert [str(r) for r in results] == [KafkaError(KafkaError._MSG_TIMED_OUT).name()] * 3


async def test_reports_served_by_a_flush_on_another_thread_reach_the_loop() -> None:
    producer = _unreachable_producer()
    loop = asyncio.get_running_loop()
    poller = LoopDeliveryPoller(producer, loop, _settle, interval_s=60.0)  # the loop does not poll in time
    future: asyncio.Future[Any] = loop.create_future()
    try:
        producer.produce("t", b"v", on_delivery=poller.callback(future))
        await asyncio.to_thread(producer.flush, 5)  # the callback runs on the flushing thread
        with pytest.raises(RuntimeError, match="_MSG_TIMED_OUT"):
            await asyncio.wait_for(future, 5)
    finally:
        await poller.close()
