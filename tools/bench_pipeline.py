#!/usr/bin/env python3
"""Benchmark the five-stage pipeline on a real Kafka broker (``make bench``).

The five stages run as separate processes (``autotriage serve <stage>``) on the broker from
``KAFKA_BOOTSTRAP_SERVERS`` (else the local one from ``deploy/kafka-local``). The PSA APIs and the LLM are
instant doubles - the three PSA simulators (several tenants) and the OpenAI test server with ``latency_s=0`` -
each in a process of its own, timing every request they serve and attributing it to its ticket, so their
time can be subtracted from the pipeline's. An open-loop load generator (one aiohttp session, pre-built and
pre-signed bodies, sends on a fixed schedule whatever the answers do) posts the PSAs' real webhooks.

Phases (on one pipeline, each drained before the next):
  warm-up       a few tickets per tenant (token, signing key, taxonomy and HTTP connections warm)
  overhead@50   pipeline overhead p50/p99 at 50 tickets/s
  overhead@200  pipeline overhead p50/p99 and ingress ack latency p50/p99 at 200 tickets/s
  backlog       capacity: the four stages after ingress are stopped (SIGSTOP, well within the group's session
                timeout) while ingress takes N webhooks, then resumed to drain them: CPU per ticket when the
                pipeline is busy and Kafka's per-request cost is spread over batches (the counterpart of the
                pass-through's burst)
  throughput    offered load for 60 s; sustained completion rate, CPU s per ticket and peak RSS per process

Pipeline overhead of a ticket = outcome ``finished_at`` - ``occurred_at`` (webhook receipt at ingress) minus
the time the doubles spent serving that ticket's requests. Prints rich tables; ``--json`` writes the numbers.
``--profile STAGE`` runs one stage under cProfile and prints where its CPU time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import orjson
import yaml
from bench_common import LLM_KEY, ROOT, STAGES, console
from bench_doubles import Doubles, DoubleSpec, lognormal_mean
from bench_measure import (
    Delivery,
    LLMPhase,
    OutcomeReader,
    Phase,
    TopicTimes,
    broker_pid,
    cpu_s,
    llm_phase_latencies,
    open_loop,
    pct,
    peak_rss_mb,
    read_topic,
    sample_in_flight,
)
from bench_passthrough import PassThroughResult, run_passthrough
from bench_report import print_cpu, print_floor, print_llm, print_machine, print_phases, print_profile, print_targets
from bench_stages import Stages, delete_topics

#: Webhooks/s offered to ingress while the stages after it are stopped (it acknowledges them as fast as it can).
BACKLOG_FILL_RATE = 400.0


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir = Path(args.workdir or f"/tmp/autotriage-bench-{uuid.uuid4().hex[:6]}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.prefix = f"bench{uuid.uuid4().hex[:8]}."
        self.bootstrap = ""
        kinds = ["halo", "connectwise", "autotask", "halo", "connectwise", "autotask"][: args.tenants]
        self.tenants = [(f"bench-{kind[:4]}-{i}", kind) for i, kind in enumerate(kinds)]
        self.psa = Doubles(DoubleSpec("psa", self.tenants))
        self.llm = Doubles(DoubleSpec("llm"))
        latency = (args.llm_p50, args.llm_p99, args.seed)
        self.slow_llm = Doubles(DoubleSpec("llm", latency=latency)) if args.llm_rate > 0 else None
        self.llm_phase: LLMPhase | None = None
        self.llm_stages: Stages | None = None
        self.passthrough: PassThroughResult | None = None
        self.entries: list[dict[str, Any]] = []
        self.env: dict[str, str] = {}
        self.stages: Stages | None = None
        self.reader: OutcomeReader | None = None
        self.created: dict[str, int] = Counter()
        self.doubles_time: defaultdict[str, float] = defaultdict(float)
        self.doubles_unattributed = 0.0
        self.phases: list[Phase] = []
        #: cores each process uses with no load (polling, heartbeats, metrics): its fixed cost
        self.idle_cores: dict[str, float] = {}

    async def setup(self) -> None:
        sys.path.insert(0, str(ROOT))  # the checkout's tests.support (broker helper)
        from tests.support.kafka_local import ensure_broker

        self.bootstrap = self.bootstrap or ensure_broker()
        llm_info, psa_info = await asyncio.gather(self.llm.start(), self.psa.start())
        entries = []
        for entry in psa_info["entries"]:
            entry["llm"] = {"provider": "openai", "model": "gpt-4o-mini", "base_url": f"{llm_info['url']}/v1",
                            "api_key": {"env": "BENCH_OPENAI_API_KEY"}, "timeout_s": 30, "max_retries": 2}
            entry["policy"] = {"mode": "apply", "apply_threshold": 0.5, "suggest_threshold": 0.2}
            entries.append(entry)
        tenants_file = self.workdir / "tenants.yaml"
        tenants_file.write_text(yaml.safe_dump({"tenants": entries}, sort_keys=False), encoding="utf-8")
        env = {**psa_info["env"], "BENCH_OPENAI_API_KEY": LLM_KEY}
        self.entries, self.env = entries, env
        self.stages = Stages(self.bootstrap, self.prefix, tenants_file, env, self.workdir, self.args.partitions,
                             self.args.log_level)
        await self.stages.create_topics()
        profile = self.workdir / f"{self.args.profile}.prof" if self.args.profile else None
        for stage in STAGES:
            await self.stages.start(stage, profile if stage == self.args.profile else None)
        self.reader = OutcomeReader(self.bootstrap, f"{self.prefix}tickets.outcomes")
        await self.reader.start()

    async def deliveries(self, count: int) -> list[Delivery]:
        """``count`` new tickets spread over the tenants, with their deliveries pre-built."""
        assert self.stages is not None
        ingress = self.stages.procs["ingress"].url
        per_tenant = -(-count // len(self.tenants))
        made: list[list[Delivery]] = []
        for index, (tenant_id, kind) in enumerate(self.tenants):
            rows = await self.psa.call("create", tenant_id, index, self.created[tenant_id], per_tenant)
            self.created[tenant_id] += per_tenant
            made.append([Delivery(f"{tenant_id}:{tid}", tenant_id, f"{ingress}/webhooks/{kind}/{tenant_id}", body,
                                  headers) for tid, body, headers in rows])
        interleaved = [d for group in zip(*made, strict=True) for d in group]
        return interleaved[:count]

    async def collect_doubles(self) -> None:
        for double in (self.psa, self.llm):
            stats = await double.call("timings")
            self.doubles_unattributed += stats["unattributed"]
            for key, seconds in stats["by_ticket"].items():
                index, ticket = key.split(":", 1)
                if index.isdigit() and int(index) < len(self.tenants):
                    self.doubles_time[f"{self.tenants[int(index)][0]}:{ticket}"] += seconds

    def pids(self) -> dict[str, int]:
        assert self.stages is not None
        pids = {stage: sp.process.pid for stage, sp in self.stages.procs.items()}
        pids.update({"doubles: PSA sims": self.psa.pid, "doubles: LLM": self.llm.pid, "load generator": os.getpid()})
        if (broker := broker_pid(self.bootstrap)) is not None:
            pids["kafka broker"] = broker
        return pids

    async def run_phase(
        self, session: aiohttp.ClientSession, name: str, rate: float, seconds: float, drain_timeout: float
    ) -> Phase:
        """Offer ``rate`` tickets/s for ``seconds``, then wait (at most ``drain_timeout``) for their outcomes.

        CPU per ticket = CPU used from the first send to the end of the wait / outcomes finished in that time.
        Sustained throughput = outcomes finished while the load was offered (after a ramp) / that time: equal
        to the offered rate when the pipeline keeps up, its capacity when it does not."""
        assert self.reader is not None
        phase = Phase(name, rate, seconds)
        batch = await self.deliveries(int(rate * seconds))
        phase.tickets = len(batch)
        pids = self.pids()
        cpu_before = {n: cpu_s(p) for n, p in pids.items()}
        wall_started, started = time.monotonic(), time.time()
        console.log(f"{name}: {len(batch)} tickets at {rate:.0f}/s")
        load = await open_loop(session, batch, rate)
        phase.accepted = load.accepted
        phase.statuses = dict(load.statuses)
        phase.offered_per_s = load.sent / max(1e-9, load.ended - load.started)
        expected = set(load.keys)
        for _ in range(int(drain_timeout / 0.2)):  # bounded wait for the phase to drain
            if expected <= self.reader.outcomes.keys():
                break
            await asyncio.sleep(0.2)
        drained = expected <= self.reader.outcomes.keys()
        phase.drain_s = time.time() - load.ended if drained else float("nan")
        wall = time.monotonic() - wall_started
        cpu_used = {n: cpu_s(p) - cpu_before[n] for n, p in pids.items()}
        finished_in_run = sum(1 for o in self.reader.outcomes.values() if started <= o.finished <= time.time())
        phase.peak_rss_mb = {n: peak_rss_mb(p) for n, p in pids.items()}
        await asyncio.sleep(0.5)
        await self.collect_doubles()
        done_keys = [k for k in expected if k in self.reader.outcomes]
        done = [self.reader.outcomes[k] for k in done_keys]
        phase.completed = len(done)
        for proc_name, used in cpu_used.items():
            phase.cpu_s_per_ticket[proc_name] = used / max(1, finished_in_run)
            phase.cpu_share[proc_name] = used / wall
        phase.wall_s, phase.finished = wall, finished_in_run
        e2e = [o.finished - o.occurred for o in done]
        doubles = [self.doubles_time.get(k, 0.0) for k in done_keys]
        overhead = [max(0.0, a - b) for a, b in zip(e2e, doubles, strict=True)]
        phase.ack_p50_ms, phase.ack_p99_ms = pct(load.ack_s, 50) * 1e3, pct(load.ack_s, 99) * 1e3
        phase.ack_max_ms = max(load.ack_s, default=float("nan")) * 1e3
        phase.late_p99_ms = pct(load.late_s, 99) * 1e3
        phase.e2e_p50_ms, phase.e2e_p99_ms = pct(e2e, 50) * 1e3, pct(e2e, 99) * 1e3
        phase.overhead_p50_ms, phase.overhead_p99_ms = pct(overhead, 50) * 1e3, pct(overhead, 99) * 1e3
        phase.doubles_per_ticket_ms = float(np.mean(doubles)) * 1e3 if doubles else float("nan")
        ramp = min(5.0, seconds / 4)
        window = load.ended - (load.started + ramp)
        in_window = sum(1 for o in done if load.started + ramp <= o.finished <= load.ended)
        phase.completed_per_s = in_window / window if window > 0 else float("nan")
        if done:
            phase.overall_per_s = len(done) / (max(o.finished for o in done) - load.started)
        self.phases.append(phase)
        console.log(f"{name}: accepted {phase.accepted}/{phase.tickets}, completed {phase.completed}, "
                    + (f"drained {phase.drain_s:.1f}s after the last send" if drained else
                       f"NOT drained {drain_timeout:.0f}s after the last send"))
        return phase

    async def run_backlog_phase(self, session: aiohttp.ClientSession, count: int, drain_timeout: float) -> Phase:
        """``count`` tickets wait in Kafka, then the stages drain them; CPU per ticket over the whole phase (the
        stopped stages use none while ingress takes the webhooks)."""
        assert self.reader is not None and self.stages is not None
        phase = Phase("backlog", 0.0, 0.0)
        batch = await self.deliveries(count)
        phase.tickets = len(batch)
        pids = self.pids()
        downstream = [sp.process for name, sp in self.stages.procs.items() if name != "ingress"]
        cpu_before = {n: cpu_s(p) for n, p in pids.items()}
        wall_started, started = time.monotonic(), time.time()
        for process in downstream:
            process.send_signal(signal.SIGSTOP)
        try:
            load = await open_loop(session, batch, BACKLOG_FILL_RATE)
        finally:
            for process in downstream:
                process.send_signal(signal.SIGCONT)
        resumed = time.time()
        phase.accepted, phase.statuses = load.accepted, dict(load.statuses)
        phase.ack_p50_ms, phase.ack_p99_ms = pct(load.ack_s, 50) * 1e3, pct(load.ack_s, 99) * 1e3
        console.log(f"backlog: {load.accepted} tickets waiting after {resumed - started:.1f} s; draining")
        expected = set(load.keys)
        for _ in range(int(drain_timeout / 0.2)):
            if expected <= self.reader.outcomes.keys():
                break
            await asyncio.sleep(0.2)
        wall = time.monotonic() - wall_started
        cpu_used = {n: cpu_s(p) - cpu_before[n] for n, p in pids.items()}
        done = [self.reader.outcomes[k] for k in expected if k in self.reader.outcomes]
        phase.completed = phase.finished = len(done)
        if done:
            phase.drain_s = max(o.finished for o in done) - resumed
            phase.completed_per_s = phase.overall_per_s = len(done) / phase.drain_s
        phase.wall_s, phase.seconds = wall, resumed - started
        phase.rate = load.sent / max(1e-9, resumed - started)
        for proc_name, used in cpu_used.items():
            phase.cpu_s_per_ticket[proc_name] = used / max(1, len(done))
            phase.cpu_share[proc_name] = used / wall
        phase.peak_rss_mb = {n: peak_rss_mb(p) for n, p in pids.items()}
        self.phases.append(phase)
        console.log(f"backlog: {len(done)}/{len(expected)} drained in {phase.drain_s:.1f} s "
                    f"({phase.completed_per_s:.0f}/s), five stages {self.stages_cpu_ms(phase):.2f} ms CPU per ticket")
        return phase

    async def measure_idle(self, seconds: float) -> None:
        """CPU of each process while nothing is offered (after the warm-up has drained)."""
        if seconds <= 0:
            return
        pids = self.pids()
        before = {n: cpu_s(p) for n, p in pids.items()}
        started = time.monotonic()
        await asyncio.sleep(seconds)
        wall = time.monotonic() - started
        self.idle_cores = {n: (cpu_s(p) - before[n]) / wall for n, p in pids.items()}
        console.log("idle: " + ", ".join(f"{n} {c:.3f}" for n, c in self.idle_cores.items()) + " cores")

    def above_idle_ms(self, phase: Phase, name: str) -> float:
        """CPU ms per ticket of a process in a phase beyond what it burns idle for the phase's duration."""
        idle = self.idle_cores.get(name)
        per = phase.cpu_s_per_ticket.get(name)
        if idle is None or per is None or phase.finished <= 0:
            return float("nan")
        return max(0.0, per - idle * phase.wall_s / phase.finished) * 1e3

    async def run_llm_phase(self, session: aiohttp.ClientSession) -> LLMPhase:
        """One classifier process with a concurrency sized by Little's law, its LLM double answering with a
        lognormal latency, fed real ``tickets.enriched`` events of the earlier phases (re-numbered, so each is a
        new ticket) at ``--llm-rate`` for ``--llm-duration`` s, on topics of its own."""
        assert self.slow_llm is not None
        args = self.args
        phase = LLMPhase(args.llm_rate, args.llm_duration, args.llm_concurrency,
                         max(args.llm_window, args.llm_concurrency), args.llm_p50, args.llm_p99)
        phase.littles_law_per_s = phase.concurrency / lognormal_mean(args.llm_p50, args.llm_p99)
        info = await self.slow_llm.start()
        prefix = f"{self.prefix}llm."
        workdir = self.workdir / "llm-phase"
        workdir.mkdir(exist_ok=True)
        entries = [{**e, "llm": {**e["llm"], "base_url": f"{info['url']}/v1", "timeout_s": 60}} for e in self.entries]
        tenants_file = workdir / "tenants.yaml"
        tenants_file.write_text(yaml.safe_dump({"tenants": entries}, sort_keys=False), encoding="utf-8")
        env = {**self.env, "AUTOTRIAGE_CONCURRENCY": str(phase.concurrency), "AUTOTRIAGE_WINDOW": str(phase.window)}
        self.llm_stages = stages = Stages(self.bootstrap, prefix, tenants_file, env, workdir, args.partitions,
                                          args.log_level)
        await stages.create_topics()
        sources = await read_topic(self.bootstrap, f"{self.prefix}tickets.enriched", 50_000)
        taxonomies = await read_topic(self.bootstrap, f"{self.prefix}taxonomies", 10_000)
        if not sources or not taxonomies:
            raise RuntimeError("the LLM phase needs the enriched events and taxonomies of the earlier phases")
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5, compression_type="zstd")
        await producer.start()
        times = TopicTimes(self.bootstrap, f"{prefix}tickets.classified")
        try:
            for tax_key, tax_value in taxonomies:
                await producer.send(f"{prefix}taxonomies", tax_value, key=tax_key)
            await producer.flush()
            classifier = await stages.start("classifier")
            await times.start()
            index = {tenant: i for i, (tenant, _) in enumerate(self.tenants)}
            count = int(phase.rate * phase.seconds)
            phase.tickets = count
            bodies = [orjson.loads(sources[n % len(sources)][1]) for n in range(count)]
            pids = {"classifier": classifier.process.pid, "doubles: LLM (lognormal)": self.slow_llm.pid,
                    "load generator": os.getpid()}
            if (broker := broker_pid(self.bootstrap)) is not None:
                pids["kafka broker"] = broker
            cpu_before = {n: cpu_s(p) for n, p in pids.items()}
            samples: list[float] = []
            stop_sampling = asyncio.Event()
            sampler = asyncio.create_task(sample_in_flight(session, classifier.url, stop_sampling, samples))
            console.log(f"LLM phase: {count} tickets at {phase.rate:g}/s to one classifier, concurrency "
                        f"{phase.concurrency}, window {phase.window}, LLM lognormal p50 {args.llm_p50:g} s "
                        f"p99 {args.llm_p99:g} s")
            keys: list[str] = []
            wall_started, started = time.monotonic(), time.time()
            origin = time.perf_counter()
            for n, event in enumerate(bodies):
                delay = origin + n / phase.rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                key = renumber(event, n, index)
                keys.append(key)
                await producer.send(f"{prefix}tickets.enriched", orjson.dumps(event), key=key.encode())
            ended = time.time()
            phase.offered_per_s = count / max(1e-9, ended - started)
            for _ in range(int(args.drain_timeout / 0.2)):
                if len(times.times) >= count and all(k in times.times for k in keys):
                    break
                await asyncio.sleep(0.2)
            done = [k for k in keys if k in times.times]
            phase.completed = len(done)
            if phase.completed == count:
                phase.drain_s = time.time() - ended
            wall = time.monotonic() - wall_started
            cpu_used = {n: cpu_s(p) - cpu_before[n] for n, p in pids.items()}
            stop_sampling.set()
            await sampler
        finally:
            await producer.stop()
            await times.stop()
        await asyncio.sleep(0.5)
        llm_time = await self.slow_llm.call("timings")
        llm_phase_latencies(phase, done, bodies, index, times.times, llm_time["by_ticket"], started, ended)
        if samples:
            phase.in_flight_mean, phase.in_flight_max = float(np.mean(samples)), max(samples)
        for proc_name, used in cpu_used.items():
            phase.cpu_ms_per_ticket[proc_name] = used / max(1, phase.completed) * 1e3
            phase.cpu_share[proc_name] = used / wall
        console.log(f"LLM phase: completed {phase.completed}/{count}, {phase.completed_per_s:.1f}/s under load")
        await stages.stop()
        self.llm_phase = phase
        return phase

    async def run(self) -> None:
        sys.path.insert(0, str(ROOT))  # the checkout's tests.support (broker helper)
        from tests.support.kafka_local import ensure_broker

        self.bootstrap = ensure_broker()
        if self.args.passthrough_burst > 0:
            self.passthrough = await run_passthrough(
                self.bootstrap, self.prefix, self.args.partitions, self.args.overhead_rates, self.args.phase_s,
                self.args.passthrough_burst, console.log, idle_s=min(5.0, self.args.idle_s),
                client=self.args.passthrough_client)
        await self.setup()
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=None, enable_cleanup_closed=True)
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, skip_auto_headers=("User-Agent",)) as s:
            await self.run_phase(s, "warm-up", 10, 3, self.args.drain_timeout)
            await self.measure_idle(self.args.idle_s)
            for rate in self.args.overhead_rates:
                await self.run_phase(s, f"overhead@{rate:g}/s", rate, self.args.phase_s, self.args.drain_timeout)
            if self.args.backlog > 0:
                await self.run_backlog_phase(s, self.args.backlog, self.args.drain_timeout)
            if self.slow_llm is not None:
                await self.run_llm_phase(s)
            if self.args.rate <= 0:
                return
            # The last phase is not drained to the end when the pipeline cannot keep up (the topics are deleted).
            await self.run_phase(s, "throughput", self.args.rate, self.args.duration, 30)

    async def close(self) -> None:
        if self.reader is not None:
            with contextlib.suppress(Exception):
                await self.reader.stop()
        if self.stages is not None:
            await self.stages.stop()
        if self.llm_stages is not None:
            await self.llm_stages.stop()
        await asyncio.gather(self.psa.stop(), self.llm.stop(), *([self.slow_llm.stop()] if self.slow_llm else []))
        if self.bootstrap:
            await delete_topics(self.bootstrap, self.prefix)

    # --- output -------------------------------------------------------------------------------------
    def reference_phase(self) -> Phase | None:
        """The drained phase with the most tickets: its CPU per ticket counts only finished work."""
        drained = [p for p in self.phases if not math.isnan(p.drain_s) and p.name not in ("warm-up", "backlog")]
        return max(drained, key=lambda p: p.completed, default=None)

    @staticmethod
    def stages_cpu_ms(phase: Phase | None) -> float:
        """The five stages' CPU ms per ticket in a phase."""
        if phase is None:
            return float("nan")
        return sum(v for k, v in phase.cpu_s_per_ticket.items() if k in STAGES) * 1e3

    def report(self) -> dict[str, Any]:
        info = print_machine(self)
        print_phases(self.phases)
        pt, lp = self.passthrough, self.llm_phase
        if pt is not None:
            print_floor(pt)
        if lp is not None:
            print_llm(lp)
        reference = self.reference_phase()
        ref_hop = pt.at(reference.rate) if pt is not None and reference is not None else None
        hop_cpu = ref_hop.cpu_ms if ref_hop else float("nan")
        if self.phases:
            print_cpu(self, reference, pt, ref_hop, hop_cpu)
        print_targets(self, reference, pt, ref_hop, hop_cpu)
        return {"machine": info, "tenants": self.tenants, "partitions": self.args.partitions,
                "load_average": os.getloadavg(), "phases": [asdict(p) for p in self.phases],
                "passthrough": asdict(pt) if pt else None, "llm_phase": asdict(lp) if lp else None,
                "idle_cores": self.idle_cores,
                "doubles_unattributed_s": self.doubles_unattributed}

