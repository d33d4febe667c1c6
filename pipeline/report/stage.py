"""The DVC `report` stage: results.csv, metrics.json, ablation.md and its figures."""

from __future__ import annotations

import json
import platform
import time
from importlib import metadata
from pathlib import Path

import pandas as pd

from pipeline.config import Project
from pipeline.progress import console, summary_table
from pipeline.report.figures import accuracy_vs_params, factor_bars
from pipeline.report.results import collect_runs, factor_values, summarize_variants
from pipeline.specs.factors import FACTOR_NAMES, TITLES
from pipeline.specs.grid import GridSpec
from pipeline.specs.run import variant_id

PACKAGES = ("tensorflow-cpu", "keras", "mlflow", "optuna", "dvc", "pandas", "numpy")


def markdown_table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def accuracy_cell(row: pd.Series) -> str:
    if pd.isna(row["accuracy_mean"]):
        return str(row["status"])
    return f"{row['accuracy_mean']:.4f} ± {row['accuracy_sd']:.4f} (n={int(row['seeds'])})"


def compact(number: float | None) -> str:
    if number is None or pd.isna(number):
        return "-"
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if number >= limit:
            return f"{number / limit:.2f}{suffix}"
    return f"{number:.0f}"


def seconds(value: float | None) -> str:
    return "-" if value is None or pd.isna(value) else f"{value:.1f}"


def factor_groups(grid: GridSpec) -> list[tuple[str, ...]]:
    """Each varied CNN factor with the factors crossed with it (e.g. kernel_size x padding)."""
    if grid.cnn is None:
        return []
    axes = grid.cnn.axes.model_dump()
    groups: list[tuple[str, ...]] = []
    for factor, levels in axes.items():
        if len(levels) < 2:
            continue
        partners = next((tuple(g) for g in grid.cnn.crossed if factor in g), (factor,))
        group = (factor, *[p for p in partners if p != factor and len(axes[p]) > 0])
        if not any(set(group) == set(existing) for existing in groups):
            groups.append(group)
    return groups


def factor_slice(variants: pd.DataFrame, baseline: dict, group: tuple[str, ...]) -> pd.DataFrame:
    """CNN variants that match the baseline in every factor outside `group`."""
    rows = variants[variants["arch"] == "cnn"]
    for factor in FACTOR_NAMES:
        if factor not in group:
            rows = rows[rows[factor].astype(str) == str(baseline[factor])]
    return rows.sort_values(list(group), key=lambda column: column.astype(str))


def cnn_vs_dense(variants: pd.DataFrame, baseline_id: str | None) -> pd.DataFrame:
    done = variants[variants["accuracy_mean"].notna()]
    dense = done[done["arch"] == "dense"]
    cnn = done[done["arch"] == "cnn"]
    picks = [dense]
    if baseline_id is not None:
        picks.append(cnn[cnn["variant_id"] == baseline_id])
    if not cnn.empty:
        picks.append(cnn.loc[[cnn["accuracy_mean"].idxmax()]])
    return pd.concat(picks).drop_duplicates("variant_id")


def variant_rows(rows: pd.DataFrame, baseline_id: str | None,
                 columns: tuple[str, ...] = ()) -> list[list[object]]:
    table = []
    for _, row in rows.iterrows():
        marker = " (baseline)" if row["variant_id"] == baseline_id else ""
        table.append([*(row[column] for column in columns), f"{row['variant']}{marker}",
                      compact(row["params"]), compact(row["flops"]), accuracy_cell(row),
                      seconds(row["train_time_s"])])
    return table


