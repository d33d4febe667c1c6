"""The DVC `report` stage: results.csv, comparisons.csv, metrics.json, ablation.md, figures.

Verdicts come from the paired evidence of the stored runs (pipeline.grid.comparisons); the
adaptive seeds are replayed from the same records, so the report covers exactly the runs the
train stage trained. Nothing in the output depends on the clock: the same results give the
same files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pipeline.config import Project
from pipeline.data.prepared import split_sizes
from pipeline.grid.comparisons import Comparison, decide, evidence_by_seed, grid_comparisons
from pipeline.grid.controls import all_comparisons
from pipeline.grid.expansion import all_models, control_models, reference_controls
from pipeline.grid.plan import evidence_settings
from pipeline.grid.replication import Replication, replicate, seeds_of
from pipeline.model.layer_table import layer_table
from pipeline.model.shapes import check_feasible
from pipeline.progress import console, summary_table
from pipeline.report import sections
from pipeline.report.answers import answers_section
from pipeline.report.confusion import (
    class_effect_lines,
    class_intervals,
    confusion_lines,
    confusion_matrix,
)
from pipeline.report.controls import contrast_section, controls_section
from pipeline.report.curves import curve_frame, history_frame, write_curve_files
from pipeline.report.figures import (
    accuracy_vs_params,
    effect_dots,
    learning_curves,
    pareto_figure,
)
from pipeline.report.html_page import write_html
from pipeline.report.layer_prose import layer_summary_sentence
from pipeline.report.pareto import fronts_of, pareto_section
from pipeline.report.publish import best_runs, incomplete, publish
from pipeline.report.recipe_gap import recipe_gap_section
from pipeline.report.references import reference_frame, references_section
from pipeline.report.results import collect_runs, summarize_variants
from pipeline.report.settle import settle_section
from pipeline.report.verdict_tables import (
    COLUMNS,
    comparison_frame,
    dataset_differences,
    level_label,
    variant_rank_agreement,
)
from pipeline.runs.committed_evidence import evidence_dir, export_evidence, seed_from_evidence
from pipeline.runs.records import reads_logged, require_evidence
from pipeline.specs.grid import GridSpec
from pipeline.specs.run import RunSpec, variant_id

REPORT_FILES = ("ablation.md", "ablation.html", "comparisons.csv", "results.csv", "metrics.json")


def baseline_ids(grid: GridSpec) -> dict[str, str]:
    """The baseline CNN's variant id per dataset."""
    if grid.cnn is None:
        return {}
    return {dataset: variant_id(dataset, grid.cnn.baseline) for dataset in grid.datasets}


