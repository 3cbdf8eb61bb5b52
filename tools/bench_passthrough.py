"""The floor under the pipeline: a bare 5-hop pass-through on the same broker (used by ``make bench``).

Five hop processes, each consuming one topic, producing every record unchanged to the next, and committing
once the batch's sends are acknowledged (or every ``commit_s``, as the stages do) - no decoding, no logic.
Producer and consumer are configured like the stages' (idempotent zstd producer with ``acks=all`` and the stages'
``linger_ms``, ``read_committed`` consumer, manual commits), so the difference between a stage and a hop is the
stage's own cost.

Two measurements: latency at a fixed rate (send time to arrival on the last topic, p50/p99), and throughput
(a burst of records sent as fast as the producer takes them: records / (first send to last arrival)), with the
CPU seconds of each hop per record.

Clients of the hops (the load generator and the reader of the last topic are aiokafka for all of them):
  aiokafka          the stages' bus today
  librdkafka        confluent-kafka (the C client) the way an asyncio bus would use it: ``consume`` and the
                    synchronous ``commit`` on a worker thread, delivery reports served on the loop
                    (``rdkafka_bridge``); CPU includes librdkafka's own threads and the bridge
  librdkafka-poll   the same, ``consume(n, 0)`` polled from the loop every 2 ms instead of the worker thread
                    (no thread wakes, but a rebalance callback could not await the runtime there)
  librdkafka-sync   one plain thread, no asyncio: the C client's own floor
Run alone: ``PYTHONPATH=libs:services:tools python tools/bench_passthrough.py --client aiokafka,librdkafka
--commit-s 1`` (clients back to back on the same broker).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import psutil

HOPS = 5
#: Typical size of a pipeline event (a ``TicketNormalized`` of the sample tickets is 1-2 KB).
PAYLOAD_BYTES = 1200


def _stage_defaults() -> tuple[int, int]:
    """The stages' producer linger and consumer fetch wait (``AUTOTRIAGE_KAFKA_*`` as the stages read them)."""
    from autotriage.core.settings import Settings

    settings = Settings()
    return settings.kafka_linger_ms, settings.kafka_fetch_max_wait_ms


def producer_kwargs() -> dict[str, object]:
    """The stages' producer settings (``KafkaBus.start``)."""
    return {"enable_idempotence": True, "acks": "all", "compression_type": "zstd", "linger_ms": _stage_defaults()[0],
            "max_batch_size": 128 * 1024, "request_timeout_ms": 30_000}


def consumer_kwargs() -> dict[str, object]:
    """The stages' consumer settings that shape latency (``KafkaBus.consumer``)."""
    return {"enable_auto_commit": False, "auto_offset_reset": "earliest", "isolation_level": "read_committed",
            "fetch_max_wait_ms": _stage_defaults()[1]}


async def _hop(bootstrap: str, source: str, sink: str, group: str, conn: multiprocessing.connection.Connection,
               commit_s: float = 0.0) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **producer_kwargs())
    consumer = AIOKafkaConsumer(source, bootstrap_servers=bootstrap, group_id=group, **consumer_kwargs())
    await producer.start()
    await consumer.start()
    told = uncommitted = False
    next_commit = 0.0
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100, max_records=1000)
            if not told and consumer.assignment():
                conn.send("ready")
                told = True
            acks = [await producer.send(sink, m.value, key=m.key) for ms in batches.values() for m in ms]
            if acks:
                await asyncio.gather(*acks)
                uncommitted = True
            if uncommitted and time.monotonic() >= next_commit:
                await consumer.commit()
                uncommitted, next_commit = False, time.monotonic() + commit_s
    finally:
        await consumer.stop()
        await producer.stop()


def rdkafka_producer_config(bootstrap: str) -> dict[str, object]:
    """The stages' producer settings in librdkafka's names."""
    return {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "compression.type": "zstd",
            "linger.ms": _stage_defaults()[0], "batch.size": 128 * 1024, "request.timeout.ms": 30_000}


def rdkafka_consumer_config(bootstrap: str, group: str) -> dict[str, object]:
    """The stages' consumer settings in librdkafka's names."""
    return {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "isolation.level": "read_committed",
            "fetch.wait.max.ms": _stage_defaults()[1], "fetch.min.bytes": 1}