def renumber(event: dict[str, Any], n: int, index: dict[str, int]) -> str:
    """Make an earlier ``tickets.enriched`` event the ``n``-th new ticket of the LLM phase; its key."""
    old, new = event["ticket_id"], str(50_000_000 + n)
    marker = f"bmk{index.get(event['tenant'], 0)}t"
    ticket = event["ticket"]
    for name in ("summary", "description"):
        ticket[name] = ticket[name].replace(marker + old, marker + new)
    ticket["id"] = event["ticket_id"] = new
    event["event_id"] = uuid.uuid4().hex
    event["occurred_at"] = datetime.now().astimezone().isoformat()
    return f"{event['tenant']}:{new}"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=300, help="offered tickets/s in the throughput phase")
    parser.add_argument("--duration", type=float, default=60, help="seconds of the throughput phase")
    parser.add_argument("--overhead-rates", type=lambda s: [float(x) for x in s.split(",")], default=[50.0, 200.0],
                        help="comma-separated rates of the overhead phases (the one at 200 also gives the ack latency)")
    parser.add_argument("--phase-s", type=float, default=15, help="seconds of each overhead phase")
    parser.add_argument("--tenants", type=int, default=3, choices=range(1, 7), help="tenants (Halo, CW, Autotask, ...)")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--log-level", default="INFO", help="stage log level")
    parser.add_argument("--drain-timeout", type=float, default=240, help="max seconds to wait for a phase to drain")
    parser.add_argument("--llm-rate", type=float, default=100,
                        help="tickets/s offered to one classifier with the lognormal LLM (0: skip that phase)")
    parser.add_argument("--llm-duration", type=float, default=60, help="seconds of the LLM phase")
    parser.add_argument("--llm-concurrency", type=int, default=400, help="handler slots of that classifier")
    parser.add_argument("--llm-window", type=int, default=800, help="in-flight window of that classifier")
    parser.add_argument("--llm-p50", type=float, default=1.0, help="median LLM latency (s) of the LLM phase")
    parser.add_argument("--llm-p99", type=float, default=6.0, help="99th percentile LLM latency (s)")
    parser.add_argument("--seed", type=int, default=17, help="seed of the LLM latency sequence")
    parser.add_argument("--backlog", type=int, default=3000,
                        help="tickets of the backlog (capacity) phase; 0 skips it")
    parser.add_argument("--idle-s", type=float, default=10, help="seconds of CPU measured with no load")
    parser.add_argument("--passthrough-burst", type=int, default=20_000,
                        help="records of the bare pass-through's throughput burst (0: skip it)")
    parser.add_argument("--passthrough-client", default="aiokafka",
                        choices=["aiokafka", "librdkafka", "librdkafka-poll", "librdkafka-sync"],
                        help="Kafka client of the pass-through hops (the stages use aiokafka)")
    parser.add_argument("--profile", choices=STAGES, help="run this stage under cProfile and print its profile")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--workdir", help="where logs, the tenants file and profiles go")
    return parser.parse_args(argv)


async def amain(args: argparse.Namespace) -> int:
    bench = Bench(args)
    try:
        await bench.run()
    finally:
        await bench.close()
    results = bench.report()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    if args.profile:
        print_profile(bench.workdir / f"{args.profile}.prof")
    console.print(f"logs: {bench.workdir}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return asyncio.run(amain(args))


if __name__ == "__main__":
    sys.exit(main())
