"""The internal note: a tenant template (sandboxed Jinja2) with a good default, ending in the marker.

The template context holds no ticket text at all (no summary, description, contact or headers): the note can
only show the category, the confidence, the model's short reasoning (written by a model that saw the ticket
with personal data replaced by placeholders) and the model and mode. So no template, default or tenant-made,
can echo what the ticket said back into the PSA.
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from autotriage.core.errors import ConfigError
from autotriage.core.models import Action, Classification, Mode

DEFAULT_NOTE_TEMPLATE = """\
{% if action == "applied" -%}
autotriage set the category: {{ category }}
Confidence: {{ confidence_pct }}%. If it is wrong, just set the right category; autotriage will not change it again.
{%- elif action == "suggested" -%}
autotriage suggests the category: {{ category }} (not applied)
Confidence: {{ confidence_pct }}%. Set it on the ticket if you agree.
{%- else -%}
autotriage could not categorize this ticket with enough confidence; please triage it.
{%- if category %}
Best guess: {{ category }} ({{ confidence_pct }}% confidence).{% endif %}
{%- endif %}
{%- if reasoning %}
Why: {{ reasoning }}{% endif %}
Model: {{ model or "n/a" }} | Mode: {{ mode }}"""

_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    """A template compiled once per source text (compiling costs milliseconds per ticket otherwise)."""
    return _ENV.from_string(source)


def render_note(
    template: str | None, *, action: Action, result: Classification, mode: Mode, marker: str
) -> str:
    """The note text; the idempotency marker is always the last line, whatever the template."""
    context = {
        "action": action.value,
        "category": result.candidate.label if result.candidate else "",
        "confidence": result.confidence,
        "confidence_pct": round(result.confidence * 100),
        "confidence_source": result.confidence_source.value,
        "reasoning": result.reasoning,
        "model": result.model,
        "provider": result.provider,
        "mode": mode,
    }
    try:
        body = _compiled(template or DEFAULT_NOTE_TEMPLATE).render(context).strip()
    except TemplateError as exc:
        raise ConfigError(f"the tenant's note_template does not render: {exc}") from exc
    return f"{body}\n{marker}"
