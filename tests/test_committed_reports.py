"""The committed reports rebuild byte for byte from the evidence committed beside them
(reports/evidence/, reports/full/evidence/), on a copy without results/runs: no training."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.config import load_project
from pipeline.report.stage import build_report
from pipeline.runs.committed_evidence import RECORDS_FILE, evidence_dir
from tests.conftest import REPO_ROOT
from tests.repository_copy import copy_repository

COMMITTED = {"default": "reports", "full": "reports/full"}  # profile -> its report folder
COMPARED = ("ablation.md", "ablation.html", "comparisons.csv", "results.csv", "metrics.json")


@pytest.mark.slow  # builds a whole report (figures, HTML) from the evidence
@pytest.mark.parametrize("profile", sorted(COMMITTED))
def test_committed_report_rebuilds_from_its_evidence(profile, tmp_path, monkeypatch):
    reports = REPO_ROOT / COMMITTED[profile]
    if not (evidence_dir(reports) / RECORDS_FILE).is_file():
        pytest.skip(f"{evidence_dir(reports).relative_to(REPO_ROOT)} has no committed evidence "
                    f"yet: build the {profile} report to write it, then commit it")
    repo = copy_repository(tmp_path / "clone")
    copy = repo / COMMITTED[profile]
    shutil.copytree(reports, copy, ignore=shutil.ignore_patterns("full", "sweeps"))
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params.update(profile=profile, reports_dir=COMMITTED[profile])
    params["mlflow"]["tracking_uri"] = f"sqlite:///{tmp_path / 'mlflow.db'}"
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    monkeypatch.chdir(repo)
    build_report(load_project(repo / "params.yaml"))
    for name in (*COMPARED, *(f"curves/{p.name}" for p in (reports / "curves").glob("*"))):
        assert (copy / name).read_bytes() == (reports / name).read_bytes(), name
    for path in evidence_dir(reports).iterdir():
        assert (evidence_dir(copy) / path.name).read_bytes() == path.read_bytes(), path.name


def decided_comparisons(folder: Path) -> pd.DataFrame:
    """The rows of a committed report's comparisons.csv that have runs; skips, naming the
    report, while a study in progress has none yet."""
    rows = pd.read_csv(folder / "comparisons.csv")
    rows = rows[rows["verdict"] != "no runs"]
    if rows.empty:
        pytest.skip(f"{folder.relative_to(REPO_ROOT)} has no verdict yet (a study in "
                    f"progress: its RUN.md)")
    return rows


@pytest.mark.parametrize("profile", sorted(COMMITTED))
def test_every_committed_delta_recomputes_from_the_shipped_predictions(profile):
    """docs/evidence.md's recipe, plain NumPy: per seed both sides share, the variant's
    accuracy minus the baseline's on the shipped predictions; their mean is `delta`."""
    folder = evidence_dir(REPO_ROOT / COMMITTED[profile])
    if not (folder / RECORDS_FILE).is_file():
        pytest.skip(f"{folder.relative_to(REPO_ROOT)} has no committed evidence yet")
    records = [json.loads(line) for line in (folder / RECORDS_FILE).read_text().splitlines()]
    rows = decided_comparisons(folder.parent)
    grid_recipe = json.loads((folder.parent / "run.json").read_text())["run"]["recipe"]
    checked = 0
    for _, row in rows.iterrows():
        with np.load(folder / f"{row['dataset']}.npz", allow_pickle=False) as arrays:
            def accuracy(name: str, arrays=arrays, row=row) -> dict[int, float]:
                return {entry["record"]["seed"]: float(np.mean(
                    arrays[Path(entry["file"]).stem] == arrays["labels"]))
                    for entry in records if entry["record"]["status"] == "done"
                    and entry["file"].endswith(f"-t{grid_recipe}.json")  # not a reference's
                    and entry["record"]["name"].startswith(f"{row['dataset']} {name} seed")}

            variant, baseline = accuracy(row["variant"]), accuracy(row["baseline"])
        seeds = sorted(set(variant) & set(baseline))
        assert len(seeds) == row["seeds"], (row["dataset"], row["variant"])
        delta = np.mean([variant[seed] - baseline[seed] for seed in seeds])
        assert delta == pytest.approx(row["delta"], abs=1e-6), (row["dataset"], row["variant"])
        checked += 1
    assert checked == len(rows) > 0


@pytest.mark.parametrize("profile", sorted(COMMITTED))
def test_no_committed_verdict_contradicts_its_adjusted_interval(profile):
    """`better` exactly when the adjusted interval lies above 0, `worse` below, and an
    undecided or equivalent comparison's adjusted interval holds 0."""
    folder = REPO_ROOT / COMMITTED[profile]
    rows = decided_comparisons(folder)
    above, below = rows["adj_low"] > 0, rows["adj_high"] < 0
    assert (above == (rows["verdict"] == "better")).all(), folder
    assert (below == (rows["verdict"] == "worse")).all(), folder
