"""The benchmark's printed report: one rich table per part of the run, and a stage's cProfile."""

from __future__ import annotations

import math
import os
import pstats
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench_common import STAGES, console
from bench_measure import LLMPhase, Phase, machine
from bench_passthrough import HOPS, PassThroughResult
from rich.table import Table

if TYPE_CHECKING:
    from bench_pipeline import Bench


def print_machine(bench: Bench) -> dict[str, str]:
    """The machine, the tenants and the load average; returns the machine's facts."""
    info = machine(bench.bootstrap)
    console.print(f"[bold]Machine[/]: {info['cpu']}, {info['ram']} RAM, {info['os']}, Python {info['python']}, "
                  f"Kafka {info['kafka']} (single KRaft node on the same machine), aiokafka {info['aiokafka']}")
    tenants = ", ".join(f"{t} ({k})" for t, k in bench.tenants)
    console.print(f"tenants: {tenants}; partitions {bench.args.partitions}; stage log level {bench.args.log_level}; "
                  f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return info


def print_phases(phases: list[Phase]) -> None:
    results = Table(title="Pipeline benchmark (instant PSA and LLM doubles)")
    for column in ("phase", "offered/s", "accepted", "done", "completed/s under load", "overall/s", "ack p50 ms",
                   "ack p99 ms", "overhead p50 ms", "overhead p99 ms", "e2e p99 ms", "doubles ms/ticket",
                   "drain s"):
        results.add_column(column, justify="right" if column != "phase" else "left")
    for p in phases:
        results.add_row(p.name, f"{p.offered_per_s:.0f}", f"{p.accepted}/{p.tickets}", str(p.completed),
                        f"{p.completed_per_s:.1f}", f"{p.overall_per_s:.1f}", f"{p.ack_p50_ms:.1f}",
                        f"{p.ack_p99_ms:.1f}", f"{p.overhead_p50_ms:.0f}", f"{p.overhead_p99_ms:.0f}",
                        f"{p.e2e_p99_ms:.0f}", f"{p.doubles_per_ticket_ms:.1f}", f"{p.drain_s:.1f}")
    console.print(results)



def print_floor(pt: PassThroughResult) -> None:
    floor = Table(title=f"Floor: bare {pt.client} 5-hop pass-through (consume, produce, commit per batch; same "
                        f"broker, same run); idle {pt.idle_cores_mean:.3f} cores per hop")
    for column in ("records at", "records", "p50 ms end to end", "p99 ms end to end", "CPU ms/hop/record",
                   "above idle", "records/s end to end"):
        floor.add_column(column, justify="right")
    for at in pt.rates:
        floor.add_row(f"{at.rate:g}/s", str(at.records), f"{at.p50_ms:.1f}", f"{at.p99_ms:.1f}",
                      f"{at.cpu_ms:.3f}", f"{pt.above_idle_ms(at):.3f}", f"{at.rate:g}")
    floor.add_row("burst", str(pt.burst_records), "", "", f"{pt.cpu_ms_per_hop_mean:.3f}", "",
                  f"{pt.burst_per_s:.0f}")
    console.print(floor)


def print_llm(lp: LLMPhase) -> None:
    llm = Table(title=f"One classifier, LLM double with lognormal latency (p50 {lp.p50_s:g} s, "
                      f"p99 {lp.p99_s:g} s)")
    for column in ("offered/s", "done", "completed/s under load", "concurrency", "window",
                   "Little's law bound/s", "in flight mean", "in flight max", "LLM p50 ms", "LLM p99 ms",
                   "e2e p50 ms", "e2e p99 ms", "overhead p50 ms", "overhead p99 ms", "drain s"):
        llm.add_column(column, justify="right")
    llm.add_row(f"{lp.offered_per_s:.0f}", f"{lp.completed}/{lp.tickets}", f"{lp.completed_per_s:.1f}",
                str(lp.concurrency), str(lp.window), f"{lp.littles_law_per_s:.0f}", f"{lp.in_flight_mean:.0f}",
                f"{lp.in_flight_max:.0f}", f"{lp.llm_p50_ms:.0f}", f"{lp.llm_p99_ms:.0f}",
                f"{lp.e2e_p50_ms:.0f}", f"{lp.e2e_p99_ms:.0f}", f"{lp.overhead_p50_ms:.0f}",
                f"{lp.overhead_p99_ms:.0f}", f"{lp.drain_s:.1f}")
    console.print(llm)
    cpu_llm = Table(title="CPU during the LLM phase")
    for column in ("process", "CPU ms/ticket", "cores used"):
        cpu_llm.add_column(column, justify="right" if column != "process" else "left")
    for proc_name, per in lp.cpu_ms_per_ticket.items():
        cpu_llm.add_row(proc_name, f"{per:.2f}", f"{lp.cpu_share.get(proc_name, 0):.2f}")
    console.print(cpu_llm)



def print_cpu(
    bench: Bench, reference: Phase | None, pt: PassThroughResult | None, ref_hop: Any, hop_cpu: float
) -> None:
    ref_name = reference.name if reference else "-"
    cpu = Table(title=f"CPU ms per ticket by process and phase ('x hop': '{ref_name}' against one "
                      "pass-through hop at the same rate)")
    cpu.add_column("process")
    for p in bench.phases:
        cpu.add_column(p.name, justify="right")
    cpu.add_column("x hop", justify="right")
    cpu.add_column("idle cores", justify="right")
    cpu.add_column(f"above idle ({ref_name})", justify="right")
    cpu.add_column("peak RSS MB", justify="right")
    for proc_name in bench.phases[-1].cpu_s_per_ticket:
        peak = max((p.peak_rss_mb.get(proc_name, 0.0) for p in bench.phases), default=float("nan"))
        ref = reference.cpu_s_per_ticket.get(proc_name, float("nan")) * 1e3 if reference else float("nan")
        ratio = f"{ref / hop_cpu:.1f}x" if proc_name in STAGES and hop_cpu > 0 else ""
        above = bench.above_idle_ms(reference, proc_name) if reference else float("nan")
        cpu.add_row(proc_name, *(f"{p.cpu_s_per_ticket.get(proc_name, float('nan')) * 1e3:.2f}"
                                 for p in bench.phases), ratio,
                    f"{bench.idle_cores.get(proc_name, float('nan')):.3f}", f"{above:.2f}", f"{peak:.0f}")
    stage_sums = [sum(v for k, v in p.cpu_s_per_ticket.items() if k in STAGES) * 1e3 for p in bench.phases]
    ref_sum = bench.stages_cpu_ms(reference)
    idle_sum = sum(v for k, v in bench.idle_cores.items() if k in STAGES)
    above_sum = sum(bench.above_idle_ms(reference, k) for k in STAGES) if reference else float("nan")
    cpu.add_row("[bold]five stages[/]", *(f"{v:.2f}" for v in stage_sums),
                f"{ref_sum / (HOPS * hop_cpu):.1f}x" if hop_cpu > 0 else "", f"{idle_sum:.3f}",
                f"{above_sum:.2f}", "")
    if pt is not None:
        hop_rows = [pt.at(p.rate) for p in bench.phases]
        cpu.add_row("five pass-through hops", *(f"{HOPS * h.cpu_ms:.2f}" if h else "" for h in hop_rows),
                    "1x", f"{HOPS * pt.idle_cores_mean:.3f}",
                    f"{HOPS * pt.above_idle_ms(ref_hop):.2f}" if ref_hop else "", "")
    cpu.add_row("[bold]all processes[/]", *(f"{sum(p.cpu_s_per_ticket.values()) * 1e3:.2f}"
                                            for p in bench.phases), "", "", "", "")
    cpu.add_row("cores used", *(f"{sum(p.cpu_share.values()):.2f}" for p in bench.phases), "", "", "", "")
    console.print(cpu)



def print_targets(
    bench: Bench, reference: Phase | None, pt: PassThroughResult | None, ref_hop: Any, hop_cpu: float
) -> None:
    by_name = {p.name: p for p in bench.phases}
    lp = bench.llm_phase
    targets = Table(title="Targets")
    for column in ("target", "measured", "verdict", "floor (pass-through, same run)"):
        targets.add_column(column)
    tp = by_name.get("throughput")
    at200 = next((p for p in bench.phases if p.name.startswith("overhead@200")), None)
    at50 = next((p for p in bench.phases if p.name.startswith("overhead@50")), None)
    nan = float("nan")
    hop50 = pt.at(50.0) if pt else None
    checks = [
        (">= 300 tickets/s end to end (sustained 60 s)", tp.completed_per_s if tp else nan, 300, ">=",
         f"{pt.burst_per_s:.0f} records/s" if pt else ""),
        ("ingress ack p99 < 50 ms at 200 req/s", at200.ack_p99_ms if at200 else nan, 50, "<", ""),
        ("pipeline overhead p99 < 100 ms at 50 tickets/s (instant doubles)",
         at50.overhead_p99_ms if at50 else nan, 100, "<", f"p99 {hop50.p99_ms:.1f} ms end to end" if hop50 else ""),
        (f"five stages' CPU <= 4 ms per ticket ('{reference.name if reference else '-'}')",
         bench.stages_cpu_ms(reference), 4, "<=", f"{HOPS * hop_cpu:.2f} ms for five hops" if ref_hop else ""),
        (f"  the same, above the stages' idle CPU ('{reference.name if reference else '-'}')",
         sum(bench.above_idle_ms(reference, k) for k in STAGES) if reference else nan, 4, "<=",
         f"{HOPS * pt.above_idle_ms(ref_hop):.2f} ms for five hops" if pt and ref_hop else ""),
        ("  the same, draining a backlog (the pipeline busy, Kafka requests batched)",
         bench.stages_cpu_ms(by_name.get("backlog")), 4, "<=",
         f"{HOPS * pt.cpu_ms_per_hop_mean:.2f} ms for five hops in a burst" if pt else ""),
        (f"one classifier >= 100 tickets/s, LLM p50 {bench.args.llm_p50:g} s p99 {bench.args.llm_p99:g} s",
         lp.completed_per_s if lp else nan, 100, ">=",
         f"Little's law bound {lp.littles_law_per_s:.0f}/s at concurrency {lp.concurrency}" if lp else ""),
    ]
    for label, value, bound, op, floor_text in checks:
        ok = value >= bound if op == ">=" else value <= bound if op == "<=" else value < bound
        verdict = "not run" if math.isnan(value) else "[green]met[/]" if ok else "[red]missed[/]"
        targets.add_row(label, f"{value:.2f}", verdict, floor_text)
    console.print(targets)


def print_profile(path: Path, limit: int = 25) -> None:
    if not path.is_file():
        console.print(f"no profile written at {path}")
        return
    for sort in ("tottime", "cumulative"):
        console.rule(f"cProfile of {path.stem}, by {sort}")
        pstats.Stats(str(path)).strip_dirs().sort_stats(sort).print_stats(limit)