async def _rdkafka_hop(bootstrap: str, source: str, sink: str, group: str,
                       conn: multiprocessing.connection.Connection, commit_s: float = 0.0,
                       poll_on_loop: bool = False) -> None:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from rdkafka_bridge import BlockingWorker, LoopDeliveryPoller, Report

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    producer = Producer(rdkafka_producer_config(bootstrap))
    consumer = Consumer(rdkafka_consumer_config(bootstrap, group))
    consumer.subscribe([source])

    def settle(reports: list[Report]) -> None:
        for future, err, _msg in reports:
            if not future.done():
                future.set_result(None) if err is None else future.set_exception(RuntimeError(str(err)))

    poller = LoopDeliveryPoller(producer, loop, settle)
    worker = BlockingWorker("hop-consume")
    told = False
    next_commit = 0.0
    ends: dict[tuple[str, int], int] = {}

    async def consume_on_loop(max_records: int, timeout_s: float) -> list[Any]:
        deadline = loop.time() + timeout_s
        while True:
            messages: list[Any] = consumer.consume(max_records, 0)
            if messages or loop.time() >= deadline:
                return messages
            await asyncio.sleep(0.002)

    try:
        while not stop.is_set():
            if poll_on_loop:
                messages = await consume_on_loop(1000, 0.1)
            else:
                messages = await worker.run(_consume, consumer, 1000, 0.1)
            if not told and consumer.assignment():
                conn.send("ready")
                told = True
            acks = []
            for m in messages:
                if m.error():
                    continue
                future: asyncio.Future[None] = loop.create_future()
                producer.produce(sink, m.value(), m.key(), on_delivery=poller.callback(future))
                acks.append(future)
                ends[(m.topic(), m.partition())] = m.offset() + 1
            if acks:
                poller.sent(len(acks))
                await asyncio.gather(*acks)
            if ends and time.monotonic() >= next_commit:
                offsets = [TopicPartition(t, p, o) for (t, p), o in ends.items()]
                await worker.run(lambda o: consumer.commit(offsets=o, asynchronous=False), offsets)
                ends, next_commit = {}, time.monotonic() + commit_s
    finally:
        await poller.close()
        worker.close()
        producer.flush(10)
        consumer.close()


def _rdkafka_sync_hop(bootstrap: str, source: str, sink: str, group: str,
                      conn: multiprocessing.connection.Connection, commit_s: float = 0.0) -> None:
    """The librdkafka hop without asyncio: the client's own floor (one thread, delivery reports by ``flush``)."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    producer = Producer(rdkafka_producer_config(bootstrap))
    consumer = Consumer(rdkafka_consumer_config(bootstrap, group))
    consumer.subscribe([source])
    told = False
    next_commit = 0.0
    ends: dict[tuple[str, int], int] = {}
    try:
        while not stopping:
            messages = _consume(consumer, 1000, 0.1)
            if not told and consumer.assignment():
                conn.send("ready")
                told = True
            for m in messages:
                if m.error():
                    continue
                producer.produce(sink, m.value(), m.key())
                ends[(m.topic(), m.partition())] = m.offset() + 1
            if messages:
                producer.flush(30)
            if ends and time.monotonic() >= next_commit:
                consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in ends.items()], asynchronous=False)
                ends, next_commit = {}, time.monotonic() + commit_s
    finally:
        producer.flush(10)
        consumer.close()


def _consume(consumer: Any, max_records: int, timeout_s: float) -> list[Any]:
    """Wait up to ``timeout_s`` for the first message only, then take what is already fetched (``consume`` alone
    waits out its whole timeout unless ``max_records`` arrive)."""
    first = consumer.consume(1, timeout_s)
    return first + consumer.consume(max_records - 1, 0) if first else first


def hop_process(
    bootstrap: str, source: str, sink: str, group: str, conn: multiprocessing.connection.Connection,
    client: str = "aiokafka", commit_s: float = 0.0,
) -> None:
    """Child process entry point of one hop: commit after every batch (``commit_s`` 0) or every ``commit_s``."""
    if client == "librdkafka-sync":
        _rdkafka_sync_hop(bootstrap, source, sink, group, conn, commit_s)
        return
    if client == "librdkafka-poll":
        asyncio.run(_rdkafka_hop(bootstrap, source, sink, group, conn, commit_s, poll_on_loop=True))
        return
    hop = _rdkafka_hop if client == "librdkafka" else _hop
    asyncio.run(hop(bootstrap, source, sink, group, conn, commit_s))


@dataclass
class AtRate:
    """The pass-through at one fixed rate: latency end to end and CPU of a hop per record."""

    rate: float
    client: str = "aiokafka"
    records: int = 0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    cpu_ms_per_hop: list[float] = field(default_factory=list)  # each hop
    wall_s: float = float("nan")

    @property
    def cpu_ms(self) -> float:
        """CPU ms of one hop per record (mean over the hops)."""
        return float(np.mean(self.cpu_ms_per_hop)) if self.cpu_ms_per_hop else float("nan")


@dataclass
class PassThroughResult:
    """What one pass-through run measured."""

    client: str = "aiokafka"
    rates: list[AtRate] = field(default_factory=list)
    burst_records: int = 0
    burst_per_s: float = float("nan")
    cpu_ms_per_hop: list[float] = field(default_factory=list)  # per record, burst phase, each hop
    idle_cores_per_hop: list[float] = field(default_factory=list)  # CPU / wall with nothing sent, each hop

    @property
    def cpu_ms_per_hop_mean(self) -> float:
        """CPU ms of one hop per record in the burst (large batches)."""
        return float(np.mean(self.cpu_ms_per_hop)) if self.cpu_ms_per_hop else float("nan")

    @property
    def idle_cores_mean(self) -> float:
        """Cores one hop uses with nothing to do (polling, heartbeats)."""
        return float(np.mean(self.idle_cores_per_hop)) if self.idle_cores_per_hop else float("nan")

    def at(self, rate: float) -> AtRate | None:
        """The measurement at ``rate``, if there is one."""
        return next((r for r in self.rates if abs(r.rate - rate) < 1e-6), None)

    def above_idle_ms(self, at: AtRate) -> float:
        """CPU ms of one hop per record at a rate beyond its idle cost."""
        if not at.records:
            return float("nan")
        return max(0.0, at.cpu_ms - self.idle_cores_mean * at.wall_s / at.records * 1e3)


class _Arrivals:
    """Group-less reader of the last topic: arrival time per record number."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.seen: dict[int, tuple[float, float]] = {}  # n -> (sent, arrived)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(self.topic, bootstrap_servers=self.bootstrap, group_id=None,
                                    **consumer_kwargs())
        await consumer.start()

        async def run() -> None:
            try:
                while not self._stop.is_set():
                    for ms in (await consumer.getmany(timeout_ms=100, max_records=5000)).values():
                        now = time.time()
                        for m in ms:
                            head = orjson.loads(m.value[: m.value.index(b"}") + 1])
                            self.seen.setdefault(head["n"], (head["t"], now))
            finally:
                await consumer.stop()

        self._task = asyncio.create_task(run())

    async def wait(self, numbers: Sequence[int], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(n in self.seen for n in numbers):
                return True
            await asyncio.sleep(0.05)
        return False

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, 10)


