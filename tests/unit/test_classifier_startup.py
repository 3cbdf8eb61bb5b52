"""A classifier replica starts cheaply: KEDA adds replicas under load, when CPU is scarce."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_classifier_stage_does_not_import_the_local_model_libraries() -> None:
    """scikit-learn (over a second of CPU to import) loads only for a tenant with a local model."""
    code = "import sys, autotriage.classifier.stage, autotriage.app; print('sklearn' in sys.modules)"
    paths = [str(REPO / "libs"), str(REPO / "services")]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": ":".join(paths)}, cwd=REPO)
    assert out.stdout.strip() == "False", out.stderr
