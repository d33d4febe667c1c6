"""The general Markdown sections of ablation.md: the header, how to read the verdicts, the
factor tables, the two datasets against each other, all variants and the ledger; each is a
function of the report's data (pipeline.report.data)."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.report.answers import factor_title
from pipeline.report.figures import effect_dots
from pipeline.report.markdown import (
    accuracy_cell,
    adjusted_cell,
    compact,
    interval_cell,
    markdown_table,
    p_cell,
    seconds,
)
from pipeline.report.verdict_tables import dataset_differences, variant_rank_agreement
from pipeline.specs.grid import AdaptiveSeeds, GridSpec

if TYPE_CHECKING:
    from pipeline.report.data import ReportData

PACKAGES = ("tensorflow", "keras", "mlflow", "optuna", "dvc", "pandas", "numpy", "scipy",
            "statsmodels")


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def count_text(count: int | None) -> str:
    return "all" if count is None else f"{count:,}"


def seeds_text(grid: GridSpec) -> str:
    if isinstance(grid.seeds, AdaptiveSeeds):
        budget = (f", at most {grid.seeds.extra_runs} extra runs"
                  if grid.seeds.extra_runs is not None else "")
        return (f"{grid.seeds.initial} per variant, then one more at a time up to "
                f"{grid.seeds.max} where a comparison is undecided{budget}")
    if grid.settle is not None:
        return (f"{grid.seeds}, then, where a comparison is still undecided, the seeds that "
                f"give it {grid.settle.power:.0%} power at its observed Δ if they cost at "
                f"most {grid.settle.max_minutes:g} min of training{grid.settle.total_text}, "
                f"cheapest first (one more look)")
    return f"{grid.seeds}"


def header(data: ReportData) -> list[str]:
    """Title, description, profile, data, training, device, seeds, runs, software."""
    project, grid, runs, training = data.project, data.grid, data.runs, data.training
    profile = project.params.active
    versions = ", ".join(f"{name} {version(name)}" for name in PACKAGES)
    counts = runs["status"].value_counts().to_dict()
    return [
        f"# CNN ablation report: grid `{grid.name}`, profile `{project.params.profile}`", "",
        grid.description.strip(), "",
        f"- **Profile**: {profile.description.strip() or project.params.profile}",
        f"- **Data per run**: {count_text(training.train_samples)} training images (stratified, "
        f"the same subset for every run), validation {count_text(training.val_samples)} of "
        f"{project.params.data.validation_size:,} held out from train, test "
        f"{training.test_samples or 'all 10,000'} images (used only for the final score)",
        f"- **Training**: {training.epochs} epoch(s), batch {training.batch_size}, "
        f"{training.optimizer} lr {training.learning_rate}, precision {training.precision}; "
        f"design `{grid.design}`",
        f"- **Device**: {devices_text(runs)}",
        f"- **Seeds**: {seeds_text(grid)}",
        f"- **Runs**: {len(runs)} ({', '.join(f'{k} {v}' for k, v in counts.items())})",
        f"- **Software**: Python {platform.python_version()}, {versions}", "",
        *incomplete_warning(runs),
    ]


def devices_text(runs: pd.DataFrame) -> str:
    """The devices and TensorFlow builds the runs trained on, with how many runs each."""
    trained = runs.dropna(subset=["device"])
    if trained.empty:
        return "not recorded (runs trained before devices were recorded)"
    counts = trained.groupby(["device", "tensorflow_build"], sort=False).size()
    return "; ".join(f"{device}, {build} ({count} runs)"
                     for (device, build), count in counts.items())


def incomplete_warning(runs: pd.DataFrame) -> list[str]:
    """A line at the top when some runs have no result yet, so nobody reads a partial study
    as a whole one."""
    missing = int((runs["status"] == "missing").sum())
    if not missing:
        return []
    return [f"> **Incomplete**: {missing} of {len(runs)} runs have no result yet (see the "
            f"Ledger). Every verdict and table covers the finished runs only; run `dvc repro` "
            f"(it resumes) to complete the study.", ""]


def method(data: ReportData) -> list[str]:
    """How the verdicts were reached, so a reader can judge them."""
    settings, replication = data.settings, data.replication
    adaptive = ""
    if replication.looks:
        added = sum(look["runs_added"] for look in replication.looks)
        adaptive = (f" Seeds were added in {len(replication.looks)} look(s) after the first "
                    f"({added} extra runs; stopped: {replication.stopped}); repeated looks "
                    f"inflate false positives, so every verdict tests at alpha / "
                    f"{settings.looks} = {settings.alpha / settings.looks:.4f} (Bonferroni "
                    f"over the looks).")
    elif settings.looks > 1:
        adaptive = (f" Seeds are adaptive (up to {settings.looks} looks), so verdicts test at "
                    f"alpha / {settings.looks}.")
    return [
        "## How to read the verdicts", "",
        "Every variant is compared with the baseline CNN on the same 10,000 test images and "
        "the same seeds, so each comparison is paired image by image and seed by seed. "
        "Δ is the mean over seeds of (variant − baseline) test accuracy. Its 95% interval "
        "adds two sources of variation: training randomness (the spread of the per-seed "
        "differences, pooled over the comparisons of a dataset because 2-5 seeds alone give "
        "almost no degrees of freedom) and the finite test set (the variance over images of "
        "the per-image differences, which does not average out over seeds because every "
        "seed sees the same images); a t interval with Satterthwaite degrees of freedom. "
        "A simulation test checks that these intervals cover a true Δ of 0 in 92-98% of "
        "cases. Each comparison also carries the interval its verdict is read from: the same "
        "interval at confidence 1 − alpha / (looks × comparisons), Bonferroni over every "
        "comparison of this report and over the looks, so that all of them hold together "
        "with 95% confidence (a simulation test checks it). Verdicts: **better** / "
        "**worse** exactly when that adjusted interval lies above / below 0 (equivalently, "
        f"the Bonferroni-adjusted p below {settings.alpha} / looks); **equivalent** when the "
        f"{100 * (1 - 2 * settings.alpha / settings.looks):.4g}% "
        f"interval lies inside ±{settings.smallest_effect:g} (`evidence.smallest_effect`); "
        f"otherwise **undecided** (no detectable difference at this budget)." + adaptive, "",
    ]


def factor_table(frame: pd.DataFrame, variants: pd.DataFrame, dataset: str, factor: str,
                 baseline_id: str) -> list[str]:
    """One factor's levels on one dataset: accuracy, Δ with its 95% and adjusted intervals,
    adjusted p, verdict, cost."""
    rows = frame[(frame["dataset"] == dataset) & (frame["factor"] == factor)]
    by_name = variants[variants["dataset"] == dataset].set_index("variant")
    base = variants[variants["variant_id"] == baseline_id]
    table = []
    if not base.empty:
        base = base.iloc[0]
        table.append([rows["baseline_level"].iloc[0] + " (baseline)", base["variant"],
                      compact(base["params"]), compact(base["flops"]), accuracy_cell(base),
                      "-", "-", "-", "baseline", seconds(base["train_time_s"])])
    for _, row in rows.iterrows():
        variant = by_name.loc[row["variant"]] if row["variant"] in by_name.index else None
        cells = ([compact(variant["params"]), compact(variant["flops"]),
                  accuracy_cell(variant), ] if variant is not None else ["-", "-", "-"])
        delta, adjusted = ("-", "-") if row["verdict"] == "no runs" else (
            interval_cell(row["delta"], row["ci_low"], row["ci_high"]),
            adjusted_cell(row["adj_level"], row["adj_low"], row["adj_high"]))
        table.append([row["level"], row["variant"], *cells, delta, adjusted,
                      p_cell(row.get("p_adjusted", float("nan"))), row["verdict"],
                      seconds(variant["train_time_s"]) if variant is not None else "-"])
    headers = ["level", "variant", "params", "FLOPs", "test accuracy (mean ± sd)",
               "Δ vs baseline [95% CI]", "verdict's interval", "adj. p", "verdict", "train s"]
    return [f"### {factor_title(factor)}", "", markdown_table(headers, table), ""]


def cross_dataset(data: ReportData) -> list[str]:
    """Does a factor's effect differ between the datasets? Do the variants rank alike?"""
    if len(data.grid.datasets) < 2:
        return []
    first, second = data.grid.datasets[0], data.grid.datasets[1]
    differences = dataset_differences(data.comparisons, data.verdicts, first, second)
    agreement = variant_rank_agreement(data.variants, first, second)
    lines = [f"## {first} against {second}", ""]
    if not differences.empty:
        rows = [[factor_title(row["factor"]), row["level"], f"{row[f'delta_{first}']:+.4f}",
                 f"{row[f'delta_{second}']:+.4f}",
                 interval_cell(row["difference"], row["ci_low"], row["ci_high"]),
                 p_cell(row["p_value"])] for _, row in differences.iterrows()]
        lines += [f"Difference of the two Δs (Δ on {first} − Δ on {second}) with its 95% "
                  f"interval; an interval that excludes 0 means the factor's effect differs "
                  f"between the datasets (p not adjusted for multiplicity).", "",
                  markdown_table(["factor", "level", f"Δ {first}", f"Δ {second}",
                                  "difference [95% CI]", "p"], rows), ""]
    if agreement is not None:
        rho, p_value, count = agreement
        lines += [f"Rank agreement of the {count} variants' mean test accuracy between the "
                  f"datasets: Spearman ρ = {rho:+.3f} (p = {p_cell(p_value)}).", ""]
    return lines


