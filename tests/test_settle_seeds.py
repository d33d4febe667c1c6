"""`settle:` in a grid: one more look that adds the seeds `plan --settle` prices, where they
are affordable; on synthetic records with known effects (no training)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from pipeline.config import load_project
from pipeline.grid.plan import evidence_settings, plan_grid
from pipeline.grid.replication import looks_of, replicate
from pipeline.report.data import report_data
from pipeline.runs.records import record_path, write_record
from pipeline.specs.grid import GridSpec
from tests.synthetic_records import finished_record

IMAGES = 4000
ACCURACY = {"max": 0.90, "avg": 0.912, "none": 0.70}  # avg open at 3 seeds, none worse
SECONDS = {"max": 30.0, "avg": 90.0, "none": 60.0}


def settle_project(project, max_minutes: float):
    grid = {"name": "settle", "datasets": ["mnist"], "seeds": [0, 1, 2],
            "settle": {"power": 0.8, "max_minutes": max_minutes},
            "cnn": {"baseline": {"arch": "cnn", "filters": [4, 8, 8], "dense_units": [8]},
                    "axes": {"pooling": ["max", "avg", "none"]}}}
    (project.root / "grid.yaml").write_text(yaml.safe_dump(grid))
    return load_project(project.params_path)


def write_pending(project, extra=None) -> int:
    """Records for every pending run, right answers drawn at its level's accuracy."""
    shared = np.random.default_rng(9).random(IMAGES)
    pending = plan_grid(project, None, extra).pending
    for run in pending:
        pooling = run.spec.model.pooling
        noise = np.random.default_rng([run.spec.seed, ord(pooling[0])]).random(IMAGES) < 0.1
        record = finished_record(project, run.spec, (shared < ACCURACY[pooling]) ^ noise)
        record["metrics"]["time/train_s"] = SECONDS[pooling]
        write_record(record_path(project.results_dir, run.spec), record)
    return len(pending)


def replay(project):
    grid = project.load_grid()
    return replicate(grid, project.params.training_recipe(), project.results_dir,
                     evidence_settings(project, grid))


def test_affordable_open_comparisons_get_their_seeds_on_both_sides(project):
    project = settle_project(project, max_minutes=60)
    assert looks_of(project.load_grid()) == 2
    write_pending(project)
    first = replay(project)
    open_ones = report_data(project).settling  # priced at the listed seeds only
    assert {key[1] for key in first.extra_seeds} == {
        comparison.variant_id for comparison in open_ones.settles} | {
        comparison.baseline_id for comparison in open_ones.settles}
    (comparison, settle), = open_ones.settles.items()
    assert comparison.variant.pooling == "avg"
    target = settle.seeds_at_delta
    assert (target - 3) * (SECONDS["avg"] + SECONDS["max"]) / 60 <= 60 < 200
    for seeds in first.extra_seeds.values():
        assert seeds == list(range(3, target)), "the next seeds after the listed 0, 1, 2"
    assert "their runs not all trained yet" in first.stopped
    assert write_pending(project, first.extra_seeds) == 2 * (target - 3)
    second = replay(project)
    assert second.extra_seeds == first.extra_seeds, "the look depends on the listed seeds only"
    assert second.stopped == "settle: 1 of 1 undecided comparison(s) within 60 min each"
    assert plan_grid(project, None, second.extra_seeds).pending == []


def test_a_comparison_over_the_budget_gets_no_seeds(project):
    project = settle_project(project, max_minutes=1)
    write_pending(project)
    found = replay(project)
    assert found.extra_seeds == {} and found.looks[0]["runs_added"] == 0
    assert found.stopped == "settle: 0 of 1 undecided comparison(s) within 1 min each"


def test_settle_needs_a_seed_list():
    grid = {"name": "g", "datasets": ["mnist"], "seeds": {"initial": 2, "max": 4},
            "settle": {"max_minutes": 30},
            "cnn": {"baseline": {"arch": "cnn", "filters": [4], "dense_units": [8]}}}
    with pytest.raises(ValidationError, match="`settle` adds seeds to a seed list"):
        GridSpec.model_validate(grid)


def test_a_total_budget_takes_the_cheapest_comparisons_and_counts_shared_runs_once():
    """Costs by hand: a baseline side shared by two comparisons is paid once, up to the
    highest target; a comparison that would pass the total is skipped, cheaper ones still fit."""
    from pipeline.grid.comparisons import Comparison
    from pipeline.grid.replication import within_total
    from pipeline.specs.model import ModelSpec

    baseline = ModelSpec(arch="cnn", filters=(4, 8, 8), dense_units=(8,))
    avg, none, small = (baseline.model_copy(update=change) for change in (
        {"pooling": "avg"}, {"pooling": "none"}, {"filters": (2, 4, 4)}))
    pairs = {name: Comparison("mnist", "factor", variant, baseline)
             for name, variant in (("avg", avg), ("none", none), ("small", small))}
    minutes = {("mnist", pair.variant_id): cost for pair, cost in
               ((pairs["avg"], 1.0), (pairs["none"], 10.0), (pairs["small"], 0.5))}
    minutes[("mnist", pairs["avg"].baseline_id)] = 1.0
    affordable = {pairs["avg"]: (6, 3, 6.0), pairs["none"]: (5, 3, 22.0),
                  pairs["small"]: (8, 3, 7.5)}
    # avg: 3 more seeds x (1 + 1) = 6; small: 5 x 0.5 + the baseline's 2 more x 1 = 4.5 ->
    # 10.5; none: 2 x 10 (its baseline seeds are paid already) -> 30.5
    assert within_total(affordable, minutes, None) == {
        pairs["avg"]: 6, pairs["small"]: 8, pairs["none"]: 5}
    assert within_total(affordable, minutes, 30.0) == {pairs["avg"]: 6, pairs["small"]: 8}
    assert within_total(affordable, minutes, 10.0) == {pairs["avg"]: 6}
    assert within_total(affordable, minutes, 5.0) == {}
