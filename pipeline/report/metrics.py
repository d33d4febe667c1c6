"""metrics.json: run counts, the baseline per dataset and every comparison's verdict (Δ and
intervals are in comparisons.csv, so `dvc exp show` stays readable)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.report.data import ReportData


def baseline_entry(data: ReportData, dataset: str) -> dict:
    """The baseline CNN's accuracy, seeds and floor check on `dataset` (empty without runs)."""
    variants = data.variants
    base = variants[(variants["variant_id"] == data.baselines.get(dataset))
                    & variants["accuracy_mean"].notna()]
    if base.empty:
        return {}
    entry = {"baseline_test_accuracy": round(float(base.iloc[0]["accuracy_mean"]), 5),
             "baseline_seeds": int(base.iloc[0]["seeds"])}
    floors = data.project.params.active.baseline_floors
    if dataset in floors:
        entry["baseline_floor"] = floors[dataset]
        entry["baseline_meets_floor"] = bool(base.iloc[0]["accuracy_mean"] >= floors[dataset])
    return entry


def report_metrics(data: ReportData) -> dict:
    """The metrics.json document."""
    metrics: dict = {"grid": data.grid.name, "profile": data.project.params.profile,
                     "runs": {k: int(v) for k, v in data.runs["status"].value_counts().items()},
                     "extra_seed_runs": sum(look["runs_added"]
                                            for look in data.replication.looks)}
    for dataset in data.grid.datasets:
        entry = baseline_entry(data, dataset)
        rows = data.frame[data.frame["dataset"] == dataset]
        entry["verdict_counts"] = {verdict: int(count) for verdict, count
                                   in rows["verdict"].value_counts().sort_index().items()}
        entry["verdicts"] = {f"{row['factor']}={row['level']}": row["verdict"]
                             for _, row in rows.iterrows()}
        metrics[dataset] = entry
    return metrics
