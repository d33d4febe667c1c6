"""Adaptive replication on synthetic records: seeds go only where the answer is still open."""

from __future__ import annotations

import numpy as np
import yaml

from pipeline.config import load_project
from pipeline.grid.comparisons import grid_comparisons
from pipeline.grid.plan import evidence_settings, plan_grid
from pipeline.grid.replication import replicate
from pipeline.specs.run import variant_id
from pipeline.stages.train import run_grid
from tests.synthetic_records import write_finished

IMAGES = 2000
ACCURACY = {"max": 0.90, "avg": 0.97, "none": 0.90}  # avg clearly better; none a tie


def adaptive_grid(project_root):
    # 3 initial seeds: with 2, the baseline's own run variance (1 df), which the intervals
    # check the pool against, leaves no verdict possible among so few models
    grid = {"name": "adaptive", "datasets": ["mnist"], "seeds": {"initial": 3, "max": 5},
            "cnn": {"baseline": {"arch": "cnn", "filters": [4, 8, 8], "dense_units": [8]},
                    "axes": {"pooling": ["max", "avg", "none"]}}}
    (project_root / "grid.yaml").write_text(yaml.safe_dump(grid))


def right_answers(spec) -> np.ndarray:
    """Which test images the run gets right: a draw at its variant's accuracy."""
    rng = np.random.default_rng([spec.seed, ord(spec.model.pooling[0])])
    return rng.random(IMAGES) < ACCURACY[spec.model.pooling]


def write_pending(project, extra=None) -> int:
    plan = plan_grid(project, None, extra)
    for run in plan.pending:
        write_finished(project, run.spec, right_answers(run.spec))
    return len(plan.pending)


def settle(project, grid):
    """What the train stage does, with synthetic records for training: ask the replay for
    seeds, store their runs, ask again until no run is added. Returns it and the additions."""
    added = []
    while True:
        replication = replicate(grid, project.params.training_recipe(), project.results_dir,
                                evidence_settings(project, grid))
        written = write_pending(project, replication.extra_seeds)
        if not written:
            return replication, added
        added.append(written)


def test_seeds_are_added_only_to_the_undecided_variant_and_its_baseline(project):
    adaptive_grid(project.root)
    project = load_project(project.params_path)
    grid = project.load_grid()
    assert write_pending(project) == 9  # 3 variants x 3 initial seeds
    first = replicate(grid, project.params.training_recipe(), project.results_dir,
                      evidence_settings(project, grid))
    assert len(first.looks) == 1 and first.stopped == "runs of seed 3 not trained yet"
    replication, added_runs = settle(project, grid)
    ids = {c.variant.pooling: c.variant_id for c in grid_comparisons(grid)}
    baseline = variant_id("mnist", grid.cnn.baseline)
    assert replication.extra_seeds == {("mnist", ids["none"]): [3, 4], ("mnist", baseline): [3, 4]}
    assert added_runs == [2, 2]
    assert replication.stopped == "max 5 seeds reached"
    assert [look["undecided"] for look in replication.looks] == [1, 1]

    again = replicate(grid, project.params.training_recipe(), project.results_dir,
                      evidence_settings(project, grid))
    assert again.extra_seeds == replication.extra_seeds, "the replay must be deterministic"

    outcome = run_grid(project)
    assert outcome.trained == [] and outcome.parent_run_id is None, "a re-run trains nothing"
    assert len(outcome.plan.runs) == 13 and len(outcome.plan.reused) == 13


def test_extra_run_budget_stops_replication(project):
    adaptive_grid(project.root)
    grid_path = project.root / "grid.yaml"
    grid = yaml.safe_load(grid_path.read_text())
    grid["seeds"]["extra_runs"] = 1
    grid_path.write_text(yaml.safe_dump(grid))
    project = load_project(project.params_path)
    write_pending(project)
    grid = project.load_grid()
    replication, added = settle(project, grid)
    assert replication.extra_seeds == {} and added == []
    assert replication.stopped == "budget of 1 extra runs reached"


def test_a_look_spends_its_budget_on_the_comparison_nearest_a_decision(project, monkeypatch):
    """Two open comparisons, room for one: the seed goes to the one with the larger |Δ|/SE
    (average pooling, a small real effect), not to the tie (no pooling)."""
    monkeypatch.setitem(ACCURACY, "avg", 0.905)
    adaptive_grid(project.root)
    grid_path = project.root / "grid.yaml"
    grid = yaml.safe_load(grid_path.read_text())
    grid["seeds"]["extra_runs"] = 2  # variant and baseline: one comparison's seed
    grid_path.write_text(yaml.safe_dump(grid))
    project = load_project(project.params_path)
    grid = project.load_grid()
    write_pending(project)
    first = replicate(grid, project.params.training_recipe(), project.results_dir,
                      evidence_settings(project, grid))
    ids = {c.variant.pooling: c.variant_id for c in grid_comparisons(grid)}
    baseline = variant_id("mnist", grid.cnn.baseline)
    assert first.looks[0]["undecided"] == 2, "both comparisons open at 3 seeds"
    assert first.extra_seeds == {("mnist", ids["avg"]): [3], ("mnist", baseline): [3]}
    assert first.looks[0]["runs_added"] == 2
