"""`plan --settle` and the report's settle section, on synthetic records with known effects."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import yaml

from pipeline.cli import main
from pipeline.config import load_project
from pipeline.grid.plan import plan_grid
from pipeline.report.data import report_data
from pipeline.report.settle import floor_text, settle_section
from pipeline.report.settle_plan import settle_plan_lines
from pipeline.runs.records import record_path, write_record
from tests.synthetic_records import finished_record

IMAGES = 4000
ACCURACY = {"max": 0.90, "avg": 0.905, "none": 0.70}  # avg open, none clearly worse
SECONDS = {"max": 30.0, "avg": 90.0, "none": 60.0}


def write_runs(project) -> None:
    """Every run of a 3-seed pooling grid, right answers drawn at its level's accuracy."""
    grid = {"name": "settle", "datasets": ["mnist"], "seeds": [0, 1, 2],
            "cnn": {"baseline": {"arch": "cnn", "filters": [4, 8, 8], "dense_units": [8]},
                    "axes": {"pooling": ["max", "avg", "none"]}}}
    (project.root / "grid.yaml").write_text(yaml.safe_dump(grid))
    project = load_project(project.params_path)
    shared = np.random.default_rng(9).random(IMAGES)
    for run in plan_grid(project).pending:
        pooling = run.spec.model.pooling
        noise = np.random.default_rng([run.spec.seed, ord(pooling[0])]).random(IMAGES) < 0.1
        right = (shared < ACCURACY[pooling]) ^ noise
        record = finished_record(project, run.spec, right)
        record["metrics"]["time/train_s"] = SECONDS[pooling]
        write_record(record_path(project.results_dir, run.spec), record)
    return project


def test_open_comparisons_get_a_floor_seeds_and_a_priced_plan(project, capsys):
    project = write_runs(project)
    data = report_data(project)
    found = data.settling
    [(comparison, settle)] = found.settles.items()
    assert comparison.variant.pooling == "avg"
    assert found.verdicts[comparison].verdict == "undecided"
    assert 0 < settle.floor < abs(found.verdicts[comparison].delta)
    assert settle.seeds_at_delta > 3 and settle.seeds_at_smallest is None  # over 200 seeds
    assert "cannot be shown on this test set" in floor_text(settle, settle.equivalence_floor)
    assert "cannot" not in floor_text(settle, 2 * settle.equivalence_floor)
    unmeasured = floor_text(replace(settle, floor=0.0, equivalence_floor=0.0), 0.002)
    assert unmeasured.startswith("±0.0000: not measured") and "cannot" not in unmeasured
    assert floor_text(replace(settle, floor=0.00004), 0.002).startswith("under ±0.0001")
    section = "\n".join(settle_section(data))
    assert "## What would settle the open comparisons" in section
    assert "mnist: one run variance for all 3 models" in section
    assert "Bartlett's test p = " in section
    extra = settle.seeds_at_delta - 3
    assert (f"| {settle.seeds_at_delta} (+{extra} per side, ~{extra * 120 / 60:.0f} min) | "
            "out of reach (at or below the floor, or over 200 seeds) |") in section
    assert f"±{settle.floor:.4f}" in section
    lines = settle_plan_lines(project)
    assert lines[0] == (f"mnist {comparison.variant.describe()}: seeds 3.."
                        f"{settle.seeds_at_delta - 1} ({extra} runs, ~{extra * 90 / 60:.0f} min)")
    total = f"{2 * extra} runs to add, ETA ~{extra * 120 / 60:.0f} min"
    assert lines[-1].startswith(total)
    assert main(["--params", str(project.params_path), "plan", "--settle"]) in (0, None)
    assert total in capsys.readouterr().err
