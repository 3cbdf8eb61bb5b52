"""The local model's top-k: how often the right category is among its k best-scored ones (top-k recall,
measured on held-out tickets at training time) and the k a tenant's LLM shortlist uses.

``choose_k``: the smallest k whose recall reaches the target (98 %); when even ``MAX_K`` does not reach it
(tickets with no usable text, label noise: the curve flattens), the smallest k within ``PLATEAU_TOLERANCE`` of
the recall at ``MAX_K`` (more candidates past the knee cost tokens on every ticket and recover almost none).
The full-list retry of an abstention or a low-confidence pick covers what the shortlist misses.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

TARGET_RECALL = 0.98
MAX_K = 20
PLATEAU_TOLERANCE = 0.01


def truth_ranks(scores: NDArray[np.float64], truth: NDArray[np.int64]) -> NDArray[np.int64]:
    """0-based rank of the true label in each row (0 = top-1; ties count in the truth's favour)."""
    true_scores = scores[np.arange(len(truth)), truth]
    ranks: NDArray[np.int64] = (scores > true_scores[:, None]).sum(axis=1).astype(np.int64)
    return ranks


def topk_recall(scores: NDArray[np.float64], truth: NDArray[np.int64], max_k: int = MAX_K) -> list[float]:
    """Top-k recall for k = 1..``max_k`` (entry ``k - 1``): the share of rows whose truth is among the k best."""
    if len(truth) == 0:
        return []
    ranks = truth_ranks(scores, truth)
    limit = min(max_k, scores.shape[1])
    return [round(float((ranks < k).mean()), 4) for k in range(1, limit + 1)]


def choose_k(curve: list[float], target: float = TARGET_RECALL, tolerance: float = PLATEAU_TOLERANCE) -> int | None:
    """The shortlist size for a measured recall ``curve`` (see the module docstring); ``None`` without one."""
    if not curve:
        return None
    goal = target if curve[-1] >= target else curve[-1] - tolerance
    return next(k for k, recall in enumerate(curve, start=1) if recall >= goal)