def _value(n: int) -> bytes:
    head = orjson.dumps({"n": n, "t": time.time()})
    return head + b" " * max(0, PAYLOAD_BYTES - len(head))


async def run_passthrough(bootstrap: str, prefix: str, partitions: int, rates: Sequence[float], seconds: float,
                          burst: int, log: Callable[[str], object] = print, idle_s: float = 5.0,
                          client: str = "aiokafka", commit_s: float = 0.0) -> PassThroughResult:
    """Create the hop topics, run the five hops (on ``client``) as processes, measure, stop them and delete the
    topics. The load generator and the reader of the last topic are aiokafka whatever the hops use."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    prefix = f"{prefix}{client}."
    topics = [f"{prefix}hop{i}" for i in range(HOPS + 1)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, partitions, 1) for t in topics])
    finally:
        await admin.close()
    ctx = multiprocessing.get_context("spawn")
    hops = []
    for i in range(HOPS):
        parent, child = ctx.Pipe()
        args = (bootstrap, topics[i], topics[i + 1], f"{prefix}hop{i}", child, client, commit_s)
        proc = ctx.Process(target=hop_process, args=args,
                           daemon=True, name=f"hop-{i}")
        proc.start()
        hops.append((proc, parent))
    arrivals = _Arrivals(bootstrap, topics[-1])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **producer_kwargs())
    result = PassThroughResult(client=client, burst_records=burst)
    try:
        for proc, conn in hops:
            if not await asyncio.to_thread(conn.poll, 90):
                raise RuntimeError(f"{proc.name} did not join its group in 90 s")
            conn.recv()
        await producer.start()
        await arrivals.start()
        # idle: nothing sent
        cpu_before = [_cpu_s(proc.pid) for proc, _ in hops]
        idle_started = time.monotonic()
        await asyncio.sleep(idle_s)
        idle_wall = time.monotonic() - idle_started
        result.idle_cores_per_hop = [(_cpu_s(proc.pid) - b) / idle_wall for (proc, _), b in zip(hops, cpu_before,
                                                                                              strict=True)]
        log(f"pass-through ({client}) idle: {result.idle_cores_mean:.3f} cores per hop")
        sent = 0
        for rate in rates:  # latency and CPU at fixed rates
            count = int(rate * seconds)
            numbers = range(sent, sent + count)
            sent += count
            at = AtRate(rate, client)
            cpu_before = [_cpu_s(proc.pid) for proc, _ in hops]
            rate_started = time.monotonic()
            origin = time.perf_counter()
            for i, n in enumerate(numbers):
                delay = origin + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await producer.send(topics[0], _value(n), key=f"k{n}".encode())
            await arrivals.wait(numbers, 60)
            used = [_cpu_s(proc.pid) - before for (proc, _), before in zip(hops, cpu_before, strict=True)]
            at.wall_s = time.monotonic() - rate_started
            at.cpu_ms_per_hop = [u / max(1, count) * 1e3 for u in used]
            lat = [arrivals.seen[n][1] - arrivals.seen[n][0] for n in numbers if n in arrivals.seen]
            at.records = len(lat)
            if lat:
                at.p50_ms = float(np.percentile(lat, 50)) * 1e3
                at.p99_ms = float(np.percentile(lat, 99)) * 1e3
            result.rates.append(at)
            log(f"pass-through ({client}): {len(lat)}/{count} at {rate:g}/s, p50 {at.p50_ms:.1f} ms, "
                f"p99 {at.p99_ms:.1f} ms, "
                "CPU ms per hop per record " + ", ".join(f"{c:.3f}" for c in at.cpu_ms_per_hop))
            await asyncio.sleep(1.0)
        # throughput: a burst as fast as the producer takes it
        cpu_before = [_cpu_s(proc.pid) for proc, _ in hops]
        started = time.time()
        numbers = range(sent, sent + burst)
        for n in numbers:
            await producer.send(topics[0], _value(n), key=f"k{n}".encode())
        arrived = await arrivals.wait(numbers, 300)
        last = max((arrivals.seen[n][1] for n in numbers if n in arrivals.seen), default=float("nan"))
        cpu_used = [_cpu_s(proc.pid) - before for (proc, _), before in zip(hops, cpu_before, strict=True)]
        done = sum(1 for n in numbers if n in arrivals.seen)
        result.burst_per_s = done / (last - started) if done else float("nan")
        result.cpu_ms_per_hop = [used / max(1, done) * 1e3 for used in cpu_used]
        log(f"pass-through ({client}) burst: {done}/{burst} {'arrived' if arrived else 'NOT all arrived'}, "
            f"{result.burst_per_s:.0f} records/s, CPU ms per hop per record "
            + ", ".join(f"{c:.3f}" for c in result.cpu_ms_per_hop))
    finally:
        with contextlib.suppress(Exception):
            await producer.stop()
        with contextlib.suppress(Exception):
            await arrivals.stop()
        for proc, _ in hops:
            if proc.pid is not None and proc.is_alive():
                os.kill(proc.pid, signal.SIGTERM)
        for proc, _ in hops:
            proc.join(15)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        with contextlib.suppress(Exception):
            await admin.start()
            await admin.delete_topics(topics)
        with contextlib.suppress(Exception):
            await admin.close()
    return result


def _cpu_s(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


async def _main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import uuid

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--client", default="aiokafka,librdkafka",
                        help="comma-separated clients of the hops, run back to back: aiokafka, librdkafka")
    parser.add_argument("--rates", type=lambda s: [float(x) for x in s.split(",")], default=[50.0, 200.0])
    parser.add_argument("--seconds", type=float, default=15, help="seconds at each rate")
    parser.add_argument("--burst", type=int, default=20_000, help="records of the throughput burst (0: none)")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--commit-s", type=float, default=0.0,
                        help="commit every this many seconds (0: after each batch; the stages commit every 1 s)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the clients' sequence this many times")
    args = parser.parse_args(argv)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    clients = [c.strip() for c in args.client.split(",") if c.strip()]
    results: list[PassThroughResult] = []
    for _ in range(args.rounds):
        for client in clients:
            prefix = f"pt{uuid.uuid4().hex[:8]}."
            results.append(await run_passthrough(bootstrap, prefix, args.partitions, args.rates, args.seconds,
                                                 args.burst, print, client=client, commit_s=args.commit_s))
    print(f"{'client':<11} {'rate/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/hop/rec':>15} {'above idle':>11}")
    for result in results:
        for at in result.rates:
            print(f"{result.client:<11} {at.rate:>7g} {at.p50_ms:>8.1f} {at.p99_ms:>8.1f} {at.cpu_ms:>15.3f} "
                  f"{result.above_idle_ms(at):>11.3f}")
        if result.burst_records:
            print(f"{result.client:<11} {'burst':>7} {result.burst_per_s:>8.0f}/s {'':>7} "
                  f"{result.cpu_ms_per_hop_mean:>15.3f}")
        print(f"{result.client:<11} {'idle':>7} {result.idle_cores_mean:.4f} cores per hop")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(_main()))
