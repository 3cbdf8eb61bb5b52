"""Build a PSA simulator by name."""

from __future__ import annotations

from autotriage.core.models import PSAKind
from autotriage.sandbox.autotask import AutotaskSimulator
from autotriage.sandbox.common import Simulator
from autotriage.sandbox.connectwise import ConnectWiseSimulator
from autotriage.sandbox.halo import HaloSimulator


def simulator_class(psa: str) -> type[Simulator]:
    """The simulator class of the named PSA."""
    kind = PSAKind(psa)
    if kind is PSAKind.HALO:
        return HaloSimulator
    if kind is PSAKind.CONNECTWISE:
        return ConnectWiseSimulator
    return AutotaskSimulator


def make_simulator(psa: str) -> Simulator:
    """A simulator of the named PSA, seeded with the bundled sample data."""
    return simulator_class(psa)()
