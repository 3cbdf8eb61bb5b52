"""The classifier's text pool: large tickets prepared in a worker process give exactly the inline result, small
ones never leave the loop, and a worker that dies costs a restart, never the ticket."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
import pytest

from autotriage.classifier.text_pool import TextPool
from autotriage.classifier.view import PromptView, prompt_view
from autotriage.core import metrics
from autotriage.core.errors import TransientError
from autotriage.core.models import Ticket
from autotriage.core.tenants import Policy

BUDGET = 1200
#: Where ``_dies_once`` leaves its mark (a worker process does not share the test's memory).
MARK_ENV = "AUTOTRIAGE_TEST_TEXT_POOL_MARK"

FORWARDED_PHISH = Ticket(id="9101", scope="1", summary="FW: Your mailbox is almost full", description=(
    "is this real?? it wants my password\n\nThanks,\nMaria Lopez\nOffice Manager | Harbour Dental\n"
    "Direct: (555) 0147 ext. 22\n\n-----Original Message-----\nFrom: IT Helpdesk <it-desk@harb0ur-dental.example>\n"
    "Sent: Monday, March 2, 2026 8:14 AM\nTo: Maria Lopez <maria@harbourdental.example>\nSubject: Your mailbox is "
    "almost full\n\n" + "Your mailbox has reached 98% of its quota. Sign in at http://harb0ur-dental.example/owa "
    "with your password to keep receiving mail. Wi-Fi password is bluefish. admin:Pa55word!\n" * 120))
HTML_NEWSLETTER = Ticket(id="9102", scope="1", summary="March product news", description=(
    "<html><body>" + "<div><p>New in March: <b>faster backups</b> for jane.doe@example.com, call 555-0182"
    "</p><!-- tracking --></div>\n" * 300 + "<p>Unsubscribe</p></body></html>"))
LOG_PASTE = Ticket(id="9103", scope="1", summary="Backup job fails every night", description=(
    "The Veeam job for FS01 failed again, log below. Server 10.20.30.40, MAC 00:1A:2B:3C:4D:5E.\n\n"
    + "2026-03-02 01:00:0%d Error: Failed to connect to repository \\\\NAS02\\backups (0x80070035)\n" * 400))
HUGE_HTML = Ticket(id="9105", scope="1", summary="Fwd: invoice", description=(
    "<div>" + "<p>Invoice 4471 attached, pay to IBAN DE44 5001 0517 5407 3249 31 or call (555) 0123</p>" * 6_000
    + "<p>the line that is never read</p>"))  # well over the cleaning's input cap: shipped cut to it
SMALL = Ticket(id="9104", scope="1", summary="Printer offline", description="The front desk printer says offline.")


def _dies_once(ticket: Ticket, policy: Policy, budget: int) -> PromptView:
    """Prepare a ticket, but kill this worker process the first time (what the OOM killer does mid-ticket)."""
    mark = Path(os.environ[MARK_ENV])
    if not mark.exists():
        mark.write_text("killed")
        os.kill(os.getpid(), signal.SIGKILL)
    return prompt_view(ticket, policy, budget)


def _always_dies(ticket: Ticket, policy: Policy, budget: int) -> PromptView:
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


POLICIES = (Policy(), Policy(redact_pii=False), Policy(noise_filter=False))


async def test_a_worker_process_gives_exactly_the_inline_prompt() -> None:
    text = TextPool(1, process_chars=2_000)
    text.start()
    try:
        for ticket in (FORWARDED_PHISH, HTML_NEWSLETTER, LOG_PASTE, HUGE_HTML):
            assert len(ticket.description) > text.process_chars
            for policy in POLICIES:
                assert await text.view(ticket, policy, BUDGET) == prompt_view(ticket, policy, BUDGET), ticket.id
        assert text.restarts == 0
    finally:
        await text.close()


async def test_a_small_ticket_never_starts_a_worker() -> None:
    text = TextPool(1, process_chars=2_000)
    view = await text.view(SMALL, Policy(), BUDGET)
    assert view == prompt_view(SMALL, Policy(), BUDGET) and text._pool is None  # nothing was spawned
    await text.close()


async def test_a_worker_killed_mid_ticket_is_replaced_and_the_ticket_prepared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MARK_ENV, str(tmp_path / "mark"))  # spawned workers inherit the environment
    restarts = metrics.REGISTRY.get_sample_value("autotriage_text_worker_restarts_total") or 0.0
    text = TextPool(1, process_chars=2_000, prepare=_dies_once)
    try:
        view = await text.view(FORWARDED_PHISH, Policy(), BUDGET)
    finally:
        await text.close()
    assert (tmp_path / "mark").read_text() == "killed" and text.restarts == 1
    assert metrics.REGISTRY.get_sample_value("autotriage_text_worker_restarts_total") == restarts + 1
    assert view == prompt_view(FORWARDED_PHISH, Policy(), BUDGET)


async def test_an_idle_worker_killed_from_outside_is_replaced() -> None:
    text = TextPool(1, process_chars=2_000)
    try:
        await text.view(LOG_PASTE, Policy(), BUDGET)
        assert text._pool is not None
        for pid in list(text._pool._processes or {}):  # the OOM killer, between two tickets
            os.kill(pid, signal.SIGKILL)
            psutil.Process(pid).wait(5)
        assert await text.view(HTML_NEWSLETTER, Policy(), BUDGET) == prompt_view(HTML_NEWSLETTER, Policy(), BUDGET)
        assert text.restarts == 1
    finally:
        await text.close()


async def test_a_ticket_that_kills_every_worker_goes_to_the_retry_path_and_the_pool_lives_on() -> None:
    text = TextPool(1, process_chars=2_000, prepare=_always_dies)
    try:
        with pytest.raises(TransientError) as lost:
            await text.view(LOG_PASTE, Policy(), BUDGET)
        assert lost.value.reason == "text_worker_lost" and text.restarts == 2
        text.prepare = prompt_view  # the next ticket is prepared by a fresh worker
        assert await text.view(LOG_PASTE, Policy(), BUDGET) == prompt_view(LOG_PASTE, Policy(), BUDGET)
    finally:
        await text.close()


async def test_close_stops_the_workers() -> None:
    text = TextPool(2, process_chars=2_000)
    await text.view(LOG_PASTE, Policy(), BUDGET)
    assert text._pool is not None
    processes = list((text._pool._processes or {}).values())
    assert len(processes) >= 1 and all(p.is_alive() for p in processes)
    await text.close()
    assert not any(p.is_alive() for p in processes) and text._pool is None
    await text.close()  # closing twice is harmless


async def test_without_workers_large_tickets_go_to_a_thread() -> None:
    text = TextPool(0, process_chars=2_000)
    assert await text.view(LOG_PASTE, Policy(), BUDGET) == prompt_view(LOG_PASTE, Policy(), BUDGET)
    assert text._pool is None
