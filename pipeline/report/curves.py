"""Learning curves: train and validation accuracy per epoch for each level of each factor.

Read from every finished run's stored history, averaged over seeds; written as figures for
the report and as long-format CSV files under reports/curves/ that `dvc plots show` draws
(template .dvc/plots/learning_curves.json: one line per level and split).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.grid.expansion import all_models
from pipeline.report.figures import learning_curves
from pipeline.runs.records import DONE, read_record, record_path
from pipeline.specs.run import RunSpec, variant_id

if TYPE_CHECKING:
    from pipeline.report.data import ReportData

SPLITS = {"accuracy": "train", "val_accuracy": "val"}


def history_frame(results_dir: Path, specs: list[RunSpec]) -> pd.DataFrame:
    """One row per finished run, epoch and split: dataset, variant id, seed, accuracy."""
    rows = []
    for spec in specs:
        record = read_record(record_path(results_dir, spec)) or {}
        if record.get("status") != DONE:
            continue
        for key, split in SPLITS.items():
            for epoch, value in enumerate(record["history"].get(key, []), start=1):
                rows.append({"dataset": spec.dataset, "variant_id": spec.variant_id,
                             "seed": spec.seed, "epoch": epoch, "split": split,
                             "accuracy": value})
    return pd.DataFrame(rows, columns=["dataset", "variant_id", "seed", "epoch", "split",
                                       "accuracy"])


def curve_frame(histories: pd.DataFrame, comparisons: pd.DataFrame,
                baseline_ids: dict[str, str]) -> pd.DataFrame:
    """Mean accuracy over seeds per dataset, factor, level (baseline included), epoch, split."""
    if histories.empty:
        return pd.DataFrame(columns=["dataset", "factor", "level", "epoch", "split",
                                     "accuracy"])
    means = histories.groupby(["dataset", "variant_id", "epoch", "split"], as_index=False)[
        "accuracy"].mean()
    levels = comparisons[["dataset", "factor", "level", "variant_id"]]
    baselines = comparisons.drop_duplicates(["dataset", "factor"])[
        ["dataset", "factor", "baseline_level"]].rename(columns={"baseline_level": "level"})
    baselines["variant_id"] = baselines["dataset"].map(baseline_ids)
    labelled = pd.concat([baselines, levels]).merge(means, on=["dataset", "variant_id"])
    return labelled[["dataset", "factor", "level", "epoch", "split", "accuracy"]]


def write_curve_files(curves: pd.DataFrame, folder: Path) -> list[Path]:
    """reports/curves/<dataset>_<factor>.csv: epoch, accuracy, line (`<level> <split>`)."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.csv"):
        stale.unlink()
    paths = []
    for (dataset, factor), group in curves.groupby(["dataset", "factor"], sort=False):
        frame = group.assign(line=group["level"] + " " + group["split"])
        path = folder / f"{dataset}_{factor.replace('×', '_x_')}.csv"
        frame[["epoch", "accuracy", "line"]].to_csv(path, index=False, float_format="%.6g")
        paths.append(path)
    return paths


def curves_section(data: ReportData) -> list[str]:
    """Learning curves per dataset (figures) and reports/curves/*.csv for `dvc plots`."""
    models = {variant_id(dataset, model): model for dataset in data.grid.datasets
              for model in all_models(data.grid)}
    specs = [RunSpec(dataset=row["dataset"], seed=int(row["seed"]),
                     model=models[row["variant_id"]], training=data.training)
             for _, row in data.runs.iterrows()]
    curves = curve_frame(history_frame(data.project.results_dir, specs), data.frame,
                         data.baselines)
    write_curve_files(curves, data.reports_dir / "curves")
    lines = ["## Learning curves", "",
             "Train (dashed) and validation (solid) accuracy per epoch, mean over seeds; also "
             "`dvc plots show` (reports/curves/*.csv).", ""]
    for dataset in data.grid.datasets:
        figure = learning_curves(curves, dataset, data.figures_dir / f"curves_{dataset}.png")
        lines += [f"![{dataset} learning curves](figures/{figure.name})", ""]
    return lines
