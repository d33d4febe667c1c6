"""The sweep's best configuration against the grid's best variant, paired like the report.

The best trial is retrained once and scored on the test set; the grid's best variant (highest
mean test accuracy on the dataset) has runs for several seeds. The two are paired on the same
test images and on the seed they share; one pair alone cannot tell seed noise, so the seed
variance is pooled from the grid's own comparisons on that dataset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import optuna
import pandas as pd

from pipeline.config import Project
from pipeline.evidence.paired import PairTable, paired_interval, pooled_seed_variance
from pipeline.evidence.verdicts import verdict
from pipeline.grid.comparisons import grid_comparisons, pair_table, shared_seeds
from pipeline.grid.plan import evidence_settings
from pipeline.grid.replication import replicate, seeds_of
from pipeline.report.markdown import interval_cell, p_cell
from pipeline.runs.records import DONE, decode_evidence, read_evidence, read_record

EVIDENCE_ATTR = "best_evaluation_evidence"


@dataclass(frozen=True)
class GridBest:
    variant: str
    mean: float
    correct: dict[int, np.ndarray]  # seed -> right/wrong per test image
    labels: np.ndarray


def grid_best(project: Project, dataset: str) -> GridBest | None:
    """The grid's best variant on `dataset` from reports/results.csv, with its evidence."""
    path = project.reports_dir / "results.csv"
    if not path.is_file():
        return None
    runs = pd.read_csv(path)
    runs = runs[(runs["dataset"] == dataset) & (runs["status"] == "done")]
    if runs.empty:
        return None
    means = runs.groupby("variant")["test_accuracy"].mean()
    chosen = runs[runs["variant"] == means.idxmax()]
    recipe = project.params.training_recipe().model_dump(mode="json")
    correct, labels = {}, None
    for _, row in chosen.iterrows():
        for record_file in sorted(project.results_dir.glob(f"{row['run_key']}-t*.json")):
            record = read_record(record_file) or {}
            evidence = read_evidence(record_file)
            if record.get("status") == DONE and record["spec"]["training"] == recipe and \
                    evidence is not None:
                correct[int(row["seed"])] = evidence["predicted"] == evidence["labels"]
                labels = evidence["labels"]
    if not correct:
        return None
    return GridBest(str(means.idxmax()), float(means.max()), correct, labels)


def grid_pool(project: Project, dataset: str) -> tuple[float, float]:
    """The pooled seed variance of the grid's comparisons on `dataset` (variance, df)."""
    grid = project.load_grid()
    training = project.params.training_recipe()
    settings = evidence_settings(project, grid)
    extra = replicate(grid, training, project.results_dir, settings).extra_seeds
    seeds = seeds_of(grid, training, extra)
    tables = []
    for comparison in grid_comparisons(grid):
        if comparison.dataset == dataset:
            table = pair_table(project.results_dir, comparison, training,
                               shared_seeds(seeds, comparison))
            if table is not None:
                tables.append(table)
    return pooled_seed_variance(tables) if tables else (float("nan"), 0.0)


def against_grid_lines(project: Project, study: optuna.Study, dataset: str) -> list[str]:
    """The paired comparison, or why it cannot be made."""
    best = study.user_attrs.get("best_evaluation")
    stored = study.user_attrs.get(EVIDENCE_ATTR)
    grid = grid_best(project, dataset)
    if not best or grid is None:
        return []
    if stored is None:
        return [f"Against the grid: the grid's best on {dataset} is `{grid.variant}` at "
                f"{grid.mean:.4f}; this sweep's best has no stored predictions to pair.", ""]
    sweep = decode_evidence(stored)
    if not np.array_equal(sweep["labels"], grid.labels):
        return [f"Against the grid: not comparable, the sweep scored other test images than "
                f"the grid (check `test_samples`) ({grid.variant} at {grid.mean:.4f}).", ""]
    seed = json.loads(study.user_attrs["sweep_spec"]).get("seed", 0)
    seed = seed if seed in grid.correct else min(grid.correct)
    table = PairTable.from_correct((sweep["predicted"] == sweep["labels"])[None, :],
                                   grid.correct[seed][None, :])
    interval = paired_interval(table, pool=grid_pool(project, dataset))
    evidence = project.params.evidence
    found = verdict(interval, evidence.smallest_effect, alpha=evidence.alpha)
    return [f"Against the grid: sweep best − grid best `{grid.variant}` ({grid.mean:.4f} mean "
            f"over {len(grid.correct)} seeds), paired on the same {table.images} test images "
            f"and seed {seed}, seed variance pooled from the grid's comparisons: Δ "
            f"{interval_cell(interval.delta, interval.low, interval.high)}, p = "
            f"{p_cell(interval.p_value)}: **{found}** (budgets may differ: see each report's "
            f"profile).", ""]
