"""History through the Batch API of the OpenAI test server with the real ``openai`` client: 1,000 tickets,
the submitting process killed (SIGKILL) while the batch runs, the run resumed from its state file; answers
validated like live ones, priced at batch prices."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from autotriage.core.cost import batch_price, cost_usd
from autotriage.core.errors import ConfigError
from autotriage.core.models import Verdict
from autotriage.core.tenants import DEFAULT_PRICES
from autotriage.llm.batch import BatchRunner
from autotriage.sandbox.openai_server import OpenAITestServer, Reply, default_responder
from tests.support.batch_history import batch_classifier, history_items

ROOT = Path(__file__).resolve().parents[2]
TICKETS = 1000
PYTHONPATH = os.pathsep.join(str(ROOT / part) for part in ("libs", "services", "."))


async def wait_for(condition: Any, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def state_of(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


async def test_1000_tickets_survive_a_kill_and_resume(tmp_path: Path) -> None:
    items = history_items(TICKETS)
    refused, failing = items[5], items[7]
    async with OpenAITestServer() as server:
        def responder(body: dict[str, Any]) -> Reply:
            if f"Summary: {refused.ticket.summary}\n" in body["messages"][-1]["content"]:
                return Reply(None, refusal="I'm sorry, but I can't assist with that request.")
            return default_responder(body)

        server.responder = responder
        server.batch.line_faults[failing.custom_id] = 500
        server.batch.gate = asyncio.Event()  # the batch stays in progress until released
        state = tmp_path / "backfill.json"
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.support.batch_history", server.base_url, str(state), str(TICKETS),
            cwd=ROOT, env={**os.environ, "PYTHONPATH": PYTHONPATH},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        await wait_for(lambda: bool(state_of(state).get("batch_id")) and bool(server.batch.batches))
        batch = next(iter(server.batch.batches.values()))
        assert batch.status == "in_progress" and batch.total == TICKETS and batch.completed == 0
        worker.send_signal(signal.SIGKILL)
        assert await worker.wait() == -signal.SIGKILL
        assert state_of(state)["batch_id"] == batch.id

        server.batch.gate.set()
        classifier = batch_classifier(server.base_url)
        try:
            outcome = await BatchRunner(classifier, state, poll_interval_s=0.05).run(items)
        finally:
            await classifier.close()

        assert len(server.batch.uploads) == 1 and len(server.batch.batches) == 1  # nothing sent or paid twice
        assert outcome.batch_id == batch.id and outcome.status == "completed"
        assert batch.completed == TICKETS - 1 and batch.failed == 1 and batch.error_file_id is not None
        assert server.counters["completions"] == 0  # history never used the live endpoint
    assert set(outcome.results) == {i.custom_id for i in items}
    by_id = {i.custom_id: i for i in items}
    verdicts = {v: sum(1 for r in outcome.results.values() if r.verdict is v) for v in Verdict}
    for custom_id, result in outcome.results.items():
        if result.verdict is Verdict.CHOSEN:  # validated against the item's own taxonomy
            assert result.candidate is not None
            assert by_id[custom_id].taxonomy.by_id(result.candidate.id) == result.candidate
    assert outcome.results[refused.custom_id].reason == "refusal"
    assert outcome.results[failing.custom_id].reason == "batch_request_failed"
    assert verdicts[Verdict.CHOSEN] + verdicts[Verdict.ABSTAINED] >= TICKETS - 10
    usage = outcome.usage
    assert usage.prompt_tokens == server.counters["prompt_tokens"] and usage.calls == TICKETS - 1
    price = DEFAULT_PRICES["gpt-4o-mini"]
    batch_cost = cost_usd(usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens, batch_price(price))
    assert usage.cost_usd == pytest.approx(batch_cost)
    assert usage.cost_usd == pytest.approx(
        cost_usd(usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens, price) / 2)


async def test_a_batch_created_just_before_the_kill_is_found_again(tmp_path: Path) -> None:
    """Killed after the batch was created but before its id reached the state file: the resumed run finds
    the batch by the input hash in its metadata instead of paying for a second one."""
    items = history_items(20)
    state = tmp_path / "state.json"
    async with OpenAITestServer() as server:
        server.batch.gate = asyncio.Event()
        classifier = batch_classifier(server.base_url)
        first = asyncio.create_task(BatchRunner(classifier, state, poll_interval_s=0.05).run(items))
        await wait_for(lambda: bool(state_of(state).get("batch_id")))
        first.cancel()
        saved = state_of(state)
        state.write_text(json.dumps({**saved, "batch_id": None, "status": None}))  # the lost write
        server.batch.gate.set()
        outcome = await BatchRunner(classifier, state, poll_interval_s=0.05).run(items)
        await classifier.close()
        assert len(server.batch.batches) == 1 and len(server.batch.uploads) == 1
    assert outcome.batch_id == saved["batch_id"] and len(outcome.results) == 20


async def test_a_state_file_of_other_tickets_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    async with OpenAITestServer() as server:
        classifier = batch_classifier(server.base_url)
        await BatchRunner(classifier, state, poll_interval_s=0.05).run(history_items(3))
        with pytest.raises(ConfigError, match="belongs to a batch of other tickets"):
            await BatchRunner(classifier, state, poll_interval_s=0.05).run(history_items(4))
        await classifier.close()
