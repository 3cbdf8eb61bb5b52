"""The OpenAI Files and Batch API of the test server (``OpenAITestServer.batch``).

Routes: ``POST /v1/files`` (multipart ``file`` + ``purpose``), ``GET /v1/files/{id}``, ``GET /v1/files/{id}/
content``, ``POST /v1/batches``, ``GET /v1/batches`` (``after``, ``limit``, newest first), ``GET /v1/batches/
{id}``, ``POST /v1/batches/{id}/cancel``. A batch goes ``validating`` -> ``in_progress`` -> ``finalizing`` ->
``completed`` (or ``failed`` when its input file is invalid; ``cancelling`` -> ``cancelled``). Every input
line ``{"custom_id", "method": "POST", "url", "body"}`` is answered by the same Chat Completions pipeline as a
live request (validation, token counts, responder); results are ``{"id", "custom_id", "response":
{"status_code", "request_id", "body"}, "error"}`` lines in the output file (status 200) or the error file.

Test hooks: ``gate`` (an ``asyncio.Event``; when set to an unset event, lines wait for it: a batch stays
``in_progress``), ``line_faults`` (custom_id -> HTTP status answered for that line).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from autotriage.sandbox.openai_schema_rules import ApiError, invalid_request, server_error

JSONDict = dict[str, Any]
Complete = Callable[[str, JSONDict], Awaitable[tuple[int, JSONDict]]]
Authenticate = Callable[[web.Request], str]

ENDPOINTS = ("/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/completions")
PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
DAY_S = 24 * 3600
MAX_CUSTOM_ID = 512


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


@dataclass
class StoredFile:
    """An uploaded or generated file."""

    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int = field(default_factory=lambda: int(time.time()))

    def object(self) -> JSONDict:
        """The API's ``file`` object."""
        return {"id": self.id, "object": "file", "bytes": len(self.data), "created_at": self.created_at,
                "filename": self.filename, "purpose": self.purpose, "status": "processed",
                "expires_at": None, "status_details": None}


@dataclass
class StoredBatch:
    """A batch and its bookkeeping."""

    id: str
    input_file_id: str
    endpoint: str
    metadata: JSONDict | None
    created_at: int = field(default_factory=lambda: int(time.time()))
    status: str = "validating"
    model: str | None = None
    errors: JSONDict | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    times: dict[str, int] = field(default_factory=dict)
    total: int = 0
    completed: int = 0
    failed: int = 0
    usage: dict[str, int] = field(default_factory=lambda: {"input": 0, "cached": 0, "output": 0, "reasoning": 0})

    def object(self) -> JSONDict:
        """The API's ``batch`` object."""
        stamp = self.times.get
        return {
            "id": self.id, "object": "batch", "endpoint": self.endpoint, "model": self.model, "errors": self.errors,
            "input_file_id": self.input_file_id, "completion_window": "24h", "status": self.status,
            "output_file_id": self.output_file_id, "error_file_id": self.error_file_id,
            "created_at": self.created_at, "in_progress_at": stamp("in_progress"),
            "expires_at": self.created_at + DAY_S, "finalizing_at": stamp("finalizing"),
            "completed_at": stamp("completed"), "failed_at": stamp("failed"), "expired_at": stamp("expired"),
            "cancelling_at": stamp("cancelling"), "cancelled_at": stamp("cancelled"),
            "request_counts": {"total": self.total, "completed": self.completed, "failed": self.failed},
            "usage": {
                "input_tokens": self.usage["input"], "output_tokens": self.usage["output"],
                "total_tokens": self.usage["input"] + self.usage["output"],
                "input_tokens_details": {"cached_tokens": self.usage["cached"]},
                "output_tokens_details": {"reasoning_tokens": self.usage["reasoning"]},
            },
            "metadata": self.metadata,
        }

    def move(self, status: str) -> None:
        self.status = status
        self.times[status] = int(time.time())


