""""Answers at a glance": the wording follows the verdict and the interval it is read from."""

from __future__ import annotations

import pandas as pd

from pipeline.report.answers import level_answer


def row(verdict: str, low: float, high: float, widen: float = 0.002) -> pd.Series:
    return pd.Series({"level": "avg", "verdict": verdict, "delta": (low + high) / 2,
                      "ci_low": low, "ci_high": high, "seeds": 3, "adj_level": 0.9964,
                      "adj_low": low - widen, "adj_high": high + widen})


def test_significant_interval_without_a_verdict_names_the_corrections_applied():
    undecided = row("undecided", 0.001, 0.009)
    text = level_answer(undecided, 0.002)
    assert "the 95% interval clears 0 but the one adjusted for the comparisons does not" in text
    assert "adjusted 99.64% [-0.0010, +0.0110]" in text
    assert "adjusted for the comparisons and looks" in level_answer(undecided, 0.002, looks=3)


def test_only_a_verdict_calls_a_level_better_and_every_answer_shows_its_seeds():
    better = level_answer(row("better", 0.003, 0.009), 0.002)
    assert better.startswith("**avg better**: Δ +0.0060 [+0.0030, +0.0090]")
    assert "adjusted 99.64% [+0.0010, +0.0110]" in better
    assert "no detectable difference (Δ within [-0.0010, +0.0030])" in level_answer(
        row("undecided", -0.001, 0.003), 0.002)
    assert all(level_answer(row(v, -0.001, 0.001), 0.002).endswith("3 seeds")
               for v in ("better", "worse", "equivalent", "undecided"))
