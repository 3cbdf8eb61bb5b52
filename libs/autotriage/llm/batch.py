"""Classification of history (backfill, re-evaluation) through the OpenAI Batch API at batch prices (50 % of
the model's price). Live tickets never go through here: a batch may take up to 24 hours.

One run: build one JSONL line per ticket (the exact full-list request ``OpenAIClassifier.classify`` sends,
``custom_id`` = the item's id) -> upload it (``purpose=batch``) -> create the batch (its metadata carries the
input's SHA-256) -> poll until it ends -> download the output and error files -> validate every answer like a
live one (``OpenAIClassifier.judge``: listed id or abstain, refusals, truncation, content filter).

Resumable: each step is written to a JSON state file before the next one starts, so a killed run resumes
where it stopped; a run killed between creating the batch and writing its id finds it again by the input hash
in the batch metadata, so nothing is paid for twice. The same items give the same JSONL (and hash); a state
file of other items is refused.

Azure OpenAI: a Global Batch deployment; requests name the deployment and use ``/chat/completions``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import openai
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ValidationError

from autotriage.core.cost import batch_price, usage_from_openai
from autotriage.core.errors import ConfigError, PermanentError
from autotriage.core.models import Classification, Taxonomy, Ticket, Usage
from autotriage.llm.openai_provider import OpenAIClassifier, PreparedPick
from autotriage.llm.schema import fits_enum

log = logging.getLogger(__name__)

TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
METADATA_KEY = "autotriage_input"
API_ATTEMPTS = 4
_TRANSIENT = (openai.APIConnectionError, openai.APITimeoutError, openai.InternalServerError, openai.RateLimitError)


@dataclass(frozen=True)
class BatchItem:
    """One historical ticket to classify; ``custom_id`` must be unique within a run."""

    custom_id: str
    ticket: Ticket
    taxonomy: Taxonomy


class BatchState(BaseModel):
    """What a run has done so far (the state file)."""

    input_sha256: str
    lines: int
    input_file_id: str | None = None
    batch_id: str | None = None
    status: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None


@dataclass
class BatchOutcome:
    """Every item's validated result (``NEEDS_HUMAN`` with a reason for what the batch did not answer)."""

    batch_id: str
    status: str
    results: dict[str, Classification] = field(default_factory=dict)

    @property
    def usage(self) -> Usage:
        """Tokens and USD (at batch prices) of the whole run."""
        total = Usage()
        for result in self.results.values():
            total = total + result.usage
        return total


