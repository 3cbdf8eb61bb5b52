"""Per-ticket work done once: each cache gives the same answer as the work it saves, and notices a change."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from autotriage.core import egress
from autotriage.core.models import Candidate, PSAKind, Taxonomy, Ticket
from autotriage.llm import prompt
from autotriage.llm.prompt import DEFAULT_SYSTEM_TEMPLATE, Example, render_prompt

PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "REQUEST_METHOD")


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_proxy_answer_follows_the_environment(no_proxy_env: pytest.MonkeyPatch) -> None:
    url = "https://psa.example.com/api/tickets/7"
    assert egress.proxy_for(url) is None
    no_proxy_env.setenv("HTTPS_PROXY", "proxy.corp:3128")
    assert egress.proxy_for(url) == "http://proxy.corp:3128"
    assert egress.proxy_for("https://other.example.com/x") == "http://proxy.corp:3128"
    assert egress.proxy_for("http://psa.example.com/plain") is None  # no HTTP_PROXY: the scheme decides
    no_proxy_env.setenv("NO_PROXY", ".example.com")
    assert egress.proxy_for(url) is None
    no_proxy_env.delenv("NO_PROXY")
    no_proxy_env.setenv("https_proxy", "http://lower.corp:8080")  # lower case wins, as urllib reads it
    assert egress.proxy_for(url) == "http://lower.corp:8080"


def _taxonomy(*labels: str) -> Taxonomy:
    candidates = tuple(Candidate(id=str(n), path=tuple(label.split(" > "))) for n, label in enumerate(labels, 1))
    return Taxonomy(tenant="acme", psa=PSAKind.HALO, scope="1", candidates=candidates,
                    fetched_at=datetime(2026, 1, 1, tzinfo=UTC))


def test_taxonomy_version_is_kept_per_instance_and_recomputed_for_a_changed_copy() -> None:
    taxonomy = _taxonomy("Hardware > Laptop", "Network > VPN")
    version = taxonomy.version
    assert taxonomy.ref().version == version == _taxonomy("Hardware > Laptop", "Network > VPN").version
    changed = taxonomy.model_copy(update={"candidates": taxonomy.candidates[:1]})
    assert changed.version == _taxonomy("Hardware > Laptop").version != version
    assert taxonomy.model_copy().version == version
    assert Taxonomy.model_validate_json(taxonomy.model_dump_json()) == taxonomy
    assert "version" not in taxonomy.model_dump()


def _ticket() -> Ticket:
    return Ticket(id="7", summary="VPN down", description="error 809", scope="1", source="email")


def test_default_system_prompt_is_rendered_once_per_candidate_list_with_the_same_text() -> None:
    prompt._SYSTEM_CACHE.clear()
    candidates = list(_taxonomy("Hardware > Laptop", "Network > VPN").candidates)
    first = render_prompt(_ticket(), candidates, summary="VPN down", description="error 809", scope_name="Helpdesk")
    second = render_prompt(_ticket(), candidates, summary="Printer", description="jam", scope_name="Helpdesk")
    assert first.system == second.system and first.user != second.user
    assert len(prompt._SYSTEM_CACHE) == 1
    fresh = prompt._compiled(DEFAULT_SYSTEM_TEMPLATE).render(
        candidates=candidates, scope_name="Helpdesk", examples=[], abstain_id=prompt.ABSTAIN_ID, shortlisted=False,
        ask_confidence=True)
    assert first.system == fresh
    # anything the system message shows is part of the key
    other_scope = render_prompt(_ticket(), candidates, summary="x", description="y", scope_name="Projects")
    fewer = render_prompt(_ticket(), candidates[:1], summary="x", description="y", scope_name="Helpdesk")
    shortlisted = render_prompt(_ticket(), candidates, summary="x", description="y", scope_name="Helpdesk",
                                shortlisted=True)
    examples = render_prompt(_ticket(), candidates, summary="x", description="y", scope_name="Helpdesk",
                             examples=[Example("laptop dead", "1")])
    unrated = render_prompt(_ticket(), candidates, summary="x", description="y", scope_name="Helpdesk",
                            ask_confidence=False)
    texts = {first.system, other_scope.system, fewer.system, shortlisted.system, examples.system, unrated.system}
    assert len(texts) == 6
    assert "laptop dead" in examples.system and "Projects" in other_scope.system


def test_a_tenant_system_template_is_rendered_for_every_ticket() -> None:
    prompt._SYSTEM_CACHE.clear()
    template = "Pick for {{ ticket.summary }} among {% for c in candidates %}{{ c.id }} {% endfor %}"
    candidates = list(_taxonomy("Hardware > Laptop", "Network > VPN").candidates)
    one = render_prompt(_ticket(), candidates, summary="a", description="b", system_template=template)
    other = render_prompt(_ticket().model_copy(update={"summary": "Printer"}), candidates, summary="a",
                          description="b", system_template=template)
    assert one.system == "Pick for VPN down among 1 2 " and other.system == "Pick for Printer among 1 2 "
    assert not prompt._SYSTEM_CACHE
