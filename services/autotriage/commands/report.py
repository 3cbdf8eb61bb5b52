"""Presenting an ``EvalReport``: rich tables on the terminal, a Markdown report, a precision-coverage PNG."""

from __future__ import annotations

import logging
from pathlib import Path

from rich.console import Console
from rich.table import Table

from autotriage.local.evaluation import EvalReport, ThresholdPoint


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def headline(report: EvalReport) -> list[tuple[str, str]]:
    """The key figures, in order."""
    rows = [(f"accuracy ({name})", _pct(value)) for name, value in report.accuracy.items()]
    rows += [
        ("macro-F1 (full path)", _pct(report.macro_f1)),
        ("abstain rate", _pct(report.abstain_rate)),
        ("tickets", f"{report.n} ({report.n_labelled} labelled, {report.n_noise} noise)"),
        ("USD per 1,000 tickets", f"{report.usd_per_1000:.4f}"),
        ("latency p50 / p95", f"{report.latency_p50_s * 1000:.1f} ms / {report.latency_p95_s * 1000:.1f} ms"),
    ]
    if report.decisions:
        total = sum(report.decisions.values())
        rows.append(("decisions", ", ".join(f"{k} {v} ({v / total:.0%})" for k, v in sorted(report.decisions.items()))))
    if report.n_noise:
        rows.append(("noise tickets given a category", f"{report.noise_chosen} of {report.n_noise}"))
    return rows


def _threshold_rows(points: list[ThresholdPoint], marked: float | None) -> list[tuple[str, str, str, str]]:
    rows = []
    for p in points:
        mark = " (cascade)" if marked is not None and abs(p.threshold - marked) < 1e-12 else ""
        rows.append((f"{p.threshold:.3f}{mark}", _pct(p.precision), _pct(p.coverage), str(p.count)))
    return rows


def print_report(console: Console, report: EvalReport, title: str, facts: dict[str, str],
                 cascade_threshold: float | None = None) -> None:
    """Rich tables: headline figures, thresholds, most confused pairs."""
    main = Table(title=title, show_header=False)
    main.add_column(style="bold")
    main.add_column()
    for key, value in [*facts.items(), *headline(report)]:
        main.add_row(key, value)
    console.print(main)
    thresholds = Table(title="precision and coverage by confidence threshold")
    for name in ("threshold", "precision", "coverage", "tickets"):
        thresholds.add_column(name, justify="right")
    for row in _threshold_rows(report.thresholds, cascade_threshold):
        thresholds.add_row(*row)
    console.print(thresholds)
    if report.confused:
        confused = Table(title="most confused (labelled -> predicted)")
        confused.add_column("labelled")
        confused.add_column("predicted")
        confused.add_column("n", justify="right")
        for truth, predicted, count in report.confused:
            confused.add_row(truth, predicted, str(count))
        console.print(confused)


def render_markdown(report: EvalReport, title: str, facts: dict[str, str], cascade_threshold: float | None = None,
                    plot: Path | None = None) -> str:
    """The Markdown report."""
    lines = [f"# {title}", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in [*facts.items(), *headline(report)]]
    lines += ["", "## Precision and coverage by confidence threshold", "",
              "| threshold | precision | coverage | tickets |", "|---:|---:|---:|---:|"]
    lines += [f"| {' | '.join(row)} |" for row in _threshold_rows(report.thresholds, cascade_threshold)]
    if plot is not None:
        lines += ["", f"![precision-coverage]({plot.name})"]
    if report.confused:
        lines += ["", "## Most confused pairs", "", "| labelled | predicted | n |", "|---|---|---:|"]
        lines += [f"| {t} | {p} | {n} |" for t, p, n in report.confused]
    return "\n".join(lines) + "\n"


def plot_curve(report: EvalReport, path: Path, title: str) -> Path:
    """Precision against coverage over all thresholds (matplotlib, Agg backend)."""
    import matplotlib  # noqa: PLC0415 - optional extra `report`

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt  # noqa: PLC0415 - optional extra `report`

    figure, axes = plt.subplots(figsize=(6, 4), dpi=110)
    axes.plot([p.coverage for p in report.curve], [p.precision or 0.0 for p in report.curve], marker=".",
              linewidth=1.5)
    axes.axhline(0.95, color="grey", linestyle="--", linewidth=0.8)
    axes.set_xlabel("coverage (share of labelled tickets at or above the threshold)")
    axes.set_ylabel("precision")
    axes.set_xlim(0, 1.02)
    lowest = min((p.precision or 0.0 for p in report.curve), default=0.0)
    axes.set_ylim(min(0.5, max(0.0, lowest - 0.05)), 1.02)
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


def write_report(report: EvalReport, path: Path, title: str, facts: dict[str, str],
                 cascade_threshold: float | None = None) -> tuple[Path, Path]:
    """Write ``path`` (Markdown) and the plot next to it (same name, ``.png``)."""
    png = plot_curve(report, path.with_suffix(".png"), title)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_markdown(report, title, facts, cascade_threshold, png), encoding="utf-8")
    return path, png
