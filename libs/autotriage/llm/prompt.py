"""Prompt rendering: a sandboxed Jinja2 template per tenant. Static part first (instructions, candidates,
output rules), the ticket last, so the prefix is identical across tickets and the provider can cache it.

Template context: ``candidates`` (each with ``id``, ``path``, ``label``), ``scope_name``, ``examples``,
``abstain_id``, ``shortlisted`` (true when ``candidates`` is the local model's shortlist, not the whole list),
``ask_confidence`` (false when the response schema has no ``confidence``: logprobs give it);
the user template also gets ``ticket``, ``summary`` and ``description`` (cleaned, trimmed).
The ids a template shows are not parsed back: the response schema's enum is built from the candidates."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from cachetools import LRUCache
from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from autotriage.core.classifier import Example
from autotriage.core.errors import ConfigError
from autotriage.core.models import Candidate, Ticket

ABSTAIN_ID = "abstain"

DEFAULT_SYSTEM_TEMPLATE = """\
You are the service desk triage engineer of a managed service provider (MSP). You read one new helpdesk
ticket and choose the single best category for it from the allowed categories of {{ scope_name or "this board" }}.

Rules:
- Choose only an id from the list below. Never invent a category.
- Judge by what the requester needs fixed or provided, not by words that merely appear in quoted emails,
  signatures or disclaimers.
- Monitoring/RMM alerts belong to the category of the affected component (disk, backup, server, network).
- If the ticket is empty, unintelligible, or no category fits reasonably{% if shortlisted %} (only the likeliest few
  are listed){% endif %}, answer "{{ abstain_id }}".
{% if ask_confidence -%}
- confidence: your honest probability (0 to 1) that the chosen id is what a senior technician would pick.
{% endif -%}
- reasoning: one or two short sentences for the technician, in English, without repeating personal data.

Allowed categories (id: path):
{% for c in candidates %}- {{ c.id }}: {{ c.label }}
{% endfor %}
{%- if examples %}
Past tickets of this MSP with their final categories:
{% for e in examples %}- "{{ e.text }}" -> {{ e.category_id }}
{% endfor %}
{%- endif %}"""

#: The default for a shortlist: the same rules in fewer words. Its prefix differs per ticket (no cache hits),
#: so every token is paid in full, and with a dozen candidates there is little to say about the list.
SHORTLIST_SYSTEM_TEMPLATE = """\
You triage one helpdesk ticket of a managed service provider (MSP) for {{ scope_name or "this board" }}.
Choose the category of what the requester needs fixed or provided, not of words in quoted emails or
signatures; an RMM alert belongs to the affected component. Only the likeliest categories are listed: if
none fits or the ticket is empty or unintelligible, answer "{{ abstain_id }}".
{% if ask_confidence %}confidence: your probability (0 to 1) that the pick is right.
{% endif %}reasoning: one short sentence for the technician, in English, no personal data.

Categories (id: path):
{% for c in candidates %}- {{ c.id }}: {{ c.label }}
{% endfor %}
{%- if examples %}
Past tickets of this MSP with their final categories:
{% for e in examples %}- "{{ e.text }}" -> {{ e.category_id }}
{% endfor %}
{%- endif %}"""

DEFAULT_USER_TEMPLATE = """\
Ticket (source: {{ ticket.source or "unknown" }}{% if ticket.company %}, client: {{ ticket.company }}{% endif %})
Summary: {{ summary }}
Description:
{{ description }}"""


@dataclass(frozen=True)
class RenderedPrompt:
    """System (static, cacheable) and user (the ticket) messages."""

    system: str
    user: str


_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    """A template compiled once per source text: compiling costs milliseconds, rendering far less."""
    return _ENV.from_string(source)


def render_prompt(
    ticket: Ticket,
    candidates: tuple[Candidate, ...] | list[Candidate],
    *,
    summary: str,
    description: str,
    scope_name: str = "",
    examples: list[Example] | None = None,
    system_template: str | None = None,
    user_template: str | None = None,
    shortlisted: bool = False,
    ask_confidence: bool = True,
) -> RenderedPrompt:
    """Render the tenant's templates (or the defaults: the compact one for a shortlist) in Jinja2's sandbox."""
    context = {
        "ticket": ticket,
        "summary": summary,
        "description": description,
        "candidates": candidates,
        "scope_name": scope_name,
        "examples": examples or [],
        "abstain_id": ABSTAIN_ID,
        "shortlisted": shortlisted,
        "ask_confidence": ask_confidence,
    }
    default = SHORTLIST_SYSTEM_TEMPLATE if shortlisted else DEFAULT_SYSTEM_TEMPLATE
    try:
        template = system_template or default
        if template in (DEFAULT_SYSTEM_TEMPLATE, SHORTLIST_SYSTEM_TEMPLATE):
            system = _default_system(context, template, candidates, scope_name, examples or [], ask_confidence)
        else:
            system = _compiled(template).render(context)
        user = _compiled(user_template or DEFAULT_USER_TEMPLATE).render(context)
    except TemplateError as exc:
        raise ConfigError(f"the tenant's prompt template does not render: {exc} (fix prompt_template)") from exc
    return RenderedPrompt(system=system, user=user)


_SYSTEM_CACHE: LRUCache[tuple[object, ...], str] = LRUCache(maxsize=256)


def _default_system(
    context: dict[str, object],
    template: str,
    candidates: tuple[Candidate, ...] | list[Candidate],
    scope_name: str,
    examples: list[Example],
    ask_confidence: bool,
) -> str:
    """A built-in system message (full list or shortlist), rendered once per candidate list: it reads only the
    candidates' ids and paths, the scope name, the examples and ``ask_confidence``, the same for every ticket."""
    key = (template == SHORTLIST_SYSTEM_TEMPLATE, context["shortlisted"], tuple((c.id, c.path) for c in candidates),
           scope_name, tuple(examples), ask_confidence)
    system = _SYSTEM_CACHE.get(key)
    if system is None:
        system = _SYSTEM_CACHE[key] = _compiled(template).render(context)
    return system


def validate_template(source: str) -> None:
    """Fail early (at config load) on a template that does not compile."""
    try:
        _compiled(source)
    except TemplateError as exc:
        raise ConfigError(f"prompt template does not compile: {exc}") from exc
