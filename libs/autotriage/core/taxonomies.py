"""Taxonomies by reference: published once to the compacted ``taxonomies`` topic, resolved by version.

The taxonomy-cache stage publishes a scope's taxonomy (and waits for the acknowledgement) before it emits the
events that refer to it; the classifier resolves a reference from its live view of the topic, waiting briefly
when its view has not caught up yet. Events stay small whatever the size of a board's taxonomy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from pydantic import ValidationError

from autotriage.core.bus.base import Bus, Table
from autotriage.core.bus.follow import FollowedTopic
from autotriage.core.bus.topics import TAXONOMIES, Topics
from autotriage.core.errors import PermanentError, TransientError
from autotriage.core.models import Taxonomy, TaxonomyRef, taxonomy_key

log = logging.getLogger(__name__)


class TaxonomyStore(FollowedTopic):
    """A process's view of the compacted ``taxonomies`` topic, with parsed taxonomies cached per value."""

    def __init__(self, bus: Bus, topics: Topics, wait_s: float = 10.0) -> None:
        super().__init__(bus, topics.name(TAXONOMIES))
        self._wait_s = wait_s
        self._parsed: dict[bytes, tuple[bytes, Taxonomy]] = {}

    def stored(self) -> Iterator[Taxonomy]:
        """Every taxonomy in the topic that can be read."""
        for key, raw in self._require().items():
            taxonomy = self._parse(key, raw)
            if taxonomy is not None:
                yield taxonomy

    async def publish(self, taxonomy: Taxonomy) -> None:
        """Store a taxonomy and wait until the bus acknowledged it."""
        key = taxonomy_key(taxonomy.tenant, taxonomy.scope)
        raw = taxonomy.model_dump_json().encode()
        ack = await self._bus.producer().send(self._topic, raw, key=key)
        await ack
        self._parsed[key] = (raw, taxonomy)

    async def resolve(self, ref: TaxonomyRef) -> Taxonomy:
        """The taxonomy a reference names (or a newer one of the same scope); waits briefly for the view to catch
        up, then raises TransientError so the record is retried rather than classified against nothing."""
        table = self._require()
        key = ref.key

        def accept(raw: bytes) -> bool:
            taxonomy = self._parse(key, raw)
            return taxonomy is not None and (taxonomy.version == ref.version or taxonomy.fetched_at >= ref.fetched_at)

        raw = table.get(key)
        if raw is None or not accept(raw):
            raw = await table.wait_for(key, accept, self._wait_s)
        if raw is None:
            raise TransientError(
                "taxonomy_unavailable",
                f"taxonomy {ref.tenant}:{ref.scope} version {ref.version} is not in {self._topic} yet",
            )
        taxonomy = self._parse(key, raw)
        if taxonomy is None:
            message = f"taxonomy {ref.tenant}:{ref.scope} in {self._topic} is corrupt"
            raise PermanentError("taxonomy_unreadable", message)
        return taxonomy

    def _parse(self, key: bytes, raw: bytes) -> Taxonomy | None:
        cached = self._parsed.get(key)
        if cached is not None and cached[0] == raw:
            return cached[1]
        try:
            taxonomy = Taxonomy.model_validate_json(raw)
        except ValidationError:
            log.warning("unreadable taxonomy record %r in %s", key, self._topic)
            return None
        self._parsed[key] = (raw, taxonomy)
        return taxonomy

    def _require(self) -> Table:
        if self._table is None:
            raise RuntimeError("TaxonomyStore.start() must be awaited first")
        return self._table
