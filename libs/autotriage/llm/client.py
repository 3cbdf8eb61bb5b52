"""SDK clients for OpenAI and Azure OpenAI with explicit timeouts and the SDK's own retries off, on the SDK's
aiohttp transport.

- ``provider: openai``: ``AsyncOpenAI`` (``base_url`` for an OpenAI-compatible endpoint).
- ``provider: azure`` + ``azure_endpoint``: ``AsyncAzureOpenAI`` on ``/openai/deployments/{deployment}/...
  ?api-version=``; ``model=`` of a request is the deployment name.
- ``provider: azure`` + ``base_url`` (``https://<resource>.openai.azure.com/openai/v1/``): Azure's v1 surface
  through the plain ``AsyncOpenAI``; ``model=`` is again the deployment name, the key goes in ``api-key``.

The SDK's retries are off because it would also retry ``insufficient_quota`` 429s (see ``errors.py``)."""

from __future__ import annotations

from pathlib import Path

import openai

from autotriage.core import egress
from autotriage.core.errors import ConfigError
from autotriage.core.tenants import LLMSettings

NO_KEY = "not-needed"  # OpenAI-compatible local endpoints accept any key


def make_openai_client(settings: LLMSettings, ca_bundle: Path | None = None) -> openai.AsyncOpenAI:
    """A client for the tenant's provider with connect/read timeouts from its settings; its HTTP client
    honours ``HTTPS_PROXY``/``NO_PROXY`` and trusts the applicable CA bundle (``core.egress``)."""
    timeout = openai.Timeout(settings.timeout_s, connect=settings.connect_timeout_s)
    api_key = settings.api_key.get() if settings.api_key else NO_KEY
    context = egress.ssl_context(ca_bundle)
    # The SDK's aiohttp transport (``openai[aiohttp]``): the same client, auth, routing, errors and proxy
    # variables, on aiohttp's C HTTP parser instead of the pure-Python h11 stack (about 0.35 ms of CPU less per
    # request, ``tools/bench_pipeline.py``).
    http_client = openai.DefaultAioHttpClient(verify=context if context is not None else True, timeout=timeout)
    if settings.provider == "azure" and settings.base_url is None:
        if settings.azure_endpoint is None:  # LLMSettings requires one of the two; a config built in code may not
            raise ConfigError("llm.provider azure needs llm.azure_endpoint (https://<resource>.openai.azure.com)")
        return openai.AsyncAzureOpenAI(
            azure_endpoint=str(settings.azure_endpoint),
            azure_deployment=settings.azure_deployment,
            api_version=settings.api_version,
            api_key=api_key,
            timeout=timeout,
            max_retries=0,
            http_client=http_client,
        )
    base_url = str(settings.base_url) if settings.base_url else None
    headers = {"api-key": api_key} if settings.provider == "azure" else None
    return openai.AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0,
                              default_headers=headers, http_client=http_client)


def request_model(settings: LLMSettings) -> str:
    """The ``model=`` of a request: the deployment name on Azure, else the model name."""
    if settings.provider == "azure" and settings.azure_deployment:
        return settings.azure_deployment
    return settings.model
