"""HTTP to PSA APIs: explicit timeouts, per-tenant concurrency, bounded retries for transient errors only,
``Retry-After`` honoured, every call counted by psa, operation and status; through the proxy named by
``HTTPS_PROXY``/``NO_PROXY`` and with the configured CA bundle (see ``core.egress``)."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from autotriage.core import egress, metrics
from autotriage.core.errors import PermanentError, TransientError
from autotriage.core.resilience import RETRY_STATUSES, RetryPolicy, may_retry_in_place, retry_after_seconds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Response:
    """A finished PSA response."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (None when empty)."""
        return orjson.loads(self.body) if self.body else None


class PSAError(PermanentError):
    """A PSA answered with an error no retry will fix; ``status`` and ``body`` tell the user why."""

    def __init__(self, reason: str, message: str, status: int, body: bytes = b"") -> None:
        super().__init__(reason, message)
        self.status = status
        self.body = body


class PSAHttp:
    """An aiohttp session for one tenant's PSA with the project's HTTP rules."""

    def __init__(
        self,
        psa: str,
        *,
        max_concurrency: int = 4,
        total_timeout_s: float = 20.0,
        connect_timeout_s: float = 5.0,
        attempts: int = 3,
        max_wait_s: float = 10.0,
        base_backoff_s: float = 0.5,
        ca_bundle: Path | None = None,
    ) -> None:
        self.psa = psa
        #: ``None`` keeps aiohttp's default verification; else the system roots plus the CA bundle.
        self.ssl: ssl.SSLContext | bool = egress.ssl_context(ca_bundle) or True
        self._timeout = aiohttp.ClientTimeout(total=total_timeout_s, sock_connect=connect_timeout_s)
        self._limit = asyncio.Semaphore(max_concurrency)
        self.retry = RetryPolicy(max_retries=attempts - 1, backoff_base_s=base_backoff_s, backoff_cap_s=max_wait_s,
                                 max_inline_wait_s=max_wait_s)
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """The shared session (created lazily inside the running loop)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                json_serialize=lambda o: orjson.dumps(o).decode(),
                connector=aiohttp.TCPConnector(ssl=self.ssl),
            )
        return self._session

    async def close(self) -> None:
        """Close the session."""
        if self._session is not None:
            await self._session.close()

    async def request(
        self,
        method: str,
        url: str,
        operation: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        data: Any = None,
        params: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201, 204),
        allow_redirects: bool = False,
        permanent: Callable[[Response], bool] | None = None,
    ) -> Response:
        """Send a request; retry 429/5xx/timeouts a few times, then raise TransientError or PSAError.

        ``permanent`` marks otherwise retryable answers as final (e.g. Autotask's HTTP 500 validation errors).
        A POST (not idempotent: a note) is retried in place only on 429 (``core.resilience.may_retry_in_place``);
        otherwise the caller's retry path (the retry topic, which re-checks the note marker first) decides.
        """
        retry = 0
        while True:
            retry += 1
            started = time.perf_counter()
            status = "error"
            try:
                async with (
                    self._limit,
                    self.session().request(
                        method,
                        url,
                        headers=headers,
                        json=json,
                        data=data,
                        params=params,
                        allow_redirects=allow_redirects,
                        proxy=egress.proxy_for(url),
                    ) as resp,
                ):
                    body = await resp.read()
                    status = str(resp.status)
                    response = Response(resp.status, resp.headers, body)
            except (TimeoutError, aiohttp.ClientError) as exc:
                status = "timeout" if isinstance(exc, TimeoutError) else "connection_error"
                last = TransientError(f"psa_{status}", f"{self.psa} {operation}: {type(exc).__name__} {exc}",
                                      tenant_wide=status == "connection_error")
                wait = self.retry.delay(retry)
            else:
                if response.status in ok:
                    return response
                if response.status not in RETRY_STATUSES or (permanent is not None and permanent(response)):
                    raise PSAError(
                        f"psa_http_{response.status}",
                        f"{self.psa} {operation} answered HTTP {response.status}: {_snippet(body)}",
                        response.status,
                        body,
                    )
                hinted = retry_after_seconds(response.headers)
                wait = self.retry.delay(retry, hinted)
                reason = "psa_rate_limited" if response.status == 429 else "psa_server_error"
                last = TransientError(
                    reason,
                    f"{self.psa} {operation} answered HTTP {response.status}: {_snippet(body)}",
                    retry_after_s=hinted or None,
                    tenant_wide=True,  # the tenant's PSA is rate limiting or failing: park the tenant
                )
            finally:
                metrics.PSA_REQUESTS.labels(self.psa, operation, status).inc()
                metrics.PSA_DURATION.labels(self.psa, operation).observe(time.perf_counter() - started)
            if wait is None or not may_retry_in_place(method, not_processed=last.reason == "psa_rate_limited"):
                raise last
            log.info("%s %s: %s, retrying in %.1fs", self.psa, operation, last.message, wait)
            await asyncio.sleep(wait)


def _snippet(body: bytes, limit: int = 300) -> str:
    return body[:limit].decode("utf-8", "replace")