def evaluate(project: Project, grid: GridSpec):
    """Replay the adaptive seeds, collect every run, decide every comparison."""
    training = project.params.training_recipe()
    settings = evidence_settings(project, grid)
    require_evidence(project.results_dir, training)
    replication = replicate(grid, training, project.results_dir, settings)
    runs = collect_runs(project, grid, replication.extra_seeds)
    comparisons = grid_comparisons(grid)
    verdicts = decide(project.results_dir, all_comparisons(grid), training,
                      seeds_of(grid, training, replication.extra_seeds), settings)
    return settings, replication, runs, comparisons, verdicts


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
    grid = project.load_grid()
    reports_dir = project.reports_dir
    figures_dir = reports_dir / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    for stale in figures_dir.glob("*.png"):
        stale.unlink()
    settings, replication, runs, comparisons, verdicts = evaluate(project, grid)
    variants = summarize_variants(runs)
    frame = comparison_frame(comparisons, verdicts)
    runs.to_csv(reports_dir / "results.csv", index=False)
    frame[COLUMNS].to_csv(reports_dir / "comparisons.csv", index=False, float_format="%.6g")
    lines = sections.header(project, grid, runs) + sections.method(settings, replication)
    split = split_sizes(project.prepared_dir, grid.datasets[0],
                        project.params.data.validation_size)[:2]
    lines += answers_section(project, grid, frame, variants, baseline_ids(grid), split)
    lines += settle_section(project)
    lines += references_section(reference_frame(project.results_dir, grid, split),
                                grid.references.note if grid.references else "")
    lines += contrast_section(project.results_dir, grid, settings)
    lines += recipe_gap_section(project.results_dir, grid, project.params.training_recipe(),
                                settings, split)
    lines += cross_section(grid, comparisons, verdicts, variants)
    lines += factor_sections(grid, frame, variants, settings, figures_dir, reports_dir)
    lines += controls_section(grid, comparisons, verdicts)
    lines += curve_section(project, grid, runs, frame, figures_dir)
    lines += error_section(project, grid, comparisons, replication)
    lines += layers_section(grid)
    lines += sections.all_variants(variants, list(grid.datasets), baseline_ids(grid))
    lines += size_section(grid, variants, figures_dir)
    lines += sections.ledger(runs)
    (reports_dir / "ablation.md").write_text("\n".join(lines) + "\n")
    write_html(lines, reports_dir, reports_dir / "ablation.html",
               f"CNN ablation report: {grid.name} ({project.params.profile})")
    metrics = report_metrics(project, grid, runs, variants, frame, replication)
    (reports_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    held_back = incomplete(runs, frame)
    publish(project, grid, [reports_dir / name for name in REPORT_FILES], figures_dir,
            best_runs(runs, frame, baseline_ids(grid)), held_back)
    console.print(summary_table(f"report -> {reports_dir}", [
        ("runs", len(runs)), *[(status, count) for status, count in metrics["runs"].items()],
        *[(verdict, count) for verdict, count in frame["verdict"].value_counts().items()],
        ("figures", len(list(figures_dir.glob("*.png"))))]))
    return metrics, held_back


def curve_section(project: Project, grid: GridSpec, runs: pd.DataFrame, frame: pd.DataFrame,
                  figures_dir: Path) -> list[str]:
    """Learning curves per dataset (figures) and reports/curves/*.csv for `dvc plots`."""
    specs = [RunSpec(dataset=row["dataset"], seed=int(row["seed"]), model=model,
                     training=project.params.training_recipe())
             for (_, row), model in zip(runs.iterrows(), run_models(grid, runs), strict=True)]
    curves = curve_frame(history_frame(project.results_dir, specs), frame, baseline_ids(grid))
    write_curve_files(curves, project.reports_dir / "curves")
    lines = ["## Learning curves", "",
             "Train (dashed) and validation (solid) accuracy per epoch, mean over seeds; also "
             "`dvc plots show` (reports/curves/*.csv).", ""]
    for dataset in grid.datasets:
        figure = learning_curves(curves, dataset, figures_dir / f"curves_{dataset}.png")
        lines += [f"![{dataset} learning curves](figures/{figure.name})", ""]
    return lines


def run_models(grid: GridSpec, runs: pd.DataFrame) -> list:
    """The ModelSpec of each row of `runs` (looked up by variant id)."""
    models = {variant_id(dataset, model): model for dataset in grid.datasets
              for model in all_models(grid)}
    return [models[identifier] for identifier in runs["variant_id"]]


def error_section(project: Project, grid: GridSpec, comparisons: list[Comparison],
                  replication: Replication) -> list[str]:
    """Fashion-MNIST's confusion matrix and the classes each variant helps or hurts most."""
    dataset = "fashion_mnist"
    if dataset not in grid.datasets or grid.cnn is None:
        return []
    training = project.params.training_recipe()
    seeds = seeds_of(grid, training, replication.extra_seeds)
    base_seeds = seeds[(dataset, baseline_ids(grid)[dataset])]
    evidence = evidence_by_seed(project.results_dir, dataset, grid.cnn.baseline, training,
                                base_seeds)
    if not evidence:
        return []
    chosen = [c for c in comparisons if c.dataset == dataset]
    intervals = class_intervals(project.results_dir, chosen, training, seeds)
    return (["## Where the errors are", ""]
            + confusion_lines(confusion_matrix(evidence), dataset, len(evidence))
            + class_effect_lines(intervals, chosen, dataset,
                                 lambda c: level_label(c.factor, c.variant)))


def size_section(grid: GridSpec, variants: pd.DataFrame, figures_dir: Path) -> list[str]:
    datasets = list(grid.datasets)
    fronts = fronts_of(variants, datasets)
    pareto = pareto_figure(variants, fronts, datasets, figures_dir / "pareto.png")
    scatter = accuracy_vs_params(variants, datasets, figures_dir / "accuracy_vs_params.png")
    return (pareto_section(fronts, datasets, f"figures/{pareto.name}")
            + ["### Accuracy against parameter count, every variant", "",
               f"![accuracy vs params](figures/{scatter.name})", ""])


def layers_section(grid: GridSpec) -> list[str]:
    """`model.summary()`-style tables: the baseline, each pooling and padding level, the
    textbook references and every capacity-matched control, each with what changes against
    the baseline (no TensorFlow)."""
    if grid.cnn is None:
        return []
    baseline = grid.cnn.baseline
    lines = ["## Layer shapes", "", f"### Baseline: {baseline.describe()}", "",
             *layer_table(baseline), ""]
    shown = {baseline}
    variants = [c.variant for c in grid_comparisons(grid)
                if c.dataset == grid.datasets[0] and ({"pooling", "padding"}
                                                      & set(c.factor.split("×")))]
    references = [r.model for r in grid.references.runs] if grid.references else []
    for model in [*variants, *references]:
        if model in shown or check_feasible(model) is not None:
            continue
        shown.add(model)
        lines += [f"### {model.describe()}", "", layer_summary_sentence(baseline, model), "",
                  *layer_table(model), ""]
    return lines + control_layers(grid, shown)


def control_layers(grid: GridSpec, shown: set) -> list[str]:
    """The layer table of each capacity-matched control, with the variant(s) it matches and
    what it changes against the network it resizes."""
    controlled: dict = {}
    for variant, control in control_models(grid).items():
        controlled.setdefault(control, (grid.cnn.baseline, []))[1].append(variant.describe())
    by_name = {r.name: r for r in grid.references.runs} if grid.references else {}
    for name, control in reference_controls(grid).items():
        resized = by_name[by_name[name].contrast].model
        controlled.setdefault(control, (resized, []))[1].append(name)
    lines = []
    for control, (resized, matched) in controlled.items():
        if control in shown:
            continue
        shown.add(control)
        lines += [f"### Control: {control.describe()}", "",
                  f"Capacity-matched control for {', '.join(matched)}. "
                  + layer_summary_sentence(resized, control), "", *layer_table(control), ""]
    return lines


def cross_section(grid: GridSpec, comparisons: list[Comparison], verdicts: dict,
                  variants: pd.DataFrame) -> list[str]:
    if len(grid.datasets) < 2:
        return []
    first, second = grid.datasets[0], grid.datasets[1]
    differences = dataset_differences(comparisons, verdicts, first, second)
    agreement = variant_rank_agreement(variants, first, second)
    return sections.cross_dataset(differences, agreement, first, second)


def factor_sections(grid: GridSpec, frame: pd.DataFrame, variants: pd.DataFrame, settings,
                    figures_dir: Path, reports_dir: Path) -> list[str]:
    """Per dataset: every factor's table, and one figure of all Δs with their intervals."""
    lines = []
    ids = baseline_ids(grid)
    if not frame.empty:
        figure = effect_dots(frame, list(grid.datasets), settings.smallest_effect,
                             figures_dir / "effects.png")
        lines += ["## Effects against the baseline", "",
                  f"![effects]({figure.relative_to(reports_dir)})", ""]
    for dataset in grid.datasets:
        lines += [f"## {dataset}: factor effects", ""]
        for factor in dict.fromkeys(frame[frame["dataset"] == dataset]["factor"]):
            lines += sections.factor_table(frame, variants, dataset, factor, ids[dataset])
    return lines


def report_metrics(project: Project, grid: GridSpec, runs: pd.DataFrame,
                   variants: pd.DataFrame, frame: pd.DataFrame,
                   replication: Replication) -> dict:
    """metrics.json: run counts, the baseline per dataset, and every comparison's verdict
    (Δ and intervals are in comparisons.csv, so `dvc exp show` stays readable)."""
    metrics: dict = {"grid": grid.name, "profile": project.params.profile,
                     "runs": {k: int(v) for k, v in runs["status"].value_counts().items()},
                     "extra_seed_runs": sum(look["runs_added"] for look in replication.looks)}
    floors = project.params.active.baseline_floors
    for dataset in grid.datasets:
        entry: dict = {}
        base = variants[(variants["variant_id"] == baseline_ids(grid).get(dataset))
                        & variants["accuracy_mean"].notna()]
        if not base.empty:
            entry["baseline_test_accuracy"] = round(float(base.iloc[0]["accuracy_mean"]), 5)
            entry["baseline_seeds"] = int(base.iloc[0]["seeds"])
            if dataset in floors:
                entry["baseline_floor"] = floors[dataset]
                entry["baseline_meets_floor"] = bool(
                    base.iloc[0]["accuracy_mean"] >= floors[dataset])
        rows = frame[frame["dataset"] == dataset]
        entry["verdict_counts"] = {verdict: int(count) for verdict, count
                                   in rows["verdict"].value_counts().sort_index().items()}
        entry["verdicts"] = {f"{row['factor']}={row['level']}": row["verdict"]
                             for _, row in rows.iterrows()}
        metrics[dataset] = entry
    return metrics
