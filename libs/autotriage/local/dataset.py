"""Labelled tickets for training and evaluation: readers (JSONL, CSV), a deterministic hold-out split and the
hash that identifies a training set."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autotriage.core.errors import ConfigError
from autotriage.core.models import Ticket

PATH_SEPARATOR = ">"


@dataclass(frozen=True)
class LabelledTicket:
    """A ticket's text, scope and final category path (``None``: noise, no category expected).

    ``noise``: the labelled noise kind (``None``: not noise); only meaningful when ``noise_labelled``. ``sender``
    and ``headers`` carry what the noise filter reads from the mail when the data has them."""

    summary: str
    description: str
    path: tuple[str, ...] | None
    scope: str = ""
    id: str = ""
    noise: str | None = None
    noise_labelled: bool = False
    sender: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    #: Training weight (a technician's correction counts more than old history).
    weight: float = 1.0

    @property
    def key(self) -> str:
        """A stable identity used for the split and the data hash."""
        return self.id or hashlib.sha256(f"{self.summary}\n{self.description}".encode()).hexdigest()[:16]

    def ticket(self) -> Ticket:
        """The standard ticket shape (what the classifier sees)."""
        return Ticket(id=self.id or self.key, summary=self.summary, description=self.description, scope=self.scope,
                      contact_email=self.sender, headers=dict(self.headers))


def parse_path(value: Any) -> tuple[str, ...] | None:
    """A category path from a list (``["A", "B"]``) or a string (``"A > B"``); ``None`` when empty."""
    if value is None:
        return None
    parts: list[str]
    if isinstance(value, list | tuple):
        parts = [str(p).strip() for p in value]
    elif isinstance(value, str):
        parts = [p.strip() for p in value.split(PATH_SEPARATOR)]
    else:
        raise ValueError(f"category must be a list or an 'A > B' string, not {type(value).__name__}")
    parts = [p for p in parts if p]
    return tuple(parts) or None


def _noise(row: dict[str, Any], where: str) -> tuple[str | None, bool]:
    """(noise kind or None, whether the row labels noise at all): ``"noise": "out_of_office"`` / ``null``."""
    if "noise" not in row:
        return None, False
    value = row["noise"]
    if value in (None, "", False, "false", "no", "none", "null"):
        return None, True
    if not isinstance(value, str):
        raise ConfigError(f"{where}: 'noise' must be a noise kind (e.g. \"out_of_office\") or null, not {value!r}")
    return value.strip(), True


def _headers(row: dict[str, Any], where: str) -> tuple[tuple[str, str], ...]:
    value = row.get("headers") or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: 'headers' must be an object of mail header names and values")
    return tuple((str(k), str(v)) for k, v in value.items())


def _row(row: dict[str, Any], where: str) -> LabelledTicket:
    summary = str(row.get("summary") or row.get("title") or "").strip()
    description = str(row.get("details") or row.get("description") or "")
    noise, noise_labelled = _noise(row, where)
    if not summary and not description.strip() and not noise_labelled:
        raise ConfigError(f"{where}: a ticket needs 'summary'/'title' or 'details'/'description'")
    try:
        path = parse_path(row.get("category"))
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    scope = row.get("scope")
    return LabelledTicket(summary=summary, description=description, path=path,
                          scope="" if scope is None else str(scope), id=str(row.get("id") or ""),
                          noise=noise, noise_labelled=noise_labelled,
                          sender=str(row.get("from") or row.get("sender") or row.get("contact_email") or ""),
                          headers=_headers(row, where))


def read_labelled(path: Path) -> list[LabelledTicket]:
    """Read ``.jsonl`` (one object a line) or ``.csv`` (header row): ``summary``/``title``,
    ``details``/``description``, ``category`` (list or ``"A > B"``; empty = noise), optional ``scope``, ``id``,
    ``noise`` (the noise kind, or null for a real ticket), ``from`` and ``headers`` (what the noise filter reads)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read {path} ({exc.strerror}): check the --data path") from exc
    rows: list[LabelledTicket] = []
    if path.suffix.lower() == ".csv":
        for n, record in enumerate(csv.DictReader(text.splitlines()), start=2):
            rows.append(_row({k.strip().lower(): v for k, v in record.items() if k}, f"{path}:{n}"))
    elif path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{n}: not JSON ({exc.msg}); one JSON object per line expected") from exc
            if not isinstance(record, dict):
                raise ConfigError(f"{path}:{n}: expected a JSON object per line")
            rows.append(_row(record, f"{path}:{n}"))
    else:
        raise ConfigError(f"{path}: unknown data format {path.suffix!r}; use .jsonl or .csv")
    return rows


def holdout_split(
    examples: Sequence[LabelledTicket], fraction: float = 0.2, seed: str = "autotriage"
) -> tuple[list[LabelledTicket], list[LabelledTicket]]:
    """Deterministic, per-category (stratified) split: about ``fraction`` of every category is held out,
    always keeping at least one example of each category for training. Order depends only on the data."""
    groups: dict[tuple[str, ...] | None, list[LabelledTicket]] = defaultdict(list)
    for example in examples:
        groups[example.path].append(example)
    train: list[LabelledTicket] = []
    held: list[LabelledTicket] = []
    for members in groups.values():
        ordered = sorted(members, key=lambda e: hashlib.sha256(f"{seed}:{e.key}".encode()).hexdigest())
        take = min(len(ordered) - 1, round(len(ordered) * fraction))
        held += ordered[:take]
        train += ordered[take:]
    order = {id(e): i for i, e in enumerate(examples)}
    return sorted(train, key=lambda e: order[id(e)]), sorted(held, key=lambda e: order[id(e)])


def data_hash(examples: Iterable[LabelledTicket]) -> str:
    """SHA-256 over the training examples (text, scope, path), independent of their order."""
    lines = sorted(
        json.dumps([e.summary, e.description, e.scope, list(e.path or ())], ensure_ascii=False) for e in examples
    )
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()
