"""Matplotlib figures of the report (written as PNG, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

ARCH_COLOURS = {"cnn": "tab:blue", "dense": "tab:orange"}


def factor_bars(rows: pd.DataFrame, labels: list[str], title: str, path: Path) -> Path:
    """Bar per level: mean test accuracy with sd error bars; infeasible levels marked."""
    figure, axes = plt.subplots(figsize=(max(4.0, 1.1 * len(rows) + 1.5), 3.4))
    positions = range(len(rows))
    means = rows["accuracy_mean"].fillna(0.0)
    axes.bar(positions, means, yerr=rows["accuracy_sd"], capsize=4, color="tab:blue")
    finite = rows["accuracy_mean"].dropna()
    if not finite.empty:
        low = max(0.0, float(finite.min()) - 0.05)
        axes.set_ylim(low, min(1.0, float(finite.max()) + 0.02))
    bottom, top = axes.get_ylim()
    for position, (_, row) in zip(positions, rows.iterrows(), strict=True):
        if pd.isna(row["accuracy_mean"]):
            axes.text(position, bottom + 0.05 * (top - bottom), row["status"], rotation=90,
                      ha="center", va="bottom", color="tab:red")
        else:
            axes.text(position, row["accuracy_mean"], f"{row['accuracy_mean']:.3f}",
                      ha="center", va="bottom", fontsize=8)
    axes.set_xticks(list(positions), labels, rotation=20, ha="right", fontsize=8)
    axes.set_ylabel("test accuracy")
    axes.set_title(title, fontsize=10)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def accuracy_vs_params(variants: pd.DataFrame, datasets: list[str], path: Path) -> Path:
    """Scatter of accuracy against parameter count (log scale), one panel per dataset."""
    figure, panels = plt.subplots(1, len(datasets), figsize=(5.2 * len(datasets), 3.8),
                                  squeeze=False)
    for panel, dataset in zip(panels[0], datasets, strict=True):
        rows = variants[(variants["dataset"] == dataset) & variants["accuracy_mean"].notna()]
        for arch, group in rows.groupby("arch"):
            panel.errorbar(group["params"], group["accuracy_mean"], yerr=group["accuracy_sd"],
                           fmt="o", label=arch, color=ARCH_COLOURS.get(str(arch)), capsize=3)
        panel.set_xscale("log")
        panel.set_xlabel("parameters")
        panel.set_ylabel("test accuracy")
        panel.set_title(dataset, fontsize=10)
        panel.grid(alpha=0.3)
        panel.legend(fontsize=8)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def history_figure(study, path: Path) -> Path:
    """Validation accuracy per trial, pruned and failed trials marked, best so far as a line."""
    from optuna.trial import TrialState

    figure, axes = plt.subplots(figsize=(6.5, 3.6))
    best, best_line, numbers = float("-inf"), [], []
    for trial in study.trials:
        if trial.state == TrialState.COMPLETE:
            axes.scatter(trial.number, trial.value, color="tab:blue", s=18)
            best = max(best, trial.value)
        elif trial.state == TrialState.PRUNED and trial.intermediate_values:
            last = trial.intermediate_values[max(trial.intermediate_values)]
            axes.scatter(trial.number, last, color="tab:gray", marker="x", s=18)
        if best > float("-inf"):
            numbers.append(trial.number)
            best_line.append(best)
    axes.plot(numbers, best_line, color="tab:red", label="best so far")
    axes.set_xlabel("trial")
    axes.set_ylabel("validation accuracy")
    axes.set_title(f"{study.study_name}: optimization history (x = pruned)", fontsize=10)
    axes.legend(fontsize=8)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path
