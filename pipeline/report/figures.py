"""Matplotlib figures of the report (written as PNG, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

ARCH_COLOURS = {"cnn": "tab:blue", "dense": "tab:orange"}
VERDICT_COLOURS = {"better": "tab:green", "worse": "tab:red", "equivalent": "tab:blue",
                   "undecided": "tab:gray"}


def effect_dots(frame: pd.DataFrame, datasets: list[str], smallest_effect: float,
                path: Path) -> Path:
    """Δ test accuracy against the baseline, one panel per dataset on a shared axis: the thin
    bar is the adjusted interval the verdict is read from (the dot's colour), the thick one the
    95% interval; the grey band is ±smallest_effect, the line Δ = 0 (no truncated bars)."""
    rows = frame[frame["verdict"] != "no runs"]
    labels = list(dict.fromkeys(rows["factor"] + ": " + rows["level"]))
    figure, panels = plt.subplots(1, len(datasets), figsize=(5.0 * len(datasets),
                                                             0.42 * len(labels) + 1.6),
                                  squeeze=False, sharex=True)
    for panel, dataset in zip(panels[0], datasets, strict=True):
        shown = rows[rows["dataset"] == dataset]
        positions = [labels.index(f"{r['factor']}: {r['level']}") for _, r in shown.iterrows()]
        colours = [VERDICT_COLOURS.get(verdict, "tab:gray") for verdict in shown["verdict"]]
        panel.axvspan(-smallest_effect, smallest_effect, color="0.9")
        panel.axvline(0.0, color="0.4", linewidth=0.8)
        for (low, high), style in ((("adj_low", "adj_high"), dict(ecolor="0.55", elinewidth=1,
                                                                  capsize=4)),
                                   (("ci_low", "ci_high"), dict(ecolor="0.15", elinewidth=3,
                                                                capsize=0))):
            panel.errorbar(shown["delta"], positions, fmt="none", **style,
                           xerr=[(shown["delta"] - shown[low]).fillna(0.0),
                                 (shown[high] - shown["delta"]).fillna(0.0)])
        panel.scatter(shown["delta"], positions, c=colours, zorder=3)
        panel.set_yticks(range(len(labels)), labels, fontsize=8)
        panel.invert_yaxis()
        panel.set_xlabel("Δ test accuracy vs baseline CNN\n(thick: 95% interval; thin: "
                         "adjusted interval, the verdict's)")
        panel.set_title(dataset, fontsize=10)
        panel.grid(axis="x", alpha=0.3)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def learning_curves(curves: pd.DataFrame, dataset: str, path: Path) -> Path:
    """One panel per factor: validation (solid) and train (dashed) accuracy per epoch for
    each level, mean over seeds."""
    rows = curves[curves["dataset"] == dataset]
    factors = list(dict.fromkeys(rows["factor"]))
    figure, panels = plt.subplots(1, max(1, len(factors)), figsize=(4.2 * max(1, len(factors)),
                                                                    3.4), squeeze=False)
    for panel, factor in zip(panels[0], factors, strict=False):
        for index, (level, group) in enumerate(rows[rows["factor"] == factor].groupby(
                "level", sort=False)):
            colour = f"C{index}"
            for split, style in (("val", "-"), ("train", "--")):
                line = group[group["split"] == split].sort_values("epoch")
                panel.plot(line["epoch"], line["accuracy"], style, color=colour, marker="o",
                           markersize=3, label=f"{level} ({split})")
        panel.set_title(f"{dataset}: {factor}", fontsize=9)
        panel.set_xlabel("epoch")
        panel.set_ylabel("accuracy")
        panel.grid(alpha=0.3)
        panel.legend(fontsize=6)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def pareto_figure(variants: pd.DataFrame, fronts: dict, datasets: list[str], path: Path) -> Path:
    """Accuracy against parameters and against FLOPs per dataset; the front joined and named."""
    figure, panels = plt.subplots(len(datasets), 2, figsize=(10.5, 3.6 * len(datasets)),
                                  squeeze=False)
    for row, dataset in zip(panels, datasets, strict=True):
        rows = variants[(variants["dataset"] == dataset) & variants["accuracy_mean"].notna()]
        for panel, cost in zip(row, ("params", "flops"), strict=True):
            panel.scatter(rows[cost], rows["accuracy_mean"], color="0.6", s=16)
            front = fronts[(dataset, cost)]
            panel.plot(front[cost], front["accuracy_mean"], "-o", color="tab:red", markersize=4)
            for _, point in front.iterrows():
                panel.annotate(point["variant"], (point[cost], point["accuracy_mean"]),
                               fontsize=6, xytext=(3, -8), textcoords="offset points")
            panel.set_xscale("log")
            panel.set_xlabel(cost)
            panel.set_ylabel("test accuracy")
            panel.set_title(f"{dataset}: Pareto front, accuracy vs {cost}", fontsize=9)
            panel.grid(alpha=0.3)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def accuracy_vs_params(variants: pd.DataFrame, datasets: list[str], path: Path) -> Path:
    """Accuracy (mean ± sd over seeds) against parameter count (log scale), one panel per
    dataset, every point labelled with its variant."""
    figure, panels = plt.subplots(1, len(datasets), figsize=(5.2 * len(datasets), 3.8),
                                  squeeze=False)
    for panel, dataset in zip(panels[0], datasets, strict=True):
        rows = variants[(variants["dataset"] == dataset) & variants["accuracy_mean"].notna()]
        for arch, group in rows.groupby("arch"):
            panel.errorbar(group["params"], group["accuracy_mean"], yerr=group["accuracy_sd"],
                           fmt="o", label=arch, color=ARCH_COLOURS.get(str(arch)), capsize=3)
        for _, row in rows.iterrows():
            panel.annotate(row["variant"].removeprefix("cnn ").removeprefix("dense "),
                           (row["params"], row["accuracy_mean"]), fontsize=6,
                           xytext=(3, 3), textcoords="offset points")
        panel.set_xscale("log")
        panel.set_xlabel("parameters")
        panel.set_ylabel("test accuracy")
        panel.set_title(dataset, fontsize=10)
        panel.grid(alpha=0.3)
        panel.legend(fontsize=8)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path

