"""The internal note: a tenant template (sandboxed Jinja2) with a good default, ending in the marker."""

from __future__ import annotations

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from autotriage.core.errors import ConfigError
from autotriage.core.models import Action, Classification

DEFAULT_NOTE_TEMPLATE = """\
{% if action == "applied" %}autotriage set the category to: {{ category }}
{%- elif action == "suggested" %}autotriage suggests the category: {{ category }} (not applied)
{%- else %}autotriage could not categorize this ticket with confidence; please triage it.
{%- endif %}
Confidence: {{ "%.0f"|format(confidence * 100) }}% ({{ confidence_source }})
{%- if reasoning %}
Reasoning: {{ reasoning }}{% endif %}
Model: {{ model or "n/a" }} | Mode: {{ mode }}"""

_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def render_note(
    template: str | None, *, action: Action, result: Classification, mode: str, marker: str
) -> str:
    """The note text; the idempotency marker is always the last line, whatever the template."""
    context = {
        "action": action.value,
        "category": result.candidate.label if result.candidate else "",
        "confidence": result.confidence,
        "confidence_source": result.confidence_source.value,
        "reasoning": result.reasoning,
        "model": result.model,
        "provider": result.provider,
        "mode": mode,
    }
    try:
        body = _ENV.from_string(template or DEFAULT_NOTE_TEMPLATE).render(context).strip()
    except TemplateError as exc:
        raise ConfigError(f"the tenant's note_template does not render: {exc}") from exc
    return f"{body}\n{marker}"
