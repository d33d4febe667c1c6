"""The report in MLflow: its files as artifacts of the grid's parent run, and the best variant
per dataset (by the verdicts) in the Model Registry with the profile's alias `best-<profile>`,
moved only by a complete study: verdicts, and no run missing or failed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.config import Project
from pipeline.evidence.verdicts import BETTER
from pipeline.progress import console
from pipeline.report.registry import register_best
from pipeline.runs.records import DONE, INFEASIBLE
from pipeline.specs.grid import GridSpec


def best_runs(runs: pd.DataFrame, frame: pd.DataFrame,
              baseline_ids: dict[str, str]) -> dict[str, str]:
    """Per dataset, one MLflow run of the best variant: the `better` level with the largest
    Δ, else the baseline CNN (nothing beat it); its seed with the highest test accuracy."""
    chosen = {}
    for dataset, baseline in baseline_ids.items():
        better = frame[(frame["dataset"] == dataset) & (frame["verdict"] == BETTER)]
        variant = baseline if better.empty else better.loc[better["delta"].idxmax(),
                                                           "variant_id"]
        rows = runs[(runs["variant_id"] == variant) & (runs["status"] == "done")
                    & runs["mlflow_run_id"].notna()]
        if not rows.empty:
            chosen[dataset] = rows.loc[rows["test_accuracy"].idxmax(), "mlflow_run_id"]
    return chosen


def incomplete(runs: pd.DataFrame, frame: pd.DataFrame) -> str | None:
    """Why this study may not move its registry alias (runs missing or failed, or no verdict
    at all), else None."""
    unfinished = int((~runs["status"].isin([DONE, INFEASIBLE])).sum())
    if unfinished:
        return f"{unfinished} run(s) missing or failed"
    if frame.empty or (frame["verdict"] == "no runs").all():
        return "no comparison has a verdict"
    return None


def publish(project: Project, grid: GridSpec, files: list[Path], figures_dir: Path,
            chosen: dict[str, str], held_back: str | None = None) -> None:
    """Log the report to the latest parent run of the grid's experiment and register the
    best runs unless `held_back` says why not; a store that lacks those runs (a copied
    results folder) is skipped, said."""
    from pipeline.runs.tracking import Tracker, experiment_name

    tracker = Tracker(project, experiment_name(project, grid.name),
                      description=grid.description)
    parents = tracker.client.search_runs(
        [tracker.experiment_id], filter_string="tags.kind = 'parent'",
        order_by=["attributes.start_time DESC"], max_results=1)
    if not parents:
        console.print("MLflow: no parent run of this grid yet; the report is not logged")
        return
    run_id = parents[0].info.run_id
    for path in files:
        tracker.client.log_artifact(run_id, str(path), artifact_path="report")
    tracker.client.log_artifacts(run_id, str(figures_dir), artifact_path="report/figures")
    known = {dataset: run for dataset, run in chosen.items() if run_exists(tracker, run)}
    versions = register_best(project, tracker, grid.name, known) if (
        project.params.mlflow.log_models and not held_back) else {}
    console.print(f"MLflow: report logged to parent run {run_id}; registered "
                  + (", ".join(f"{d} v{v}" for d, v in versions.items()) or "nothing")
                  + (f" (the registry alias stays: {held_back})" if held_back else ""))


def run_exists(tracker, run_id: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        tracker.client.get_run(run_id)
    except MlflowException:
        return False
    return True
