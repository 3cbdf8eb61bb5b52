"""The tenants file: one entry per MSP tenant, validated by pydantic, secrets referenced (never inline)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, field_validator, model_validator

from autotriage.core.errors import ConfigError
from autotriage.core.models import Mode, PSAKind
from autotriage.core.secrets import SecretRef

TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class Strict(BaseModel):
    """Base for config models: unknown keys are an error (they are almost always typos)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class HaloConnection(Strict):
    """HaloPSA: OAuth2 client credentials against the tenant's auth server."""

    kind: Literal[PSAKind.HALO] = PSAKind.HALO
    base_url: HttpUrl
    auth_url: HttpUrl | None = None
    tenant: str | None = None
    client_id: str
    client_secret: SecretRef
    scope: str = "read:tickets edit:tickets"
    category_field: int = Field(default=1, ge=1, le=4)
    note_outcome_id: int | None = 7
    note_outcome: str | None = None
    max_concurrency: int = Field(default=4, ge=1)

    @model_validator(mode="after")
    def _note_outcome(self) -> HaloConnection:
        if self.note_outcome_id is None and not self.note_outcome:
            raise ValueError(
                "Halo refuses an Action without an outcome: set psa.note_outcome_id (default 7, the built-in "
                "private note outcome; list them with GET /api/Outcome) or psa.note_outcome (its name)"
            )
        return self


class ConnectWiseConnection(Strict):
    """ConnectWise PSA: API member keys plus the integration's clientId."""

    kind: Literal[PSAKind.CONNECTWISE] = PSAKind.CONNECTWISE
    site: str = "api-na.myconnectwise.net"
    company: str
    public_key: str
    private_key: SecretRef
    client_id: str
    codebase: str | None = None
    api_version: str = "2025.1"
    scheme: Literal["https", "http"] = "https"
    on_prem_host: str | None = None
    key_url_hosts: tuple[str, ...] = ()
    allow_private_key_url: bool = False
    max_concurrency: int = Field(default=6, ge=1)


class AutotaskConnection(Strict):
    """Datto PSA / Autotask: API user, secret and integration code; zone found by discovery."""

    kind: Literal[PSAKind.AUTOTASK] = PSAKind.AUTOTASK
    username: str
    secret: SecretRef
    integration_code: SecretRef
    zone_url: HttpUrl | None = None
    discovery_url: HttpUrl = HttpUrl("https://webservices.autotask.net/atservicesrest/")
    note_type: str = "Task Notes"
    note_publish: str = "Internal Only"
    max_concurrency: int = Field(default=3, ge=1, le=3)


PSAConnection = Annotated[HaloConnection | ConnectWiseConnection | AutotaskConnection, Field(discriminator="kind")]


class WebhookAuth(Strict):
    """How the PSA proves a webhook is real: Halo Basic credentials, Autotask/CW signing secrets."""

    username: str | None = None
    password: SecretRef | None = None
    secret: SecretRef | None = None


class LLMSettings(Strict):
    """Which model classifies this tenant's tickets."""

    provider: Literal["openai", "azure", "local"] = "openai"
    model: str = "gpt-4o-mini"
    api_key: SecretRef | None = None
    base_url: HttpUrl | None = None
    azure_endpoint: HttpUrl | None = None
    azure_deployment: str | None = None
    api_version: str = "2024-10-21"
    timeout_s: float = Field(default=30.0, gt=0)
    connect_timeout_s: float = Field(default=3.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=5)
    max_enum: int = Field(default=500, ge=2, le=1000)
    ticket_token_budget: int = Field(default=1200, ge=100)
    reasoning_max_chars: int = Field(default=400, ge=50)
    local_model_path: Path | None = None
    cascade_threshold: float | None = Field(default=None, ge=0, le=1)
    few_shot: int = Field(default=0, ge=0, le=10)
    short_ids: bool = False
    #: With a local model: send the LLM only its top-k candidates (k measured at training, or ``shortlist_k``)
    #: plus the catch-all categories; an abstention or a confidence below ``shortlist_min_confidence`` retries
    #: once with the full list.
    shortlist: bool = True
    shortlist_k: int | None = Field(default=None, ge=1, le=200)
    shortlist_min_confidence: float = Field(default=0.5, ge=0, le=1)
    #: Catch-all categories ("General > Other") always sent with a shortlist, as ids or "A > B" paths
    #: (default: leaves named Other / Misc / General / Unknown ...).
    catch_all: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _provider_fields(self) -> LLMSettings:
        if self.provider == "azure" and self.azure_endpoint is None and self.base_url is None:
            raise ValueError("provider azure needs azure_endpoint (https://<resource>.openai.azure.com) or base_url")
        if self.provider == "local" and self.local_model_path is None:
            raise ValueError("provider local needs local_model_path (train one with `autotriage learn`)")
        return self


