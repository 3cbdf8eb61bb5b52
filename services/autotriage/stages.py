"""The stage registry: every stage's name, class and default health/metrics port, in pipeline order.

``app.build_host``, the CLI's ``serve``/``run``, ``demo``, and (checked by tests/unit/test_deploy_files.py) the
Dockerfile's ports and healthcheck, docker-compose and the Kubernetes manifests all follow this list. Kept free
of imports so that the CLI can read it without loading the stages.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class StageSpec:
    """One stage: its name (``autotriage serve NAME``), its class (``module:Class``) and default port."""

    name: str
    target: str
    port: int

    def load(self) -> type:
        """The stage's class."""
        module, _, cls = self.target.partition(":")
        found = getattr(importlib.import_module(module), cls)
        if not isinstance(found, type):
            raise TypeError(f"{self.target} is not a class")
        return found


STAGES: tuple[StageSpec, ...] = (
    StageSpec("ingress", "autotriage.ingress.app:Ingress", 8080),
    StageSpec("normalizer", "autotriage.normalizer.stage:NormalizerStage", 9101),
    StageSpec("taxonomy-cache", "autotriage.taxonomy_cache.stage:TaxonomyCacheStage", 9102),
    StageSpec("classifier", "autotriage.classifier.stage:ClassifierStage", 9103),
    StageSpec("writer", "autotriage.writer.stage:WriterStage", 9104),
)
#: Stage names in pipeline order.
NAMES: tuple[str, ...] = tuple(spec.name for spec in STAGES)
#: Each stage's default health/metrics port (``autotriage run`` uses the ingress port).
PORTS: dict[str, int] = {spec.name: spec.port for spec in STAGES}
