"""The insights report: Markdown with PNG charts next to it."""

from __future__ import annotations

from pathlib import Path

from autotriage.feedback.insights import Insights
from autotriage.feedback.runs import Window

TOP = 12


def _trend(value: float | None) -> str:
    return "new" if value is None else f"{value:+.0%}"


def charts(insights: Insights, report: Path) -> list[Path]:
    """Hours per category and tickets against the previous period (top categories by time)."""
    import matplotlib  # noqa: PLC0415 - matplotlib is the optional report extra

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 - matplotlib is the optional report extra

    rows = [c for c in insights.categories if c.tickets][:TOP][::-1]
    labels = [c.label if len(c.label) <= 48 else "…" + c.label[-47:] for c in rows]
    out = []
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(rows) + 1.5))
    ax.barh(labels, [c.hours for c in rows], color="#3b75af")
    ax.set_xlabel("technician hours")
    ax.set_title(f"{insights.tenant}: technician time per category")
    fig.tight_layout()
    out.append(report.with_name(f"{report.stem}-hours.png"))
    fig.savefig(out[-1], dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(rows) + 1.5))
    y = range(len(rows))
    ax.barh([i + 0.2 for i in y], [c.tickets for c in rows], height=0.4, label="this period", color="#3b75af")
    ax.barh([i - 0.2 for i in y], [c.previous_tickets for c in rows], height=0.4, label="previous period",
            color="#aec7e8")
    ax.set_yticks(list(y), labels)
    ax.set_xlabel("tickets")
    ax.legend()
    ax.set_title(f"{insights.tenant}: ticket volume against the previous period")
    fig.tight_layout()
    out.append(report.with_name(f"{report.stem}-volume.png"))
    fig.savefig(out[-1], dpi=110)
    plt.close(fig)
    return out


def markdown(insights: Insights, window: Window, images: list[Path]) -> str:
    """The report text."""
    lines = [f"# Ticket insights: {insights.tenant}", "",
             f"Closed {window.since:%Y-%m-%d} to {window.until:%Y-%m-%d}: **{insights.tickets} tickets**, "
             f"**{insights.hours:.1f} technician hours** (previous period of the same length: "
             f"{insights.previous_tickets} tickets).", ""]
    lines += [f"![{p.stem}]({p.name})" for p in images] + [""]
    lines += ["## Volume and time per category", "",
              "| category | tickets | trend | hours | hours/ticket |", "|---|---:|---:|---:|---:|"]
    for c in [c for c in insights.categories if c.tickets][:25]:
        lines.append(f"| {c.label} | {c.tickets} | {_trend(c.trend)} | {c.hours:.1f} | {c.mean_hours:.2f} |")
    lines += ["", "## Automation candidates", "",
              "Ranked by hours x repetitiveness (how alike the tickets are, 0-100 %).", "",
              "| category | tickets | hours | alike | examples |", "|---|---:|---:|---:|---|"]
    for c in insights.automation[:5]:
        examples = "; ".join(f"“{e}”" for e in c.examples)
        lines.append(f"| {c.label} | {c.tickets} | {c.hours:.1f} | {c.repetitiveness:.0%} | {examples} |")
    lines += ["", "## Taxonomy hygiene", ""]
    lines.append(f"- **Never used** in this period: {len(insights.unused)} categories"
                 + (": " + ", ".join(" > ".join(p) for p in insights.unused[:15]) if insights.unused else "")
                 + (" …" if len(insights.unused) > 15 else ""))
    if insights.catch_all:
        lines.append("- **Catch-all overuse**: " + ", ".join(f"{' > '.join(p)} ({s:.0%} of tickets)"
                                                           for p, s in insights.catch_all))
    else:
        lines.append("- **Catch-all overuse**: none above 10 % of tickets")
    if insights.rarely_kept:
        lines.append("- **Rarely kept by technicians**: " + ", ".join(
            f"{' > '.join(p)} (kept {r:.0%} of {n})" for p, r, n in insights.rarely_kept))
    else:
        lines.append("- **Rarely kept by technicians**: none (or no decisions to compare)")
    if insights.confused:
        lines.append("- **Confused pairs** (autotriage -> technician): " + ", ".join(
            f"{' > '.join(a)} -> {' > '.join(b)} ({n})" for a, b, n in insights.confused))
    return "\n".join(lines) + "\n"


def write_report(insights: Insights, window: Window, path: Path) -> list[Path]:
    """Write the Markdown report and its charts; return every file written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    images = charts(insights, path)
    path.write_text(markdown(insights, window, images), encoding="utf-8")
    return [path, *images]
