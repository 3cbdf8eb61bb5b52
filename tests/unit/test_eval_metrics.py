"""Evaluation metrics on a tiny set with known answers, the threshold choice, and the written report."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from autotriage.commands.evaluate import classify_cases
from autotriage.commands.report import render_markdown, write_report
from autotriage.local.evaluation import EvalCase, choose_threshold, evaluate, macro_f1, percentile, precision_at
from autotriage.local.provider import LocalClassifier
from autotriage.local.training import train_model
from tests.unit.test_local_model import VOCAB, synthetic, taxonomy

AB, AC, XY = ("A", "B"), ("A", "C"), ("X", "Y")
CASES = [
    EvalCase(truth=AB, predicted=AB, confidence=0.9, cost_usd=0.001, latency_s=0.1),
    EvalCase(truth=AC, predicted=AB, confidence=0.6, cost_usd=0.001, latency_s=0.2),  # right at level 1 only
    EvalCase(truth=XY, predicted=None, confidence=0.0, cost_usd=0.001, latency_s=0.3),  # abstained
    EvalCase(truth=XY, predicted=XY, confidence=0.8, cost_usd=0.001, latency_s=0.4),
    EvalCase(truth=None, predicted=AB, confidence=0.7, cost_usd=0.001, latency_s=1.0),  # noise given a category
]


def test_known_answers() -> None:
    report = evaluate(CASES, thresholds=(0.5, 0.7, 0.95))
    assert (report.n, report.n_labelled, report.n_noise, report.noise_chosen) == (5, 4, 1, 1)
    assert report.accuracy == {"level 1": 0.75, "level 1-2": 0.5, "full path": 0.5}
    assert report.abstain_rate == 0.25
    assert report.macro_f1 == pytest.approx((2 / 3 + 0 + 2 / 3) / 3)
    assert report.confused == [("A > C", "A > B", 1)]
    at = {p.threshold: p for p in report.thresholds}
    assert at[0.5].precision == pytest.approx(2 / 3) and (at[0.5].coverage, at[0.5].count) == (0.75, 3)
    assert (at[0.7].precision, at[0.7].coverage) == (1.0, 0.5)
    assert (at[0.95].precision, at[0.95].coverage) == (None, 0.0)
    assert report.usd_per_1000 == pytest.approx(1.0)
    assert (report.latency_p50_s, report.latency_p95_s) == (0.3, 1.0)
    assert [p.coverage for p in report.curve] == [0.25, 0.5, 0.75]


def test_threshold_choice_needs_precision_and_support() -> None:
    confidences = [0.99, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5]
    correct = [True, True, True, True, True, True, False, False]
    chosen = choose_threshold(confidences, correct, target=0.95, min_support=5)
    assert chosen is not None and (chosen.threshold, chosen.count, chosen.precision) == (0.7, 6, 1.0)
    assert choose_threshold(confidences, correct, target=0.95, min_support=7) is None
    assert precision_at(confidences, correct, 0.6).precision == pytest.approx(6 / 7)


def test_small_helpers() -> None:
    assert percentile([], 50) == 0.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert macro_f1(["a", "b"], ["a", None]) == pytest.approx(0.5)


def test_markdown_and_plot(tmp_path: Path) -> None:
    report = evaluate(CASES)
    markdown = render_markdown(report, "eval", {"provider": "local"}, cascade_threshold=0.8)
    assert "| accuracy (full path) | 50.0% |" in markdown
    assert "| 0.800 (cascade) | 100.0% | 50.0% | 2 |" in markdown
    assert "| A > C | A > B | 1 |" in markdown
    md, png = write_report(report, tmp_path / "out" / "report.md", "eval", {"provider": "local"})
    assert md.read_text().startswith("# eval") and "![precision-coverage](report.png)" in md.read_text()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_classify_cases_with_the_local_model() -> None:
    history = synthetic()
    local = LocalClassifier(train_model(history, tenant="acme"))
    tax = taxonomy(list(VOCAB))
    fresh = synthetic(per_category=4, seed=99)
    cases = await classify_cases(local, [(e, tax) for e in fresh])
    report = evaluate(cases)
    assert report.n == 24 and report.accuracy["full path"] >= 0.9
    assert report.decisions == {"local": 24} and report.usd_per_1000 == 0.0


def test_eval_on_the_bundled_sample_writes_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from autotriage.commands.evaluate import run
    from autotriage.core.settings import Settings

    args = argparse.Namespace(sample="autotask", tenant=None, data=None, provider="local", model=None, taxonomy=None,
                              report=tmp_path / "autotask.md", concurrency=8)
    assert run(args, Settings()) == 0
    out = capsys.readouterr().out
    assert "accuracy (full path)" in out and ("handles" in out or "none stored" in out)
    assert "noise precision" in out  # the bundled data labels its noise
    assert (tmp_path / "autotask.png").exists() and "macro-F1" in (tmp_path / "autotask.md").read_text()
    markdown = (tmp_path / "autotask.md").read_text()
    assert "local top-k recall (this set)" in markdown
    assert "prompt tokens / ticket, full list vs shortlist" in markdown
    assert "USD / 1,000 tickets @ gpt-4o-mini, full list vs shortlist" in markdown
