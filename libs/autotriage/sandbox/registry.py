"""Build a PSA simulator by name."""

from __future__ import annotations

from autotriage.core.models import PSAKind
from autotriage.sandbox.common import Simulator


def simulator_class(psa: str) -> type[Simulator]:
    """The simulator class of the named PSA."""
    kind = PSAKind(psa)
    if kind is PSAKind.HALO:
        from autotriage.sandbox.halo import HaloSimulator

        return HaloSimulator
    if kind is PSAKind.CONNECTWISE:
        from autotriage.sandbox.connectwise import ConnectWiseSimulator

        return ConnectWiseSimulator
    from autotriage.sandbox.autotask import AutotaskSimulator

    return AutotaskSimulator


def make_simulator(psa: str) -> Simulator:
    """A simulator of the named PSA, seeded with the bundled sample data."""
    return simulator_class(psa)()
