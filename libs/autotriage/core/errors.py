"""Error classes that decide what the runtime does with a failed record."""

from __future__ import annotations


class AutotriageError(Exception):
    """Base class; ``reason`` is a short, bounded code usable as a metric label."""

    reason: str = "error"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class TransientError(AutotriageError):
    """Worth retrying later (429, 5xx, timeouts, a broker blip).

    ``tenant_wide`` says the trouble is the tenant's, not the record's (its PSA or LLM account is rate limited or
    down): the runtime then parks the tenant, sending its other records to the retry tiers without trying them,
    so that they hold no capacity other tenants need."""

    def __init__(
        self, reason: str, message: str, retry_after_s: float | None = None, *, tenant_wide: bool = False
    ) -> None:
        super().__init__(reason, message)
        self.retry_after_s = retry_after_s
        self.tenant_wide = tenant_wide


class PermanentError(AutotriageError):
    """No retry can fix it (validation error, 4xx, content filter): goes to the dead-letter topic."""


class PoisonMessage(PermanentError):
    """A record that cannot be decoded (bad bytes, unknown schema version)."""


class ConfigError(AutotriageError):
    """A user-fixable configuration problem; the message names the cause and the fix."""

    def __init__(self, message: str) -> None:
        super().__init__("config", message)


class QuotaExhausted(Exception):
    """The LLM account has no quota left (429 insufficient_quota): never retried, the tenant is paused."""


class ContentFiltered(Exception):
    """The provider's content filter rejected the prompt (Azure's 400 content_filter): not retriable."""


class WebhookRejected(AutotriageError):
    """A webhook refused at ingress; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, reason: str, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason, message)
        self.status = status
        #: Sent as ``Retry-After`` with a 429 ("retry later": the one status every PSA retries).
        self.retry_after_s = retry_after_s
