"""Markdown building blocks of the reports: tables and the cells they hold."""

from __future__ import annotations

import math

import pandas as pd


def markdown_table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def accuracy_cell(row: pd.Series) -> str:
    if pd.isna(row["accuracy_mean"]):
        return str(row["status"])
    return f"{row['accuracy_mean']:.4f} ± {row['accuracy_sd']:.4f} (n={int(row['seeds'])})"


def interval_cell(delta: float, low: float, high: float) -> str:
    """`+0.0042 [+0.0021, +0.0063]`, or the estimate alone when no interval exists."""
    if math.isnan(low) or math.isnan(high):
        return f"{delta:+.4f} [no interval]"
    return f"{delta:+.4f} [{low:+.4f}, {high:+.4f}]"


def adjusted_cell(level: float, low: float, high: float) -> str:
    """`[+0.0012, +0.0081] (99.64%)`: an interval at its stated confidence."""
    if math.isnan(low) or math.isnan(high):
        return "no interval"
    return f"[{low:+.4f}, {high:+.4f}] ({100 * level:.4g}%)"


def p_cell(value: float) -> str:
    if math.isnan(value):
        return "-"
    return "<0.0001" if value < 1e-4 else f"{value:.4f}"


def compact(number: float | None) -> str:
    if number is None or pd.isna(number):
        return "-"
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if number >= limit:
            return f"{number / limit:.2f}{suffix}"
    return f"{number:.0f}"


def seconds(value: float | None) -> str:
    return "-" if value is None or pd.isna(value) else f"{value:.1f}"
