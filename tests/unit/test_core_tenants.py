"""The tenants file: one valid entry per PSA, secrets referenced never inline, typos and mistakes named clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from autotriage.core.errors import ConfigError
from autotriage.core.models import PSAKind
from autotriage.core.tenants import (
    DEFAULT_PRICES,
    ConnectWiseConnection,
    HaloConnection,
    Price,
    TenantsFile,
    load_tenants,
    parse_tenants,
)

HALO = """
  - id: acme
    name: Acme IT
    psa:
      kind: halo
      base_url: https://acme.halopsa.com
      tenant: acme
      client_id: app-1
      client_secret: {env: ACME_HALO_SECRET}
    webhook:
      username: halo
      password: {env: ACME_HALO_WEBHOOK}
    policy:
      mode: suggest
"""
CONNECTWISE = """
  - id: bayside
    psa:
      kind: connectwise
      company: bayside
      public_key: pub
      private_key: {env: BAYSIDE_CW_PRIVATE}
      client_id: 11111111-2222-3333-4444-555555555555
"""
AUTOTASK = """
  - id: coast-it
    psa:
      kind: autotask
      username: api@coast.example
      secret: {env: COAST_AT_SECRET}
      integration_code: {env: COAST_AT_CODE}
    webhook:
      secret: {env: COAST_AT_HOOK}
    llm:
      provider: azure
      model: gpt-4o-mini
      azure_endpoint: https://coast.openai.azure.com
      azure_deployment: triage
      api_key: {env: COAST_AZURE_KEY}
"""
ENV = {
    "ACME_HALO_SECRET": "halo-secret-value",
    "ACME_HALO_WEBHOOK": "halo-webhook-value",
    "BAYSIDE_CW_PRIVATE": "cw-private-value",
    "COAST_AT_SECRET": "at-secret-value",
    "COAST_AT_CODE": "at-code-value",
    "COAST_AT_HOOK": "at-hook-value",
    "COAST_AZURE_KEY": "azure-key-value",
}


def doc(*entries: str, extra: str = "") -> str:
    return "tenants:" + "".join(entries) + extra


def invalid(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_tenants(text, "tenants.yaml")
    return caught.value.message


def test_valid_file_for_each_psa() -> None:
    tenants = parse_tenants(doc(HALO, CONNECTWISE, AUTOTASK))
    tenants.resolve_secrets(ENV)
    assert [(t.id, t.psa.kind) for t in tenants.tenants] == [
        ("acme", PSAKind.HALO),
        ("bayside", PSAKind.CONNECTWISE),
        ("coast-it", PSAKind.AUTOTASK),
    ]
    acme = tenants.get("acme")
    assert acme is not None and isinstance(acme.psa, HaloConnection)
    assert acme.psa.client_secret.get() == "halo-secret-value"
    assert acme.webhook.password is not None and acme.webhook.password.get() == "halo-webhook-value"
    assert acme.policy.mode == "suggest"
    assert tenants.get("bayside") is not None
    assert isinstance(tenants.get("bayside").psa, ConnectWiseConnection)  # type: ignore[union-attr]
    assert tenants.get("nobody") is None
    assert len(tenants.get("coast-it").secret_refs()) == 4  # type: ignore[union-attr]


def test_defaults_are_safe() -> None:
    tenant = parse_tenants(doc(HALO.replace("      mode: suggest\n", "      noise_filter: true\n"))).tenants[0]
    assert tenant.policy.mode == "shadow"
    assert tenant.policy.overwrite_threshold is None  # never overwrite a human's category by default
    assert tenant.policy.redact_pii is True


def test_inline_secret_rejected_with_fix() -> None:
    message = invalid(doc(HALO.replace("{env: ACME_HALO_SECRET}", "s3cr3t-inline")))
    assert "tenants.yaml" in message
    assert "client_secret" in message
    assert "{env: VAR_NAME}" in message
    assert "s3cr3t-inline" not in message


def test_secret_ref_needs_exactly_one_source() -> None:
    assert "exactly one" in invalid(doc(HALO.replace("{env: ACME_HALO_SECRET}", "{env: A, file: /b}")))
    assert "exactly one" in invalid(doc(HALO.replace("{env: ACME_HALO_SECRET}", "{}")))


def test_missing_env_var_names_tenant_and_variable(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(doc(HALO, CONNECTWISE), encoding="utf-8")
    env = {k: v for k, v in ENV.items() if k != "BAYSIDE_CW_PRIVATE"}
    with pytest.raises(ConfigError) as caught:
        load_tenants(path, env)
    assert "tenant bayside" in caught.value.message
    assert "BAYSIDE_CW_PRIVATE" in caught.value.message
    assert "acme" not in caught.value.message


def test_empty_env_var_counts_as_missing() -> None:
    tenants = parse_tenants(doc(HALO))
    with pytest.raises(ConfigError, match="ACME_HALO_SECRET"):
        tenants.resolve_secrets({**ENV, "ACME_HALO_SECRET": ""})


def test_file_secret_read_and_stripped(tmp_path: Path) -> None:
    secret = tmp_path / "halo.secret"
    secret.write_text("  from-a-file\n\n", encoding="utf-8")
    tenants = parse_tenants(doc(HALO.replace("{env: ACME_HALO_SECRET}", f"{{file: {secret}}}")))
    tenants.resolve_secrets(ENV)
    acme = tenants.tenants[0]
    assert isinstance(acme.psa, HaloConnection)
    assert acme.psa.client_secret.get() == "from-a-file"


def test_unreadable_file_secret_names_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.secret"
    tenants = parse_tenants(doc(HALO.replace("{env: ACME_HALO_SECRET}", f"{{file: {missing}}}")))
    with pytest.raises(ConfigError) as caught:
        tenants.resolve_secrets(ENV)
    assert "tenant acme" in caught.value.message and str(missing) in caught.value.message


@pytest.mark.parametrize(
    ("typo", "where"),
    [
        ("      mode: suggest\n", "tenants.0.policy.mdoe"),
        ("      tenant: acme\n", "tenants.0.psa.halo.tennant"),
    ],
)
def test_unknown_key_rejected(typo: str, where: str) -> None:
    wrong = typo.replace("mode:", "mdoe:").replace("tenant:", "tennant:")
    message = invalid(doc(HALO.replace(typo, wrong)))
    assert where in message


def test_unknown_top_level_key_rejected() -> None:
    assert "tenant" in invalid(doc(HALO, extra="tenant_defaults: {}\n"))


def test_duplicate_tenant_ids_rejected() -> None:
    message = invalid(doc(HALO, HALO))
    assert "'acme' appears twice" in message


def test_bad_tenant_id_rejected() -> None:
    assert "tenants.0.id" in invalid(doc(HALO.replace("id: acme", "id: Acme Corp")))


def test_halo_without_webhook_credentials_rejected() -> None:
    no_webhook = HALO.split("    webhook:", maxsplit=1)[0] + "    policy:\n      mode: suggest\n"
    message = invalid(doc(no_webhook))
    assert "webhook.username and webhook.password" in message
    assert "Basic auth" in message


def test_halo_without_note_outcome_rejected() -> None:
    message = invalid(doc(HALO.replace("      tenant: acme\n", "      tenant: acme\n      note_outcome_id: null\n")))
    assert "note_outcome_id" in message and "outcome" in message


def test_autotask_without_webhook_secret_rejected() -> None:
    message = invalid(doc(AUTOTASK.replace("    webhook:\n      secret: {env: COAST_AT_HOOK}\n", "")))
    assert "webhook.secret" in message


def test_not_yaml_or_not_mapping() -> None:
    assert "not valid YAML" in invalid("tenants: [\n")
    assert "'tenants:' list" in invalid("- just a list\n")
    assert "'tenants:' list" in invalid("")


def test_missing_file_names_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.yaml"):
        load_tenants(tmp_path / "nowhere.yaml", ENV)


def test_policy_for_scope_overrides() -> None:
    scoped = HALO.replace(
        "      mode: suggest\n",
        "      mode: suggest\n      scopes:\n        '25': {mode: apply, apply_threshold: 0.9}\n",
    )
    policy = parse_tenants(doc(scoped)).tenants[0].policy
    effective = policy.for_scope("25")
    assert (effective.mode, effective.apply_threshold, effective.suggest_threshold) == ("apply", 0.9, 0.5)
    assert policy.for_scope("26") is policy
    assert policy.mode == "suggest"  # the tenant's own policy is unchanged


def test_suggest_above_apply_rejected() -> None:
    message = invalid(doc(HALO.replace("      mode: suggest\n", "      apply_threshold: 0.4\n")))
    assert "suggest_threshold must not be above apply_threshold" in message


def test_scope_override_inverting_thresholds_rejected() -> None:
    """A scope's effective thresholds must be ordered too, else tickets above its apply threshold are not applied."""
    scoped = HALO.replace("      mode: suggest\n", "      scopes:\n        '25': {apply_threshold: 0.3}\n")
    message = invalid(doc(scoped))
    assert "25" in message and "suggest_threshold" in message


