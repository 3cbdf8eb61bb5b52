"""The versioned model file.

Layout: a magic line, one line of JSON metadata (format version, tenant, PSA, training facts, measured
precision table, SHA-256 of the payload), then the joblib payload (the fitted estimator). The metadata is
read and checked before anything is unpickled, so a file of another format version or a damaged file is
refused with a message naming the fix. Model files are trusted local artefacts (joblib is pickle): load only
files you trained yourself.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import joblib
import sklearn
from pydantic import BaseModel, ConfigDict, ValidationError

from autotriage.core.errors import ConfigError
from autotriage.local.estimator import TextModel

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MAGIC = b"autotriage-local-model\n"


class ThresholdRow(BaseModel):
    """Measured precision and coverage at one confidence threshold (held-out split)."""

    model_config = ConfigDict(frozen=True)

    threshold: float
    precision: float | None
    coverage: float
    count: int


class ModelMeta(BaseModel):
    """What the file says about its model (readable without unpickling)."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    format_version: int = FORMAT_VERSION
    model_id: str = ""
    tenant: str
    psa: str | None = None
    scope: str | None = None
    trained_at: datetime
    sklearn_version: str = sklearn.__version__
    algorithm: str
    #: Whether ``algorithm`` was chosen for the data (``auto``): a retrain then chooses again, while a tenant's own
    #: choice is kept.
    algorithm_auto: bool = False
    n_examples: int
    n_train: int
    n_holdout: int
    refit: bool = False
    labels: list[tuple[str, ...]]
    holdout_accuracy: float | None = None
    holdout_macro_f1: float | None = None
    target_precision: float
    threshold: float | None = None
    threshold_precision: float | None = None
    threshold_coverage: float | None = None
    #: The Wilson lower bound (one-sided 97.5 %) of the precision at the threshold, what the threshold promises.
    threshold_precision_lower: float | None = None
    #: Why there is no threshold (too little held-out history, or no threshold reaches the target).
    threshold_note: str = ""
    threshold_table: list[ThresholdRow] = []
    #: Held-out top-k recall for k = 1, 2, ... (entry k-1) and the LLM shortlist size chosen from it.
    topk_recall: list[float] = []
    shortlist_k: int | None = None
    data_sha256: str


@dataclass
class LocalModel:
    """A trained model: its metadata and the fitted estimator."""

    meta: ModelMeta
    estimator: TextModel


def save_model(model: LocalModel, path: Path) -> Path:
    """Write the model file (parent folders are created); ``meta.model_id`` becomes the payload hash prefix."""
    buffer = io.BytesIO()
    joblib.dump(model.estimator, buffer, compress=3)
    payload = buffer.getvalue()
    digest = hashlib.sha256(payload).hexdigest()
    model.meta = model.meta.model_copy(update={"model_id": digest[:12]})
    header = {"meta": model.meta.model_dump(mode="json"), "payload_sha256": digest}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(MAGIC + json.dumps(header, ensure_ascii=False).encode() + b"\n" + payload)
    tmp.replace(path)
    return path


def read_meta(path: Path) -> tuple[ModelMeta, str, bytes]:
    """The metadata, payload hash and payload bytes; refuses foreign files and other format versions."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read local model {path} ({exc.strerror}): train one with "
                          "`autotriage learn --tenant <id>` and set llm.local_model_path") from exc
    if not data.startswith(MAGIC):
        raise ConfigError(f"{path} is not an autotriage local model file: train one with `autotriage learn`")
    header_end = data.find(b"\n", len(MAGIC))
    try:
        header = json.loads(data[len(MAGIC):header_end])
        version = int(header["meta"]["format_version"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: the model file's header is damaged; retrain with `autotriage learn`") from exc
    if version != FORMAT_VERSION:
        raise ConfigError(
            f"{path} has model format version {version}, this autotriage reads version {FORMAT_VERSION}: "
            f"retrain it with `autotriage learn --tenant {header['meta'].get('tenant', '<id>')}` "
            "(or run the autotriage version that wrote it)"
        )
    try:
        meta = ModelMeta.model_validate(header["meta"])
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid model metadata ({exc.error_count()} errors); retrain it") from exc
    return meta, str(header.get("payload_sha256", "")), data[header_end + 1:]


def load_model(path: Path) -> LocalModel:
    """Read and verify a model file (see the module docstring)."""
    meta, digest, payload = read_meta(path)
    if hashlib.sha256(payload).hexdigest() != digest:
        raise ConfigError(f"{path}: the model payload does not match its checksum (truncated or altered "
                          "file); copy it again or retrain with `autotriage learn`")
    if meta.sklearn_version != sklearn.__version__:
        log.warning("local model %s was trained with scikit-learn %s, this process runs %s; retrain it if "
                    "its predictions look off", path, meta.sklearn_version, sklearn.__version__)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's version warning: reported above, once
        estimator = joblib.load(io.BytesIO(payload))
    if not isinstance(estimator, TextModel):
        raise ConfigError(f"{path}: unexpected payload {type(estimator).__name__}; retrain the model")
    return LocalModel(meta, estimator)