class ScopePolicy(Strict):
    """Per-scope override (CW board, Autotask queue, Halo ticket type)."""

    mode: Mode | None = None
    apply_threshold: float | None = Field(default=None, ge=0, le=1)
    suggest_threshold: float | None = Field(default=None, ge=0, le=1)


class Policy(Strict):
    """Safe-rollout policy: mode, thresholds, and the rules that protect a technician's work."""

    mode: Mode = Mode.SHADOW
    apply_threshold: float = Field(default=0.80, ge=0, le=1)
    suggest_threshold: float = Field(default=0.50, ge=0, le=1)
    overwrite_threshold: float | None = Field(default=None, ge=0, le=1)
    note_below_threshold: bool = False
    noise_filter: bool = True
    redact_pii: bool = True
    scopes: dict[str, ScopePolicy] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ordered(self) -> Policy:
        if self.suggest_threshold > self.apply_threshold:
            raise ValueError("suggest_threshold must not be above apply_threshold")
        for scope, override in self.scopes.items():
            apply = self.apply_threshold if override.apply_threshold is None else override.apply_threshold
            suggest = self.suggest_threshold if override.suggest_threshold is None else override.suggest_threshold
            if suggest > apply:
                raise ValueError(
                    f"scope {scope!r}: suggest_threshold {suggest} must not be above apply_threshold {apply} "
                    "(the scope's value or the tenant's where the scope sets none)"
                )
        return self

    def for_scope(self, scope: str) -> Policy:
        """The effective policy for one scope (the scope's overrides on top of the tenant's)."""
        override = self.scopes.get(scope)
        if override is None:
            return self
        changes = {k: v for k, v in override.model_dump().items() if v is not None}
        return self.model_copy(update=changes)


class Budget(Strict):
    """Spending caps (UTC day and month); ``None`` means no cap. On exhaustion: ``local`` = suggest-only with the
    tenant's local model (``llm.local_model_path``; skip if there is none), ``skip`` = skip ``budget_exhausted``.

    ``strict``: stop as soon as one more request's estimated cost would pass the cap (never exceed it) instead of
    admitting calls while anything is left (exceed it by at most one request's cost). Caps hold across all
    classifier replicas (their spend is shared through the ``budget.spend`` topic); ``replicas`` is accepted for
    older tenants files and ignored."""

    usd_per_day: float | None = Field(default=None, ge=0)
    usd_per_month: float | None = Field(default=None, ge=0)
    tokens_per_day: int | None = Field(default=None, ge=0)
    tokens_per_month: int | None = Field(default=None, ge=0)
    on_exhausted: Literal["local", "skip"] = "skip"
    strict: bool = False
    replicas: int = Field(default=1, ge=1)


