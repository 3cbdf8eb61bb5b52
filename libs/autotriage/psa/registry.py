"""One place that maps a tenant's PSA kind to its adapter."""

from __future__ import annotations

from autotriage.core.models import PSAKind
from autotriage.core.tenants import Tenant, TenantsFile
from autotriage.psa.autotask import AutotaskClient
from autotriage.psa.base import PSAClient
from autotriage.psa.connectwise import ConnectWiseClient
from autotriage.psa.halo import HaloClient
from autotriage.psa.signing_keys import FetchGate


def make_client(tenant: Tenant, key_fetch_gate: FetchGate | None = None) -> PSAClient:
    """A new PSA client for the tenant (ConnectWise clients of one registry share ``key_fetch_gate``)."""
    kind = tenant.psa.kind
    if kind is PSAKind.HALO:
        return HaloClient(tenant)
    if kind is PSAKind.CONNECTWISE:
        return ConnectWiseClient(tenant, key_fetch_gate=key_fetch_gate)
    return AutotaskClient(tenant)


class PSAClients:
    """The PSA clients of a process, one per tenant, created on first use."""

    def __init__(self, tenants: TenantsFile) -> None:
        self.tenants = tenants
        self._clients: dict[str, PSAClient] = {}
        #: Signing-key fetches are bounded across all tenants of the process, not per tenant.
        self.key_fetch_gate = FetchGate()

    def get(self, tenant_id: str) -> PSAClient:
        """The client of a configured tenant (KeyError for an unknown one)."""
        client = self._clients.get(tenant_id)
        if client is None:
            tenant = self.tenants.get(tenant_id)
            if tenant is None:
                raise KeyError(tenant_id)
            client = self._clients[tenant_id] = make_client(tenant, self.key_fetch_gate)
        return client

    async def close(self) -> None:
        """Close every client."""
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
