"""reports/sweeps/<name>.md: best trial, Optuna's figures, importances, trials CSV, grid gap."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import optuna
import optuna.visualization.matplotlib as optuna_plots

from pipeline.config import Project
from pipeline.report.markdown import markdown_table
from pipeline.sweeps.against_grid import against_grid_lines

FIGURES = {"history": ("Optimization history", optuna_plots.plot_optimization_history),
           "parallel": ("Parallel coordinates", optuna_plots.plot_parallel_coordinate),
           "slice": ("Slices: objective per parameter", optuna_plots.plot_slice),
           "intermediate": ("Validation accuracy per epoch (pruning)",
                            optuna_plots.plot_intermediate_values),
           "importances": ("Parameter importances (fANOVA)", None)}


def importance_evaluator() -> optuna.importance.FanovaImportanceEvaluator:
    return optuna.importance.FanovaImportanceEvaluator(seed=0)


def importances(study: optuna.Study) -> dict[str, float] | str:
    """fANOVA importances over the completed trials, or why they cannot be computed yet."""
    try:
        return optuna.importance.get_param_importances(study, evaluator=importance_evaluator())
    except (ValueError, RuntimeError) as error:
        return f"not available yet: {error}"


def plot(study: optuna.Study, kind: str):
    """One of Optuna's matplotlib figures of the study (axes, or an array of axes)."""
    if kind == "importances":
        return optuna_plots.plot_param_importances(study, evaluator=importance_evaluator())
    return FIGURES[kind][1](study)


def save_figure(study: optuna.Study, kind: str, path: Path) -> Path | str:
    """Draw and save one figure; returns its path, or why it cannot be drawn yet."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            axes = plot(study, kind)
    except (ValueError, RuntimeError) as error:
        plt.close("all")
        return f"not available yet: {error}"
    figure = np.ravel(axes)[0].figure
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path


def figure_sections(study: optuna.Study, sweeps_dir: Path) -> list[str]:
    """A section per Optuna figure, written to reports/sweeps/figures/<study>-<kind>.png."""
    figures = sweeps_dir / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    for kind, (title, _) in FIGURES.items():
        saved = save_figure(study, kind, figures / f"{study.study_name}-{kind}.png")
        shown = saved if isinstance(saved, str) else f"![{kind}]({saved.relative_to(sweeps_dir)})"
        lines += [f"## {title}", "", shown, ""]
    return lines


def export_trials(study: optuna.Study, sweeps_dir: Path) -> tuple[Path, dict[str, int]]:
    """Every trial as reports/sweeps/<study>-trials.csv; returns it and the count per state."""
    frame = study.trials_dataframe()
    path = sweeps_dir / f"{study.study_name}-trials.csv"
    frame.to_csv(path, index=False)
    counts = frame["state"].value_counts().to_dict() if not frame.empty else {}
    return path, {str(state): int(count) for state, count in counts.items()}


def best_section(study: optuna.Study, dataset: str, project: Project) -> list[str]:
    """The best trial, its one test-set score and the gap to the grid's best."""
    best = study.user_attrs.get("best_evaluation")
    if not best:
        return []
    params = [[key, value] for key, value in sorted(best["params"].items())]
    lines = ["## Best trial", "",
             f"Trial {best['trial_number']}: `{best['variant']}`, validation accuracy "
             f"{best['val_accuracy']:.4f}, **test accuracy {best['test_accuracy']:.4f}** "
             f"(configuration retrained once and scored on the test set; MLflow run "
             f"`{best['mlflow_run_id']}`).", "", markdown_table(["param", "value"], params), ""]
    return lines + against_grid_lines(project, study, dataset)


def importance_table(study: optuna.Study) -> list[str]:
    found = importances(study)
    if isinstance(found, str):
        return [found, ""]
    return [markdown_table(["param", "importance"],
                           [[key, f"{value:.3f}"] for key, value in found.items()]), ""]


def write_sweep_report(study: optuna.Study, dataset: str, project: Project) -> Path:
    """reports/sweeps/<study>.md, its figures and trials CSV (outside DVC's grid report)."""
    sweeps_dir = project.reports_dir / "sweeps"
    sweeps_dir.mkdir(parents=True, exist_ok=True)
    name = study.study_name
    csv_path, counts = export_trials(study, sweeps_dir)
    states = ", ".join(f"{state} {count}" for state, count in counts.items())
    lines = [f"# Sweep `{name}` on {dataset}", "",
             f"Trials: {sum(counts.values())} ({states}); every trial is in "
             f"[{csv_path.name}]({csv_path.name}). Objective: validation accuracy of the last "
             "epoch (the test set never guides the search).", "",
             *best_section(study, dataset, project), *figure_sections(study, sweeps_dir),
             "### Importances as numbers", "", *importance_table(study)]
    path = sweeps_dir / f"{name}.md"
    path.write_text("\n".join(lines) + "\n")
    return path
