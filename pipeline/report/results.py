"""Collecting run records of the current grid into tables (one row per run, per variant)."""

from __future__ import annotations

import pandas as pd

from pipeline.config import Project
from pipeline.grid.expansion import expand
from pipeline.runs.records import read_record, record_path
from pipeline.specs.factors import FACTOR_NAMES, FACTORS, factors_for, level_text
from pipeline.specs.grid import GridSpec
from pipeline.specs.model import ModelSpec

RUN_COLUMNS = ["dataset", "variant_id", "run_key", "variant", "arch", *FACTOR_NAMES, "seed",
               "status", "reason", "params", "flops", "test_accuracy", "test_loss", "val_accuracy",
               "train_time_s", "samples_per_s", "peak_rss_mb", "epochs", "train_samples",
               "mlflow_run_id", "device", "tensorflow_build"]
METRIC_COLUMNS = {"params": "model/params", "flops": "model/flops",
                  "test_accuracy": "test/accuracy", "test_loss": "test/loss",
                  "train_time_s": "time/train_s", "samples_per_s": "time/samples_per_s",
                  "peak_rss_mb": "memory/peak_rss_mb", "epochs": "train/epochs",
                  "train_samples": "data/train_samples"}


def factor_values(model: ModelSpec) -> dict[str, object]:
    """The model's level of every registry factor as a readable cell (`-` where a factor does
    not apply, e.g. pooling of a Dense network)."""
    applies = set(factors_for(model.arch))
    return {"arch": model.arch,
            **{factor.name: level_text(factor, getattr(model, factor.name))
               if factor in applies else "-" for factor in FACTORS}}


def collect_runs(project: Project, grid: GridSpec,
                 extra_seeds: dict | None = None) -> pd.DataFrame:
    """One row per run of the grid (dataset x variant x seed, adaptive seeds included),
    missing runs as `missing`."""
    rows = []
    for run in expand(grid, project.params.training_recipe(), extra_seeds):
        spec = run.spec
        record = read_record(record_path(project.results_dir, spec)) or {}
        metrics = record.get("metrics") or {}
        history = record.get("history") or {}
        row = {"dataset": spec.dataset, "variant_id": spec.variant_id, "run_key": spec.run_key,
               "variant": spec.model.describe(), "seed": spec.seed,
               "status": record.get("status", "missing"), "reason": record.get("reason"),
               "val_accuracy": (history.get("val_accuracy") or [None])[-1],
               "mlflow_run_id": record.get("mlflow_run_id"),
               "device": (record.get("device") or {}).get("device"),
               "tensorflow_build": (record.get("device") or {}).get("tensorflow_build"),
               **factor_values(spec.model)}
        if row["status"] == "missing":
            row["reason"] = "no result yet: run `dvc repro` (train stage)"
        row.update({column: metrics.get(name) for column, name in METRIC_COLUMNS.items()})
        rows.append(row)
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def summarize_variants(runs: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and variant: accuracy mean and sd over seeds, cost, status."""
    done = runs[runs["status"] == "done"]
    keys = ["dataset", "variant_id"]
    stats = done.groupby(keys, sort=False).agg(
        accuracy_mean=("test_accuracy", "mean"), accuracy_sd=("test_accuracy", "std"),
        seeds=("seed", "count"), train_time_s=("train_time_s", "mean"),
        per_seed=("test_accuracy", lambda values: ", ".join(f"{value:.4f}" for value in values)),
        samples_per_s=("samples_per_s", "mean"), params=("params", "first"),
        flops=("flops", "first"))
    first = runs.drop_duplicates(keys).set_index(keys)
    descriptive = ["variant", "arch", *FACTOR_NAMES, "status", "reason"]
    table = first[descriptive].join(stats, how="left").reset_index()
    table["accuracy_sd"] = table["accuracy_sd"].fillna(0.0)
    return table
