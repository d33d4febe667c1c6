"""The Model Registry keeps one `best` per grid and profile: two profiles of one grid each
move only their own alias, and an incomplete study moves none (real MLflow SQLite store)."""

from __future__ import annotations

import mlflow
import pytest
import yaml
from mlflow.exceptions import MlflowException

from pipeline.config import load_project
from pipeline.data.prepare import prepare_all
from pipeline.report.stage import build_report
from pipeline.runs.records import recipe_tag
from pipeline.stages.train import run_grid
from tests.conftest import TINY_GRID, write_project

GRID = {**TINY_GRID, "cnn": {**TINY_GRID["cnn"], "axes": {"pooling": ["max", "avg"]},
                             "crossed": []}}
MODEL = "cnn-ablation-tiny-mnist"


def with_profile(params_path, name: str):
    params = yaml.safe_load(params_path.read_text())
    params["profiles"]["small"] = {**params["profiles"]["tiny"], "train_samples": 200}
    params["profile"] = name
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    return load_project(params_path)


def profile_of(client, alias: str) -> str:
    version = client.get_model_version_by_alias(MODEL, alias)
    return client.get_run(version.run_id).data.tags["profile"]


@pytest.mark.slow
def test_each_profile_moves_only_its_own_alias(tmp_path, synthetic_data_dir):
    params_path = write_project(tmp_path / "project", synthetic_data_dir, GRID)
    tiny = with_profile(params_path, "tiny")
    prepare_all(tiny)
    run_grid(tiny)
    build_report(tiny)
    client = mlflow.MlflowClient(tiny.tracking_uri, registry_uri=tiny.tracking_uri)
    assert profile_of(client, "best-tiny") == "tiny"
    tiny_version = client.get_model_version_by_alias(MODEL, "best-tiny").version

    small = with_profile(params_path, "small")
    run_grid(small)
    tag = recipe_tag(small.params.training_recipe())
    sorted(small.results_dir.glob(f"*-t{tag}.json"))[0].unlink()  # one run missing
    (small.reports_dir / "evidence").rename(tmp_path / "set-aside")  # else it is restored
    build_report(small)
    with pytest.raises(MlflowException):
        client.get_model_version_by_alias(MODEL, "best-small")
    assert len(run_grid(small).trained) == 1
    build_report(small)
    assert profile_of(client, "best-small") == "small"
    assert client.get_model_version_by_alias(MODEL, "best-tiny").version == tiny_version
    assert profile_of(client, "best-tiny") == "tiny"