def all_variants(data: ReportData) -> list[str]:
    """Every variant per dataset: params, FLOPs, accuracy, time, per-seed accuracies."""
    lines = ["## All variants", ""]
    for dataset in data.grid.datasets:
        rows = data.variants[data.variants["dataset"] == dataset]
        table = [[row["variant"] + (" (baseline)" if row["variant_id"] ==
                                    data.baselines.get(dataset) else ""),
                  compact(row["params"]), compact(row["flops"]), accuracy_cell(row),
                  seconds(row["train_time_s"]),
                  row["per_seed"] if isinstance(row["per_seed"], str) else "-"]
                 for _, row in rows.iterrows()]
        lines += [f"### {dataset}", "", markdown_table(
            ["variant", "params", "FLOPs", "test accuracy", "train s", "per seed"], table), ""]
    return lines


def ledger(data: ReportData) -> list[str]:
    """Every cell's state with counts, and the reason of each infeasible or failed one."""
    runs = data.runs
    counts = runs["status"].value_counts()
    lines = ["## Ledger", "", "Runs by state: " + ", ".join(
        f"{state} {int(count)}" for state, count in counts.items()) + ".", ""]
    problems = runs[runs["status"] != "done"].drop_duplicates(["dataset", "variant_id",
                                                              "status"])
    if problems.empty:
        return lines + ["Every cell trained.", ""]
    rows = [[row["dataset"], row["variant"], row["status"], row["reason"]]
            for _, row in problems.iterrows()]
    return lines + ["### Infeasible and failed cells", "",
                    markdown_table(["dataset", "variant", "status", "reason"], rows), ""]


def factors(data: ReportData) -> list[str]:
    """Per dataset: every factor's table, and one figure of all Δs with their intervals."""
    lines = []
    if not data.frame.empty:
        figure = effect_dots(data.frame, list(data.grid.datasets), data.settings.smallest_effect,
                             data.figures_dir / "effects.png")
        lines += ["## Effects against the baseline", "",
                  f"![effects]({figure.relative_to(data.reports_dir)})", ""]
    for dataset in data.grid.datasets:
        lines += [f"## {dataset}: factor effects", ""]
        for factor in dict.fromkeys(data.frame[data.frame["dataset"] == dataset]["factor"]):
            lines += factor_table(data.frame, data.variants, dataset, factor,
                                  data.baselines[dataset])
    return lines
