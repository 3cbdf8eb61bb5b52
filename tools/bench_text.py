#!/usr/bin/env python3
"""Text benchmark: every text function on hostile inputs of 64 KB, 256 KB and 1 MB, and the event-loop lag while
such tickets go through the classifier's preparation step.

Inputs (each repeated to the size): credential keywords ("password "), "password is " phrases, "Thanks" lines,
quote markers ("> "), nested Outlook forwards, reply attributions, HTML soup ("<script>", "<", unclosed tags,
nested divs), private-key headers, e-mail addresses, phone numbers, emoji, NUL and bidi characters, one endless
word, spaces. Each function gets the whole input (the caps inside the functions decide how much is read).

Prints, per function and size, the slowest input and its time (best of ``--repeat``), the ratio to a same-run
baseline (``str.lower`` of the same input: one linear pass in C), and a verdict against the 50 ms target. Then
the event-loop lag p50/p99/max of the classifier's ``prompt_view_async`` on a stream of these tickets (large ones
prepared on a worker thread) next to the same stream prepared inline.

    python3 tools/bench_text.py [--repeat 3] [--tickets 60]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable

from autotriage.classifier.view import prompt_view, prompt_view_async
from autotriage.core.loop_lag import LoopLagMonitor
from autotriage.core.models import Ticket
from autotriage.core.tenants import Policy
from autotriage.core.text.clean import clean_summary, clean_ticket_text
from autotriage.core.text.pii import Redactor
from autotriage.core.text.prepare import prepare_ticket
from autotriage.core.text.tokens import count_tokens
from autotriage.policy.noise import detect_noise

SIZES = {"64 KB": 64 * 1024, "256 KB": 256 * 1024, "1 MB": 1024 * 1024}
TARGET_S = 0.050
BUDGET = 1200

UNITS = {
    "password keyword": "password ",
    "password is": "my password is ",
    "Thanks lines": "Thanks\n",
    "quote markers": "> ",
    "quoted lines": "> > > x\n",
    "nested forwards": "-----Original Message-----\nFrom: A <a@example.com>\nSent: Monday\nTo: B\nSubject: FW: x\n\n"
                       "see below\n\n",
    "attributions": "On Mon, Jan 5, 2026 at 9:00 AM Bob <bob@example.com> wrote:\n> hi\n",
    "<script>": "<script>",
    "< only": "<",
    "unclosed tags": "<p class='x' <div ",
    "nested divs": "<div><span><b>x</b>",
    "html comments": "<!-- x ",
    "private key": "-----BEGIN RSA PRIVATE KEY-----\n",
    "emails": "jane.doe@example.com ",
    "phones": "(555) 0123 ext. 12, ",
    "emoji": "\U0001f600\U0001f44d ",
    "NUL + bidi": "\x00\u202e\u200b",
    "one word": "a",
    "spaces": " ",
    "ooo phrases": "I am out of the office until Monday. ",
}

Fn = Callable[[str], object]
POLICY = Policy()


def _functions() -> dict[str, Fn]:
    return {
        "clean_ticket_text": clean_ticket_text,
        "clean_summary": clean_summary,
        "Redactor.redact": lambda text: Redactor().redact(text),
        "detect_noise": lambda text: detect_noise(Ticket(id="1", scope="1", summary=text[:2000], description=text)),
        "count_tokens": count_tokens,
        "prepare_ticket (clean+redact+trim)": lambda text: prepare_ticket(
            Ticket(id="1", scope="1", summary=text, description=text), BUDGET,
            lambda t: t.model_copy(update={"description": Redactor().redact(t.description)})),
        "prompt_view (noise+all)": lambda text: prompt_view(
            Ticket(id="1", scope="1", summary="RE: " + text[:200], description=text), POLICY, BUDGET),
    }


def _best(fn: Fn, text: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn(text)
        best = min(best, time.perf_counter() - started)
    return best


def bench_functions(repeat: int) -> bool:
    """Print the slowest input per function and size; True when every one is under the target."""
    ok = True
    print(f"{'function':38s} {'size':>7s} {'slowest input':18s} {'time':>9s} {'baseline':>9s} {'ratio':>7s}  verdict")
    for name, fn in _functions().items():
        for size_name, size in SIZES.items():
            worst = ("", 0.0, 0.0)
            for unit_name, unit in UNITS.items():
                text = (unit * (size // len(unit) + 1))[:size]
                elapsed = _best(fn, text, repeat)
                if elapsed > worst[1]:
                    worst = (unit_name, elapsed, _best(str.lower, text, repeat))
            unit_name, elapsed, baseline = worst
            verdict = "ok" if elapsed < TARGET_S else "OVER 50 ms"
            ok = ok and elapsed < TARGET_S
            print(f"{name:38s} {size_name:>7s} {unit_name:18s} {elapsed * 1000:7.2f}ms {baseline * 1000:7.2f}ms "
                  f"{elapsed / max(baseline, 1e-9):6.0f}x  {verdict}")
    return ok


async def _stream(tickets: list[Ticket], offload: bool) -> LoopLagMonitor:
    monitor = LoopLagMonitor(interval_s=0.002)
    monitor.start()
    await asyncio.sleep(0.02)
    for ticket in tickets:
        if offload:
            await prompt_view_async(ticket, POLICY, BUDGET)
        else:
            prompt_view(ticket, POLICY, BUDGET)
        await asyncio.sleep(0.005)  # other tenants' work between tickets
    await monitor.stop()
    return monitor


def bench_loop_lag(n: int) -> None:
    """Event-loop lag while hostile tickets of every size are prepared, offloaded vs inline."""
    units = list(UNITS.values())
    sizes = list(SIZES.values())
    tickets = [Ticket(id=str(i), scope="1", summary="RE: printer",
                      description=(units[i % len(units)] * (sizes[i % len(sizes)] // len(units[i % len(units)]))))
               for i in range(n)]
    for offload in (True, False):
        started = time.perf_counter()
        monitor = asyncio.run(_stream(tickets, offload))
        took = time.perf_counter() - started
        label = "prompt_view_async (large on a thread)" if offload else "prompt_view inline (no offload)"
        print(f"{label:40s} {n} tickets in {took:5.2f} s: loop lag p50 {monitor.quantile(0.5) * 1000:6.2f} ms, "
              f"p99 {monitor.quantile(0.99) * 1000:6.2f} ms, max {max(monitor.samples) * 1000:6.2f} ms "
              f"({len(monitor.samples)} samples)")


def main() -> None:
    """Run both parts."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tickets", type=int, default=60)
    args = parser.parse_args()
    count_tokens("warm up")  # loads the tokenizer's encoding once, outside the measurements
    ok = bench_functions(args.repeat)
    print()
    bench_loop_lag(args.tickets)
    print("\nall functions under 50 ms at every size" if ok else "\nSOME FUNCTIONS ARE OVER 50 ms")


if __name__ == "__main__":
    main()