def header_lines(project: Project, grid: GridSpec, runs: pd.DataFrame) -> list[str]:
    training = project.params.training_recipe()
    profile = project.params.active
    versions = ", ".join(f"{name} {_version(name)}" for name in PACKAGES)
    counts = runs["status"].value_counts().to_dict()
    return [
        f"# CNN ablation report: grid `{grid.name}`, profile `{project.params.profile}`",
        "",
        f"{grid.description.strip()}",
        "",
        f"- **Profile**: {profile.description.strip() or project.params.profile}",
        f"- **Data per run**: {training.train_samples or 'all'} training images (stratified, "
        f"the same subset for every run), validation {training.val_samples or 'all'} of "
        f"{project.params.data.validation_size} held out from train, test "
        f"{training.test_samples or 'all 10,000'} images (used only for the final score)",
        f"- **Training**: {training.epochs} epoch(s), batch {training.batch_size}, "
        f"{training.optimizer} lr {training.learning_rate}; seeds {grid.initial_seeds}; "
        f"design `{grid.design}`",
        f"- **Runs**: {len(runs)} ({', '.join(f'{k} {v}' for k, v in counts.items())})",
        f"- **Software**: Python {platform.python_version()}, {versions}",
        f"- **Generated**: {time.strftime('%Y-%m-%d %H:%M %Z')}",
        "",
        "Accuracy is the mean ± sample sd over seeds on the test set. FLOPs are forward "
        "FLOPs per image (2 per multiply-accumulate of conv and Dense layers). Train time is "
        "the mean wall time of `fit` per run on this machine. In the answers, (+0.0012, 2.0x "
        "FLOPs) is the change in accuracy and the cost relative to the baseline CNN; compare "
        "a change with the seeds' sd before calling it an effect.",
        "",
    ]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def dataset_section(dataset: str, variants: pd.DataFrame, grid: GridSpec, baseline_id: str | None,
                    figures_dir: Path, reports_dir: Path) -> tuple[list[str], list[str]]:
    """Markdown of one dataset's factor effects, and the one-line answers for the summary."""
    lines = [f"## {dataset}: factor effects", ""]
    answers: list[str] = []
    rows_of = variants[variants["dataset"] == dataset]
    baseline = factor_values(grid.cnn.baseline) if grid.cnn else None
    for group in factor_groups(grid) if baseline else []:
        factor = group[0]
        rows = factor_slice(rows_of, baseline, group)
        if rows.empty:
            continue
        title = TITLES[factor] + (f" × {', '.join(group[1:])}" if group[1:] else "")
        lines += [f"### {title}", "",
                  f"CNN variants equal to the baseline except in {', '.join(group)}.", ""]
        headers = [*group, "variant", "params", "FLOPs", "test accuracy", "train s"]
        lines += [markdown_table(headers, variant_rows(rows, baseline_id, group)), ""]
        labels = [" ".join(str(row[f]) for f in group) for _, row in rows.iterrows()]
        figure = factor_bars(rows, labels, f"{dataset}: {title}",
                             figures_dir / f"{dataset}_{factor}.png")
        lines += [f"![{dataset} {factor}]({figure.relative_to(reports_dir)})", ""]
        answers.append(_answer(title, rows, group, baseline_id))
    pair = cnn_vs_dense(rows_of, baseline_id)
    if not pair.empty and set(pair["arch"]) == {"cnn", "dense"}:
        lines += ["### CNN vs Dense", ""]
        lines += [markdown_table(["arch", "variant", "params", "FLOPs", "test accuracy",
                                  "train s"], variant_rows(pair, baseline_id, ("arch",))), ""]
        figure = factor_bars(pair, list(pair["variant"]), f"{dataset}: CNN vs Dense",
                             figures_dir / f"{dataset}_cnn_vs_dense.png")
        lines += [f"![{dataset} CNN vs Dense]({figure.relative_to(reports_dir)})", ""]
        best = {arch: group.loc[group["accuracy_mean"].idxmax()]
                for arch, group in pair.groupby("arch")}
        gap = best["cnn"]["accuracy_mean"] - best["dense"]["accuracy_mean"]
        answers.append(f"CNN vs Dense: best CNN {best['cnn']['accuracy_mean']:.4f} "
                       f"({compact(best['cnn']['params'])} params) vs best Dense "
                       f"{best['dense']['accuracy_mean']:.4f} "
                       f"({compact(best['dense']['params'])} params): {gap:+.4f}")
    return lines, answers


def _answer(title: str, rows: pd.DataFrame, group: tuple[str, ...],
            baseline_id: str | None) -> str:
    """One line per factor: each level's accuracy, its gain over the baseline and its cost."""
    def label(row: pd.Series) -> str:
        return " ".join(str(row[factor]) for factor in group)

    done = rows[rows["accuracy_mean"].notna()]
    if done.empty:
        return f"{title}: no finished runs"
    base = done[done["variant_id"] == baseline_id]
    parts = []
    if not base.empty:
        base = base.iloc[0]
        parts.append(f"baseline {label(base)} {base['accuracy_mean']:.4f}")
    for _, row in done.iterrows():
        if isinstance(base, pd.Series) and row["variant_id"] == base["variant_id"]:
            continue
        text = f"{label(row)} {row['accuracy_mean']:.4f}"
        if isinstance(base, pd.Series):
            text += (f" ({row['accuracy_mean'] - base['accuracy_mean']:+.4f}, "
                     f"{row['flops'] / base['flops']:.1f}x FLOPs)")
        parts.append(text)
    infeasible = rows[rows["status"] == "infeasible"]
    if not infeasible.empty:
        parts.append(f"infeasible: {', '.join(label(row) for _, row in infeasible.iterrows())}")
    best = done.loc[done["accuracy_mean"].idxmax()]
    return f"{title}: best **{label(best)}**; " + "; ".join(parts)


