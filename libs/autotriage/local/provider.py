"""``LocalClassifier``: the local model behind the ``Classifier`` interface (``llm.provider: local``).

The model's labels are category paths; at prediction time they are mapped onto the candidates of the ticket's
current taxonomy, and only those compete, so a path the taxonomy no longer has is never returned.
Confidence is the calibrated probability that the chosen category is right. Zero cost, no network.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from autotriage.core.classifier import Classifier, Example
from autotriage.core.errors import ConfigError
from autotriage.core.models import Candidate, Classification, ConfidenceSource, Taxonomy, Ticket, Verdict
from autotriage.core.text.prepare import PreparedTicket
from autotriage.local.estimator import MISSING_SCORE, top_two
from autotriage.local.store import LocalModel, ModelMeta, load_model
from autotriage.local.text import feature_text, prepared_feature_text

log = logging.getLogger(__name__)

PROVIDER = "local"
#: Seconds between checks of the model file for a newer version (a retrained, promoted model).
RELOAD_CHECK_S = 10.0
#: Past tickets consulted for the technician-facing reasoning.
REASONING_NEIGHBOURS = 5


def path_key(path: tuple[str, ...]) -> tuple[str, ...]:
    """Paths compare case- and whitespace-insensitively."""
    return tuple(" ".join(p.split()).casefold() for p in path)


@dataclass(frozen=True)
class LocalPrediction:
    """A local verdict plus what the cascade reuses (the ticket's vector and the taxonomy mapping)."""

    classification: Classification
    vector: sparse.csr_matrix
    allowed: np.ndarray
    candidates: tuple[Candidate | None, ...]
    #: The model's score per label (labels outside the taxonomy at ``MISSING_SCORE``); ``None`` when none is allowed.
    scores: np.ndarray | None = None

    @property
    def confidence(self) -> float:
        """Calibrated confidence of the chosen category (0 when none was chosen)."""
        return self.classification.confidence if self.classification.verdict is Verdict.CHOSEN else 0.0


class LocalClassifier(Classifier):
    """Classifier over a trained local model."""

    provider = PROVIDER

    def __init__(self, model: LocalModel, path: Path | None = None, reload_check_s: float = RELOAD_CHECK_S) -> None:
        self.path = path
        self.reload_check_s = reload_check_s
        self._use(model)
        self._stamp = self._file_stamp()
        self._checked = time.monotonic()

    def _use(self, model: LocalModel) -> None:
        self.model = model
        self.name = f"local-{model.meta.model_id}" if model.meta.model_id else "local"
        self._keys = [path_key(p) for p in model.meta.labels]

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat() if self.path is not None else None
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size) if stat is not None else None

    def reload_if_changed(self) -> bool:
        """Pick up a new model written to the same path (retraining replaces the file atomically); checked at
        most every ``reload_check_s``. A file that cannot be read keeps the current model (and is logged)."""
        now = time.monotonic()
        if self.path is None or now - self._checked < self.reload_check_s:
            return False
        self._checked = now
        stamp = self._file_stamp()
        if stamp is None or stamp == self._stamp:
            return False
        try:
            model = load_model(self.path)
        except ConfigError as exc:
            log.warning("local model %s changed but cannot be loaded, keeping %s: %s", self.path, self.name,
                        exc.message)
            return False
        self._stamp = stamp
        old = self.name
        self._use(model)
        log.info("local model %s reloaded: %s -> %s", self.path, old, self.name)
        return True

    @classmethod
    def load(cls, path: Path) -> LocalClassifier:
        """Load a model file (refuses another format version, see ``store``)."""
        return cls(load_model(path), path)

    @property
    def meta(self) -> ModelMeta:
        """The model's metadata."""
        return self.model.meta

    async def classify(self, ticket: Ticket, taxonomy: Taxonomy) -> Classification:
        return self.predict(ticket, taxonomy).classification

    def predict(self, ticket: Ticket, taxonomy: Taxonomy) -> LocalPrediction:
        """Classify one ticket among the taxonomy's candidates."""
        started = time.perf_counter()
        self.reload_if_changed()
        estimator = self.model.estimator
        by_key = {path_key(c.path): c for c in taxonomy.candidates}
        candidates = tuple(by_key.get(key) for key in self._keys)
        allowed = np.array([c is not None for c in candidates], dtype=bool)
        if isinstance(ticket, PreparedTicket):  # already cleaned and redacted for the prompt: not a second time
            text = prepared_feature_text(ticket.summary, ticket.description)
        else:
            text = feature_text(ticket.summary, ticket.description)
        vector = estimator.transform([text])
        if not allowed.any():
            result = Classification(
                verdict=Verdict.ABSTAINED, reason="local_no_known_category", provider=PROVIDER, model=self.name,
                confidence_source=ConfidenceSource.CALIBRATED,
                reasoning="none of the categories the local model learned is allowed in this scope",
                latency_s=time.perf_counter() - started,
            )
            return LocalPrediction(result, vector, allowed, candidates)
        scores = estimator.scores(vector)
        scores[:, ~allowed] = MISSING_SCORE
        best, top, margin = top_two(scores)
        confidence = float(estimator.calibrator(top, margin)[0])
        candidate = candidates[int(best[0])]
        if candidate is None:  # only allowed labels can win: they all map to a candidate
            raise RuntimeError(f"label {int(best[0])} won but is not in the taxonomy")
        result = Classification(
            verdict=Verdict.CHOSEN, candidate=candidate, confidence=min(1.0, max(0.0, confidence)),
            confidence_source=ConfidenceSource.CALIBRATED, reasoning=self._reasoning(vector, allowed, candidate),
            provider=PROVIDER, model=self.name, latency_s=time.perf_counter() - started,
        )
        return LocalPrediction(result, vector, allowed, candidates, scores[0])

    def ranked(self, prediction: LocalPrediction, k: int) -> list[Candidate]:
        """The ``k`` best-scored candidates of the ticket's taxonomy, best first (the LLM shortlist's core)."""
        if prediction.scores is None:
            return []
        order = np.argsort(-prediction.scores, kind="stable")
        found = [prediction.candidates[int(i)] for i in order if prediction.allowed[int(i)]]
        return [c for c in found if c is not None][:k]

    def examples(self, prediction: LocalPrediction, k: int) -> list[Example]:
        """The ``k`` most similar past tickets (cosine on TF-IDF) with their category ids in this taxonomy."""
        estimator = self.model.estimator
        if estimator.vector_labels is None or estimator.snippets is None:
            return []
        found = []
        for row, _ in estimator.neighbours(prediction.vector, k, prediction.allowed):
            candidate = prediction.candidates[int(estimator.vector_labels[row])]
            if candidate is not None:
                found.append(Example(text=estimator.snippets[row], category_id=candidate.id))
        return found

    def _reasoning(self, vector: sparse.csr_matrix, allowed: np.ndarray, chosen: Candidate) -> str:
        estimator = self.model.estimator
        base = f"Local model trained on {self.meta.n_examples} past tickets"
        if estimator.vector_labels is None:
            return f"{base} chose {chosen.label}."
        rows = estimator.neighbours(vector, REASONING_NEIGHBOURS, allowed)
        if not rows:
            return f"{base} chose {chosen.label}."
        votes = Counter(self.meta.labels[int(estimator.vector_labels[r])] for r, _ in rows)
        agree = votes.get(chosen.path, 0)
        return f"{base}: {agree} of the {len(rows)} most similar past tickets were filed under {chosen.label}."
