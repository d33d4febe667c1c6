"""The report's data, computed once: every section of ablation.md is a function of it.

`report_data` replays the adaptive seeds from the stored records, collects every run,
pairs every comparison of the family (the grid's against its baseline, then each variant
against its capacity-matched control) and decides them together, so each section reads
the same verdicts, seeds and splits instead of recomputing them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.config import Project
from pipeline.data.prepared import split_sizes
from pipeline.evidence.paired import PairTable
from pipeline.evidence.verdicts import Verdict
from pipeline.grid.comparisons import (
    Comparison,
    Settings,
    dataset_tables,
    decide_tables,
    grid_comparisons,
)
from pipeline.grid.controls import control_comparisons
from pipeline.grid.plan import evidence_settings
from pipeline.grid.replication import ExtraSeeds, Replication, replicate, seeds_of
from pipeline.report.references import reference_frame
from pipeline.report.results import collect_runs, summarize_variants
from pipeline.report.settle import Settling, settling
from pipeline.report.verdict_tables import comparison_frame
from pipeline.runs.records import require_evidence
from pipeline.specs.grid import GridSpec
from pipeline.specs.recipe import TrainingRecipe
from pipeline.specs.run import variant_id


@dataclass(frozen=True)
class ReportData:
    """Everything a report section reads, computed once by `report_data`."""

    project: Project
    grid: GridSpec
    training: TrainingRecipe
    settings: Settings
    replication: Replication
    seeds: ExtraSeeds  # (dataset, variant id) -> every seed it has (initial + added)
    runs: pd.DataFrame  # one row per run of the grid (results.csv)
    variants: pd.DataFrame  # one row per dataset and variant
    comparisons: list[Comparison]  # the grid's, each variant against its baseline
    controlled: list[Comparison]  # each variant with a control against that control
    tables: dict[Comparison, PairTable]  # paired evidence of both lists
    verdicts: dict[Comparison, Verdict]  # both lists, decided as one family
    frame: pd.DataFrame  # `comparisons` as rows (comparisons.csv)
    baselines: dict[str, str]  # dataset -> the baseline CNN's variant id
    split: tuple[int, int]  # train and validation images of the prepared split
    references: pd.DataFrame  # one row per textbook reference
    settling: Settling  # what would settle each undecided comparison

    @property
    def reports_dir(self) -> Path:
        return self.project.reports_dir

    @property
    def figures_dir(self) -> Path:
        return self.project.reports_dir / "figures"


def baseline_ids(grid: GridSpec) -> dict[str, str]:
    """The baseline CNN's variant id per dataset."""
    if grid.cnn is None:
        return {}
    return {dataset: variant_id(dataset, grid.cnn.baseline) for dataset in grid.datasets}


def report_data(project: Project, grid: GridSpec | None = None) -> ReportData:
    """Replay the seeds, collect the runs, decide every comparison: the report's one input.

    Raises EvidenceError (one line naming the file) when a done record's predictions are
    missing or unreadable, rather than silently dropping its comparisons.
    """
    grid = grid or project.load_grid()
    training = project.params.training_recipe()
    settings = evidence_settings(project, grid)
    require_evidence(project.results_dir, training)
    replication = replicate(grid, training, project.results_dir, settings)
    seeds = seeds_of(grid, training, replication.extra_seeds)
    runs = collect_runs(project, grid, replication.extra_seeds)
    variants = summarize_variants(runs)
    comparisons, controlled = grid_comparisons(grid), control_comparisons(grid)
    tables = dataset_tables(project.results_dir, comparisons + controlled, training, seeds)
    verdicts = decide_tables(tables, settings)
    split = split_sizes(project.prepared_dir, grid.datasets[0],
                        project.params.data.validation_size)[:2]
    return ReportData(
        project=project, grid=grid, training=training, settings=settings,
        replication=replication, seeds=seeds, runs=runs, variants=variants,
        comparisons=comparisons, controlled=controlled, tables=tables, verdicts=verdicts,
        frame=comparison_frame(comparisons, verdicts), baselines=baseline_ids(grid),
        split=split, references=reference_frame(project.results_dir, grid, split),
        settling=settling(tables, verdicts, settings, variants))