class BatchAPI:
    """Files and batches of one test server (see the module docstring)."""

    def __init__(self, complete: Complete, authenticate: Authenticate) -> None:
        self._complete = complete
        self._authenticate = authenticate
        self.files: dict[str, StoredFile] = {}
        self.batches: dict[str, StoredBatch] = {}
        self.gate: asyncio.Event | None = None
        self.line_faults: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def routes(self, app: web.Application) -> None:
        """Register the routes on ``app`` (before any catch-all route)."""
        app.router.add_post("/v1/files", self._upload)
        app.router.add_get("/v1/files/{file_id}", self._file)
        app.router.add_get("/v1/files/{file_id}/content", self._content)
        app.router.add_post("/v1/batches", self._create)
        app.router.add_get("/v1/batches", self._list)
        app.router.add_get("/v1/batches/{batch_id}", self._retrieve)
        app.router.add_post("/v1/batches/{batch_id}/cancel", self._cancel)

    async def stop(self) -> None:
        """Cancel batches still running."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def uploads(self) -> list[StoredFile]:
        """Files uploaded with purpose ``batch``."""
        return [f for f in self.files.values() if f.purpose == "batch"]

    # ------------------------------------------------------------------------------------------ routes

    async def _guard(self, request: web.Request, handler: Callable[[], Awaitable[web.Response]]) -> web.Response:
        try:
            self._authenticate(request)
            return await handler()
        except ApiError as err:
            if isinstance(err.body, str):
                return web.Response(status=err.status, text=err.body)
            return web.json_response(err.body, status=err.status, headers=dict(err.headers))

    async def _upload(self, request: web.Request) -> web.Response:
        async def handle() -> web.Response:
            if not request.content_type.startswith("multipart/"):
                raise invalid_request("Invalid Content-Type header (expected multipart/form-data)")
            form = await request.post()
            purpose = str(form.get("purpose") or "")
            upload = form.get("file")
            if purpose not in PURPOSES:
                raise invalid_request(f"'{purpose}' is not one of {list(PURPOSES)} - 'purpose'", "purpose")
            if not isinstance(upload, web.FileField):
                raise invalid_request("Missing required parameter: 'file'", "file", "missing_required_parameter")
            data = upload.file.read()
            if purpose == "batch" and not upload.filename.endswith(".jsonl"):
                raise invalid_request("Invalid file format for Batch API. Must be .jsonl", "file")
            stored = StoredFile(_new_id("file-"), upload.filename, purpose, data)
            self.files[stored.id] = stored
            return web.json_response(stored.object())

        return await self._guard(request, handle)

    def _stored_file(self, file_id: str) -> StoredFile:
        found = self.files.get(file_id)
        if found is None:
            raise invalid_request(f"No such File object: {file_id}", "id", status=404)
        return found

    async def _file(self, request: web.Request) -> web.Response:
        async def handle() -> web.Response:
            return web.json_response(self._stored_file(request.match_info["file_id"]).object())

        return await self._guard(request, handle)

    async def _content(self, request: web.Request) -> web.Response:
        async def handle() -> web.Response:
            stored = self._stored_file(request.match_info["file_id"])
            return web.Response(body=stored.data, content_type="application/octet-stream")

        return await self._guard(request, handle)

    async def _create(self, request: web.Request) -> web.Response:
        async def handle() -> web.Response:
            try:
                body = await request.json()
            except ValueError:
                raise invalid_request("We could not parse the JSON body of your request.") from None
            for name in ("input_file_id", "endpoint", "completion_window"):
                if not body.get(name):
                    raise invalid_request(f"Missing required parameter: '{name}'.", name, "missing_required_parameter")
            if body["endpoint"] not in ENDPOINTS:
                raise invalid_request(f"Invalid value: '{body['endpoint']}'. Supported values are: "
                                      f"{', '.join(ENDPOINTS)}.", "endpoint", "invalid_value")
            if body["completion_window"] != "24h":
                raise invalid_request(f"Invalid value: '{body['completion_window']}'. Supported values are: '24h'.",
                                      "completion_window", "invalid_value")
            source = self._stored_file(str(body["input_file_id"]))
            if source.purpose != "batch":
                raise invalid_request(f"File {source.id} has purpose '{source.purpose}', expected 'batch'.",
                                      "input_file_id")
            batch = StoredBatch(_new_id("batch_"), source.id, str(body["endpoint"]), body.get("metadata"))
            self.batches[batch.id] = batch
            credential = self._authenticate(request)
            task = asyncio.create_task(self._run(batch, source.data, credential))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return web.json_response(batch.object())

        return await self._guard(request, handle)

    async def _list(self, request: web.Request) -> web.Response:
        async def handle() -> web.Response:
            ordered = sorted(self.batches.values(), key=lambda b: (b.created_at, b.id), reverse=True)
            after = request.query.get("after")
            if after:
                ids = [b.id for b in ordered]
                ordered = ordered[ids.index(after) + 1:] if after in ids else []
            limit = max(1, min(100, int(request.query.get("limit", "20"))))
            page = ordered[:limit]
            return web.json_response({"object": "list", "data": [b.object() for b in page],
                                      "first_id": page[0].id if page else None,
                                      "last_id": page[-1].id if page else None,
                                      "has_more": len(ordered) > limit})

        return await self._guard(request, handle)

    def _batch(self, batch_id: str) -> StoredBatch:
        found = self.batches.get(batch_id)
        if found is None:
            raise invalid_request(f"No batch found with id '{batch_id}'.", "batch_id", status=404)
        return found

    async def _retrieve(self, request: web.Request) -> web.Response:
        async def handle() -> web.Response:
            return web.json_response(self._batch(request.match_info["batch_id"]).object())

        return await self._guard(request, handle)

    async def _cancel(self, request: web.Request) -> web.Response:
        async def handle() -> web.Response:
            batch = self._batch(request.match_info["batch_id"])
            if batch.status in TERMINAL:
                raise invalid_request(f"Cannot cancel a batch with status '{batch.status}'.", status=409)
            batch.move("cancelling")
            return web.json_response(batch.object())

        return await self._guard(request, handle)

    # ------------------------------------------------------------------------------------------ processing

    def _validate(self, batch: StoredBatch, data: bytes) -> list[JSONDict] | None:
        """Parsed lines, or ``None`` after failing the batch with the API's line errors."""
        errors: list[JSONDict] = []
        lines: list[JSONDict] = []
        seen: set[str] = set()
        models: set[str] = set()
        for number, raw in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
            try:
                line = json.loads(raw)
            except ValueError:
                errors.append(_line_error("invalid_json_line", "This line is not parseable as valid JSON.", number))
                continue
            if not isinstance(line, dict):
                errors.append(_line_error("invalid_json_line", "This line is not a JSON object.", number))
                continue
            custom_id = line.get("custom_id")
            if not isinstance(custom_id, str) or not custom_id:
                errors.append(_line_error("missing_required_parameter", "Missing required parameter: 'custom_id'.",
                                          number, "custom_id"))
            elif len(custom_id) > MAX_CUSTOM_ID or custom_id in seen:
                errors.append(_line_error("duplicate_custom_id", "The custom_id for this request is a duplicate "
                                          "of another request. The custom_id parameter must be unique for each "
                                          "request in a batch.", number, "custom_id"))
            if line.get("method") != "POST":
                errors.append(_line_error("invalid_method", "Method must be POST.", number, "method"))
            if line.get("url") != batch.endpoint:
                errors.append(_line_error("mismatched_endpoint", f"The provided URL '{line.get('url')}' does not "
                                          f"match the batch endpoint '{batch.endpoint}'.", number, "url"))
            body = line.get("body")
            if not isinstance(body, dict) or not body.get("model"):
                errors.append(_line_error("missing_required_parameter", "Missing required parameter: 'body.model'.",
                                          number, "body.model"))
            else:
                models.add(str(body["model"]))
            if isinstance(custom_id, str):
                seen.add(custom_id)
            lines.append(line)
        if len(models) > 1:
            errors.append(_line_error("mismatched_model", "All requests in a batch must use the same model.", None))
        if not lines and not errors:
            errors.append(_line_error("empty_file", "The batch input file is empty.", None))
        if errors:
            batch.errors = {"object": "list", "data": errors}
            batch.move("failed")
            return None
        batch.model = models.pop() if models else None
        return lines

    async def _run(self, batch: StoredBatch, data: bytes, credential: str) -> None:
        await asyncio.sleep(0)
        lines = self._validate(batch, data)
        if lines is None:
            return
        batch.total = len(lines)
        batch.move("in_progress")
        out: list[bytes] = []
        err: list[bytes] = []
        for line in lines:
            if self.gate is not None:
                await self.gate.wait()
            if batch.status == "cancelling":
                break
            status, payload = await self._answer(line, credential)
            record = {"id": _new_id("batch_req_"), "custom_id": line["custom_id"],
                      "response": {"status_code": status, "request_id": "req_" + uuid.uuid4().hex, "body": payload},
                      "error": None}
            encoded = json.dumps(record, separators=(",", ":")).encode() + b"\n"
            if status == 200:
                batch.completed += 1
                _add_usage(batch, payload.get("usage") or {})
                out.append(encoded)
            else:
                batch.failed += 1
                err.append(encoded)
            await asyncio.sleep(0)
        if batch.status == "cancelling":
            batch.move("cancelled")
        else:
            batch.move("finalizing")
        if out:
            batch.output_file_id = self._result_file(batch, "output", out)
        if err:
            batch.error_file_id = self._result_file(batch, "error", err)
        if batch.status == "finalizing":
            batch.move("completed")

    async def _answer(self, line: JSONDict, credential: str) -> tuple[int, JSONDict]:
        fault = self.line_faults.get(str(line["custom_id"]))
        if fault is not None:
            body = server_error(fault, "The server had an error processing your request.").body
            return fault, body if isinstance(body, dict) else {}
        return await self._complete(credential, dict(line["body"]))

    def _result_file(self, batch: StoredBatch, kind: str, lines: list[bytes]) -> str:
        stored = StoredFile(_new_id("file-"), f"{batch.id}_{kind}.jsonl", f"batch_{kind}", b"".join(lines))
        self.files[stored.id] = stored
        return stored.id


def _line_error(code: str, message: str, line: int | None, param: str | None = None) -> JSONDict:
    return {"code": code, "message": message, "param": param, "line": line}


def _add_usage(batch: StoredBatch, usage: JSONDict) -> None:
    batch.usage["input"] += int(usage.get("prompt_tokens") or 0)
    batch.usage["output"] += int(usage.get("completion_tokens") or 0)
    batch.usage["cached"] += int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    batch.usage["reasoning"] += int((usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)
