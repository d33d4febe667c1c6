"""reports/sweeps/<name>.md: best trial, optimization history, importances, grid comparison."""

from __future__ import annotations

from pathlib import Path

import optuna
import pandas as pd

from pipeline.report.figures import history_figure
from pipeline.report.stage import markdown_table


def importances(study: optuna.Study) -> dict[str, float] | str:
    """fANOVA importances over the completed trials, or why they cannot be computed yet."""
    try:
        return optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    except (ValueError, RuntimeError) as error:
        return f"not available yet: {error}"


def grid_best(reports_dir: Path, dataset: str) -> tuple[str, float] | None:
    """Best variant of the last grid report on `dataset` (mean over seeds), if there is one."""
    path = reports_dir / "results.csv"
    if not path.is_file():
        return None
    runs = pd.read_csv(path)
    runs = runs[(runs["dataset"] == dataset) & (runs["status"] == "done")]
    if runs.empty:
        return None
    means = runs.groupby("variant")["test_accuracy"].mean()
    return str(means.idxmax()), float(means.max())


def write_sweep_report(study: optuna.Study, dataset: str, reports_dir: Path) -> Path:
    """reports/sweeps/<study>.md and its figure (outside the DVC-managed grid report files)."""
    sweeps_dir = reports_dir / "sweeps"
    figures = sweeps_dir / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    name = study.study_name
    figure = history_figure(study, figures / f"{name}-history.png")
    counts: dict[str, int] = {}
    for trial in study.trials:
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    lines = [f"# Sweep `{name}` on {dataset}", "",
             f"Trials: {len(study.trials)} ({', '.join(f'{k} {v}' for k, v in counts.items())})."
             " Objective: validation accuracy of the last epoch (the test set never guides the "
             "search).", ""]
    best = study.user_attrs.get("best_evaluation")
    if best:
        params = [[key, value] for key, value in sorted(best["params"].items())]
        lines += ["## Best trial", "",
                  f"Trial {best['trial_number']}: `{best['variant']}`, validation accuracy "
                  f"{best['val_accuracy']:.4f}, **test accuracy {best['test_accuracy']:.4f}** "
                  f"(configuration retrained once and scored on the test set; MLflow run "
                  f"`{best['mlflow_run_id']}`).", "", markdown_table(["param", "value"], params),
                  ""]
        compared = grid_best(reports_dir, dataset)
        if compared:
            gap = best["test_accuracy"] - compared[1]
            lines += [f"Against the grid: the grid's best on {dataset} is `{compared[0]}` at "
                      f"{compared[1]:.4f} test accuracy; the sweep's best is {gap:+.4f} from it "
                      f"(budgets may differ: see each report's profile).", ""]
    lines += ["## Optimization history", "", f"![history]({figure.relative_to(sweeps_dir)})",
              "", "## Parameter importances (fANOVA)", ""]
    found = importances(study)
    if isinstance(found, str):
        lines += [found, ""]
    else:
        lines += [markdown_table(["param", "importance"],
                                 [[key, f"{value:.3f}"] for key, value in found.items()]), ""]
    path = sweeps_dir / f"{name}.md"
    path.write_text("\n".join(lines) + "\n")
    return path