def build_report(project: Project) -> dict:
    """Write every report file for the active profile's grid; returns the metrics written."""
    grid = project.load_grid()
    reports_dir = project.reports_dir
    figures_dir = reports_dir / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    for stale in figures_dir.glob("*.png"):
        stale.unlink()
    runs = collect_runs(project, grid)
    runs.to_csv(reports_dir / "results.csv", index=False)
    variants = summarize_variants(runs)
    baseline_ids = _baseline_ids(grid)
    lines = header_lines(project, grid, runs)
    summary = ["## Answers at a glance", ""]
    body: list[str] = []
    metrics: dict = {"grid": grid.name, "profile": project.params.profile,
                     "runs": {k: int(v) for k, v in runs["status"].value_counts().items()}}
    floors = project.params.active.baseline_floors
    for dataset in grid.datasets:
        section, answers = dataset_section(dataset, variants, grid, baseline_ids.get(dataset),
                                           figures_dir, reports_dir)
        metrics[dataset] = _dataset_metrics(variants, dataset, baseline_ids.get(dataset),
                                            floors.get(dataset))
        summary += [f"**{dataset}**", ""] + [f"- {answer}" for answer in answers]
        summary += [_floor_line(metrics[dataset]), ""]
        body += section
    lines += summary + ["## All variants", ""]
    for dataset in grid.datasets:
        rows = variants[variants["dataset"] == dataset]
        table = [[*row, seeds if isinstance(seeds, str) else "-"] for row, seeds in zip(
            variant_rows(rows, baseline_ids.get(dataset)), rows["per_seed"], strict=True)]
        lines += [f"### {dataset}", "", markdown_table(
            ["variant", "params", "FLOPs", "test accuracy", "train s", "per seed"], table), ""]
    lines += body
    figure = accuracy_vs_params(variants, list(grid.datasets),
                                figures_dir / "accuracy_vs_params.png")
    lines += ["## Accuracy against parameter count", "",
              f"![accuracy vs params]({figure.relative_to(reports_dir)})", ""]
    lines += _problem_section(runs)
    (reports_dir / "ablation.md").write_text("\n".join(lines) + "\n")
    (reports_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    console.print(summary_table(f"report -> {reports_dir}", [
        ("runs", len(runs)), *[(status, count) for status, count in metrics["runs"].items()],
        ("figures", len(list(figures_dir.glob("*.png"))))]))
    return metrics


def _baseline_ids(grid: GridSpec) -> dict[str, str]:
    """The baseline CNN's variant id per dataset."""
    if grid.cnn is None:
        return {}
    return {dataset: variant_id(dataset, grid.cnn.baseline) for dataset in grid.datasets}


def _dataset_metrics(variants: pd.DataFrame, dataset: str, baseline_id: str | None,
                     floor: float | None) -> dict:
    rows = variants[(variants["dataset"] == dataset) & variants["accuracy_mean"].notna()]
    result: dict = {}
    if baseline_id is not None and (rows["variant_id"] == baseline_id).any():
        baseline = rows[rows["variant_id"] == baseline_id].iloc[0]
        result["baseline_test_accuracy"] = round(float(baseline["accuracy_mean"]), 5)
        if floor is not None:
            result["baseline_floor"] = floor
            result["baseline_meets_floor"] = bool(baseline["accuracy_mean"] >= floor)
    if not rows.empty:
        best = rows.loc[rows["accuracy_mean"].idxmax()]
        result["best_variant"] = best["variant"]
        result["best_test_accuracy"] = round(float(best["accuracy_mean"]), 5)
    return result


def _floor_line(metrics: dict) -> str:
    if "baseline_test_accuracy" not in metrics:
        return "- Baseline: no finished runs"
    text = f"- Baseline CNN test accuracy {metrics['baseline_test_accuracy']:.4f}"
    if "baseline_floor" in metrics:
        verdict = "meets" if metrics["baseline_meets_floor"] else "**misses**"
        text += f" ({verdict} this profile's floor of {metrics['baseline_floor']})"
    return text


def _problem_section(runs: pd.DataFrame) -> list[str]:
    problems = runs[runs["status"] != "done"].drop_duplicates(["dataset", "variant_id", "status"])
    lines = ["## Infeasible and failed cells", ""]
    if problems.empty:
        return lines + ["None: every cell trained.", ""]
    rows = [[row["dataset"], row["variant"], row["status"], row["reason"]]
            for _, row in problems.iterrows()]
    return lines + [markdown_table(["dataset", "variant", "status", "reason"], rows), ""]
