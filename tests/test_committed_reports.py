"""The committed reports rebuild byte for byte from the evidence committed beside them
(reports/evidence/, reports/full/evidence/), on a copy without results/runs: no training."""

from __future__ import annotations

import shutil

import pytest
import yaml

from pipeline.config import load_project
from pipeline.report.stage import build_report
from pipeline.runs.committed_evidence import RECORDS_FILE, evidence_dir
from tests.conftest import REPO_ROOT
from tests.repository_copy import copy_repository

COMMITTED = {"default": "reports", "full": "reports/full"}  # profile -> its report folder
COMPARED = ("ablation.md", "ablation.html", "comparisons.csv", "results.csv", "metrics.json")


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