class Tenant(Strict):
    """One MSP tenant."""

    id: Annotated[str, Field(pattern=TENANT_ID_PATTERN)]
    name: str = ""
    psa: PSAConnection
    webhook: WebhookAuth = WebhookAuth()
    llm: LLMSettings = LLMSettings()
    policy: Policy = Policy()
    budget: Budget = Budget()
    prompt_template: str | None = None
    note_template: str | None = None
    #: PEM file of extra CA certificates for this tenant's PSA, key and LLM connections (a private CA or a
    #: TLS-inspecting proxy); overrides AUTOTRIAGE_CA_BUNDLE.
    ca_bundle: Path | None = None

    @model_validator(mode="after")
    def _webhook_auth(self) -> Tenant:
        kind = self.psa.kind
        if kind is PSAKind.HALO and (self.webhook.username is None or self.webhook.password is None):
            raise ValueError("a HaloPSA tenant needs webhook.username and webhook.password (Basic auth for webhooks)")
        if kind is PSAKind.AUTOTASK and self.webhook.secret is None:
            raise ValueError("an Autotask tenant needs webhook.secret (the webhook's secret key, for X-Hook-Signature)")
        return self

    def secret_refs(self) -> list[SecretRef]:
        """Every secret this tenant references."""
        found: list[SecretRef] = []

        def walk(value: Any) -> None:
            if isinstance(value, SecretRef):
                found.append(value)
            elif isinstance(value, BaseModel):
                for name in type(value).model_fields:
                    walk(getattr(value, name))

        walk(self)
        return found


class Price(Strict):
    """USD per one million tokens."""

    input: float = Field(ge=0)
    cached_input: float = Field(ge=0)
    output: float = Field(ge=0)


DEFAULT_PRICES: dict[str, Price] = {
    "gpt-4o-mini": Price(input=0.15, cached_input=0.075, output=0.60),
    "gpt-4o": Price(input=2.50, cached_input=1.25, output=10.00),
    "gpt-4.1-mini": Price(input=0.40, cached_input=0.10, output=1.60),
    "gpt-4.1-nano": Price(input=0.10, cached_input=0.025, output=0.40),
    "gpt-4.1": Price(input=2.00, cached_input=0.50, output=8.00),
    "gpt-5-mini": Price(input=0.25, cached_input=0.025, output=2.00),
    "gpt-5-nano": Price(input=0.05, cached_input=0.005, output=0.40),
    "local": Price(input=0.0, cached_input=0.0, output=0.0),
}


class TenantsFile(Strict):
    """The whole tenants file."""

    tenants: list[Tenant]
    prices: dict[str, Price] = Field(default_factory=dict)

    @field_validator("tenants")
    @classmethod
    def _unique(cls, tenants: list[Tenant]) -> list[Tenant]:
        seen: set[str] = set()
        for tenant in tenants:
            if tenant.id in seen:
                raise ValueError(f"tenant id {tenant.id!r} appears twice")
            seen.add(tenant.id)
        return tenants

    def get(self, tenant_id: str) -> Tenant | None:
        """The tenant with this id, or None."""
        return next((t for t in self.tenants if t.id == tenant_id), None)

    def price(self, model: str) -> Price | None:
        """Price of a model: the file's table first, then the built-in defaults."""
        return self.prices.get(model) or DEFAULT_PRICES.get(model)

    def resolve_secrets(self, environ: Mapping[str, str] | None = None) -> None:
        """Resolve every secret now, so a missing one fails at start-up with a clear message."""
        problems: list[str] = []
        for tenant in self.tenants:
            for ref in tenant.secret_refs():
                try:
                    ref.resolve(environ)
                except ConfigError as exc:
                    problems.append(f"tenant {tenant.id}: {exc.message}")
        if problems:
            raise ConfigError("; ".join(problems))


def parse_tenants(text: str, source: str = "<tenants>") -> TenantsFile:
    """Validate tenants YAML text; errors name the file, the place and the fix."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or "tenants" not in data:
        raise ConfigError(f"{source} must be a mapping with a 'tenants:' list (see README, 'Tenants file')")
    try:
        return TenantsFile.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            lines.append(f"  {where}: {err['msg']}")
        raise ConfigError(f"{source} is invalid:\n" + "\n".join(lines)) from exc


def load_tenants(path: Path, environ: Mapping[str, str] | None = None) -> TenantsFile:
    """Read, validate and resolve the secrets of a tenants file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read tenants file {path} ({exc.strerror}): set AUTOTRIAGE_TENANTS_FILE") from exc
    tenants = parse_tenants(text, str(path))
    tenants.resolve_secrets(environ)
    return tenants