class BatchRunner:
    """Runs (or resumes) one batch of history for one tenant's classifier (see the module docstring)."""

    def __init__(self, classifier: OpenAIClassifier, state_path: Path, *, poll_interval_s: float = 60.0,
                 completion_window: str = "24h") -> None:
        self.classifier = classifier
        self.client = classifier.client
        self.state_path = state_path
        self.poll_interval_s = poll_interval_s
        self.completion_window = completion_window
        self.price = batch_price(classifier.price)
        azure = classifier.settings.provider == "azure" and classifier.settings.base_url is None
        self.endpoint = "/chat/completions" if azure else "/v1/chat/completions"

    async def run(self, items: Sequence[BatchItem]) -> BatchOutcome:
        """Submit (or resume) the batch of ``items``, wait for it and return every item's result."""
        picks, early = self._prepare(items)
        data = self._jsonl(picks)
        state = self._load(hashlib.sha256(data).hexdigest(), len(picks))
        if not picks:
            return BatchOutcome("", "empty", early)
        if state.batch_id is None:
            await self._submit(state, data)
        batch = await self._wait(state)
        results = dict(early)
        results.update(await self._collect(state, picks))
        for custom_id in picks:
            results.setdefault(custom_id, self._missing(batch.status))
        return BatchOutcome(batch.id, batch.status, results)

    # ------------------------------------------------------------------------------------------ build

    def _prepare(self, items: Sequence[BatchItem]) -> tuple[dict[str, PreparedPick], dict[str, Classification]]:
        picks: dict[str, PreparedPick] = {}
        early: dict[str, Classification] = {}
        for item in items:
            if item.custom_id in picks or item.custom_id in early:
                raise ConfigError(f"custom_id {item.custom_id!r} appears twice: every batch item needs its own id")
            candidates = list(item.taxonomy.candidates)
            if not candidates:
                early[item.custom_id] = self.classifier.needs_human("empty_taxonomy",
                                                                    "no categories are allowed for this scope")
            elif not fits_enum([c.id for c in candidates], self.classifier.settings.max_enum):
                early[item.custom_id] = self.classifier.needs_human(
                    "taxonomy_too_large", "a two-stage pick needs two calls: classify this scope live")
            else:
                picks[item.custom_id] = self.classifier.prepare(item.ticket, candidates,
                                                                scope_name=item.taxonomy.scope_name)
        return picks, early

    def _jsonl(self, picks: dict[str, PreparedPick]) -> bytes:
        lines = []
        for custom_id, pick in picks.items():
            body = self.classifier.request_body(pick)
            lines.append(json.dumps({"custom_id": custom_id, "method": "POST", "url": self.endpoint, "body": body},
                                    ensure_ascii=False, separators=(",", ":")))
        return ("\n".join(lines) + "\n").encode() if lines else b""

    # ------------------------------------------------------------------------------------------ state

    def _load(self, digest: str, lines: int) -> BatchState:
        if not self.state_path.exists():
            state = BatchState(input_sha256=digest, lines=lines)
            self._save(state)
            return state
        try:
            state = BatchState.model_validate_json(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValidationError) as exc:
            raise ConfigError(f"{self.state_path} is not a batch state file ({exc}); move it away to start "
                              "a new batch") from exc
        if state.input_sha256 != digest:
            raise ConfigError(f"{self.state_path} belongs to a batch of other tickets; resume with the same "
                              "tickets, or use another state file for a new batch")
        log.info("resuming batch run from %s (batch %s, status %s)", self.state_path, state.batch_id, state.status)
        return state

    def _save(self, state: BatchState) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(state.model_dump_json(indent=2), encoding="utf-8")
        tmp.replace(self.state_path)

    # ------------------------------------------------------------------------------------------ API

    async def _submit(self, state: BatchState, data: bytes) -> None:
        if state.input_file_id is not None:
            found = await self._find_batch(state)
            if found is not None:
                state.batch_id, state.status = found.id, found.status
                self._save(state)
                return
        else:
            uploaded = await self._api(lambda: self.client.files.create(
                file=(f"autotriage-{state.input_sha256[:16]}.jsonl", data, "application/jsonl"), purpose="batch"))
            state.input_file_id = uploaded.id
            self._save(state)
        batch = await self._api(lambda: self.client.batches.create(
            input_file_id=state.input_file_id, endpoint=self.endpoint,  # type: ignore[arg-type]
            completion_window=self.completion_window,  # type: ignore[arg-type]
            metadata={METADATA_KEY: state.input_sha256, "source": "autotriage"}))
        state.batch_id, state.status = batch.id, batch.status
        self._save(state)
        log.info("batch %s created for %d tickets (input file %s)", batch.id, state.lines, state.input_file_id)

    async def _find_batch(self, state: BatchState) -> Any:
        """A batch this run created before it was killed (same input file and hash), if any."""
        async for batch in self.client.batches.list(limit=100):
            if batch.input_file_id == state.input_file_id and (batch.metadata or {}).get(METADATA_KEY) == \
                    state.input_sha256:
                return batch
        return None

    async def _wait(self, state: BatchState) -> Any:
        batch_id = state.batch_id
        if batch_id is None:
            raise RuntimeError("the batch was never submitted (no batch id in the state file)")
        while True:
            batch = await self._api(lambda: self.client.batches.retrieve(batch_id))
            if batch.status != state.status:
                counts = batch.request_counts
                log.info("batch %s: %s (%s of %s done)", batch.id, batch.status,
                         counts.completed if counts else "?", counts.total if counts else "?")
            state.status = batch.status
            if batch.status in TERMINAL:
                state.output_file_id, state.error_file_id = batch.output_file_id, batch.error_file_id
                self._save(state)
                if batch.status == "failed" and not batch.output_file_id:
                    errors = "; ".join(f"line {e.line}: {e.message}" for e in (batch.errors.data or [])[:5]) \
                        if batch.errors else "no details"
                    raise PermanentError("batch_failed", f"batch {batch.id} failed: {errors}")
                return batch
            self._save(state)
            await asyncio.sleep(self.poll_interval_s)

    async def _collect(self, state: BatchState, picks: dict[str, PreparedPick]) -> dict[str, Classification]:
        results: dict[str, Classification] = {}
        for file_id in (state.output_file_id, state.error_file_id):
            if not file_id:
                continue
            content = await self._api(partial(self.client.files.content, file_id))
            for raw in content.text.splitlines():
                if raw.strip():
                    custom_id, result = self._line(json.loads(raw), picks)
                    if custom_id is not None:
                        results[custom_id] = result
        return results

    def _line(self, line: dict[str, Any], picks: dict[str, PreparedPick]) -> tuple[str | None, Classification]:
        """One output/error line, validated like a live answer."""
        custom_id = str(line.get("custom_id") or "")
        pick = picks.get(custom_id)
        if pick is None:
            log.warning("batch output names unknown custom_id %r; ignored", custom_id)
            return None, self.classifier.needs_human("unknown", "")
        response = line.get("response") or {}
        if line.get("error") or response.get("status_code") != 200:
            error = line.get("error") or (response.get("body") or {}).get("error") or {}
            status = response.get("status_code")
            return custom_id, self.classifier.needs_human("batch_request_failed",
                                           f"the batch request failed ({status}): {str(error.get('message'))[:200]}")
        try:
            completion = ChatCompletion.model_validate(response.get("body"))
        except ValidationError:
            return custom_id, self.classifier.needs_human("empty_response", "the batch returned no chat completion")
        usage = usage_from_openai(completion.usage, self.price)
        self.classifier.account(usage)
        judged = self.classifier.judge(completion, pick, usage)
        if judged is None:
            judged = self.classifier.needs_human("invalid_answer", "the model did not name a valid category", usage)
        return custom_id, judged

    def _missing(self, status: str) -> Classification:
        return self.classifier.needs_human(
            f"batch_{status}", f"the batch ended {status} before this ticket was answered; run it in a new batch")

    async def _api(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """One API call; transient errors are retried with backoff (a batch run lasts hours), then the run stops
        with a message (run it again: it resumes from the state file)."""
        for attempt in range(1, API_ATTEMPTS + 1):
            try:
                return await call()
            except _TRANSIENT as exc:
                if attempt == API_ATTEMPTS:
                    raise PermanentError("batch_api_unavailable", f"{type(exc).__name__}: {exc}; run again to "
                                         f"resume from {self.state_path}") from exc
                await asyncio.sleep(min(30.0, self.poll_interval_s) * attempt)
        raise AssertionError("unreachable")
