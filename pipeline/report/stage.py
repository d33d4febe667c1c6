"""The DVC `report` stage: results.csv, comparisons.csv, metrics.json, ablation.md/.html.

One data object (pipeline.report.data) holds the runs, verdicts and seeds; the Markdown is
its sections in order (pipeline.report.contents). The adaptive seeds are replayed from the
same records, so the report covers exactly the runs the train stage trained, and nothing in
the output depends on the clock: the same results give the same files.
"""

from __future__ import annotations

import json

from pipeline.config import Project
from pipeline.progress import console, summary_table
from pipeline.report.contents import render
from pipeline.report.data import ReportData, report_data
from pipeline.report.html_page import write_html
from pipeline.report.metrics import report_metrics
from pipeline.report.publish import best_runs, incomplete, publish
from pipeline.report.verdict_tables import COLUMNS
from pipeline.runs.committed_evidence import evidence_dir, export_evidence, seed_from_evidence
from pipeline.runs.records import reads_logged

REPORT_FILES = ("ablation.md", "ablation.html", "comparisons.csv", "results.csv", "metrics.json")


def build_report(project: Project) -> dict:
    """Write every report file for the active profile's grid; returns the metrics written.

    Committed evidence beside the report fills in records results/runs lacks (a clean
    clone rebuilds the committed report); a complete study refreshes that evidence with
    exactly the records the report read.
    """
    folder = evidence_dir(project.reports_dir)
    seeded = seed_from_evidence(folder, project.results_dir)
    if seeded:
        console.print(f"evidence: {seeded} record(s) restored from {folder}")
    with reads_logged() as read:
        metrics, held_back = write_report(project)
    if held_back is None:
        count = export_evidence(sorted(read), folder)
        console.print(f"evidence: {count} record(s) kept in {folder}")
    return metrics


def write_report(project: Project) -> tuple[dict, str | None]:
    """The report files; returns the metrics and why the study is incomplete (or None)."""
    data = report_data(project)
    data.figures_dir.mkdir(parents=True, exist_ok=True)
    for stale in data.figures_dir.glob("*.png"):
        stale.unlink()
    data.runs.to_csv(data.reports_dir / "results.csv", index=False)
    data.frame[COLUMNS].to_csv(data.reports_dir / "comparisons.csv", index=False,
                               float_format="%.6g")
    lines = render(data)
    (data.reports_dir / "ablation.md").write_text("\n".join(lines) + "\n")
    write_html(lines, data.reports_dir, data.reports_dir / "ablation.html",
               f"CNN ablation report: {data.grid.name} ({project.params.profile})")
    metrics = report_metrics(data)
    (data.reports_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    held_back = incomplete(data.runs, data.frame)
    publish(project, data.grid, [data.reports_dir / name for name in REPORT_FILES],
            data.figures_dir, best_runs(data.runs, data.frame, data.baselines), held_back)
    print_summary(data, metrics)
    return metrics, held_back


def print_summary(data: ReportData, metrics: dict) -> None:
    console.print(summary_table(f"report -> {data.reports_dir}", [
        ("runs", len(data.runs)), *metrics["runs"].items(),
        *data.frame["verdict"].value_counts().items(),
        ("figures", len(list(data.figures_dir.glob("*.png"))))]))