def test_threshold_out_of_range_rejected() -> None:
    assert "apply_threshold" in invalid(doc(HALO.replace("      mode: suggest\n", "      apply_threshold: 1.5\n")))


def test_secrets_never_printed(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(doc(HALO, CONNECTWISE, AUTOTASK), encoding="utf-8")
    tenants = load_tenants(path, ENV)
    shown = [repr(tenants), str(tenants), tenants.model_dump_json(), repr(tenants.model_dump())]
    shown += [repr(t.psa) for t in tenants.tenants]
    shown += [f"{ref.resolve()!r} {ref.resolve()}" for t in tenants.tenants for ref in t.secret_refs()]
    for text in shown:
        for value in ENV.values():
            assert value not in text
    assert "ACME_HALO_SECRET" in repr(tenants)  # the reference itself is fine to show


def test_price_file_table_first_then_defaults() -> None:
    prices = (
        "prices:\n"
        "  gpt-4o-mini: {input: 1.0, cached_input: 0.5, output: 2.0}\n"
        "  my-model: {input: 3, cached_input: 1, output: 9}\n"
    )
    tenants = parse_tenants(doc(HALO, extra=prices))
    assert tenants.price("gpt-4o-mini") == Price(input=1.0, cached_input=0.5, output=2.0)
    assert tenants.price("my-model") == Price(input=3, cached_input=1, output=9)
    assert tenants.price("gpt-4o") == DEFAULT_PRICES["gpt-4o"]
    assert tenants.price("unknown-model") is None
    assert TenantsFile(tenants=[]).price("gpt-4o-mini") == DEFAULT_PRICES["gpt-4o-mini"]
