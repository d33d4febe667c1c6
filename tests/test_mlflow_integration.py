"""What the MLflow UI shows, read back through the client: experiment kind and note, source
tags on parent runs, dataset inputs, metrics on logged models, the registry's `best` alias."""

import mlflow
import pytest

from pipeline.config import load_project
from pipeline.data.prepare import prepare_all
from pipeline.report.registry import register_best
from pipeline.stages.train import run_grid
from tests.conftest import TINY_GRID, write_project

GRID = {**TINY_GRID, "description": "Pooling on tiny synthetic digits.",
        "cnn": {**TINY_GRID["cnn"], "axes": {"pooling": ["max", "avg"]}, "crossed": []}}


def register(project, grid_name: str, chosen: dict[str, str]) -> dict[str, str]:
    return register_best(project, project.tracking_uri, grid_name, chosen)


@pytest.mark.slow
def test_runs_datasets_models_and_registry(tmp_path, synthetic_data_dir):
    project = load_project(write_project(tmp_path / "project", synthetic_data_dir, GRID))
    prepare_all(project)
    run_grid(project)
    client = mlflow.MlflowClient(project.tracking_uri)
    experiment = client.get_experiment_by_name("cnn-ablation/tiny")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert experiment.tags["mlflow.note.content"] == GRID["description"]

    runs = client.search_runs([experiment.experiment_id])
    parent = next(run for run in runs if run.data.tags["kind"] == "parent")
    children = [run for run in runs if run.data.tags["kind"] == "child"]
    assert len(children) == 3
    for tag in ("mlflow.source.name", "mlflow.source.type", "mlflow.user", "git_commit"):
        assert parent.data.tags[tag] == children[0].data.tags[tag], tag

    for child in children:
        (dataset_input,) = child.inputs.dataset_inputs
        assert dataset_input.dataset.name == "mnist"
        assert dataset_input.dataset.digest == child.data.tags["data_digest"][:36]
        sizes = {tag.key: tag.value for tag in dataset_input.tags}
        assert sizes["train_images"] == "300" and sizes["val_images"] == "100"
        model = client.get_logged_model(child.outputs.model_outputs[0].model_id)
        assert {metric.key for metric in model.metrics} >= {"test/accuracy", "test/loss"}

    first, second = children[0].info.run_id, children[1].info.run_id
    assert register(project, "tiny", {"mnist": first}) == {"mnist": "1"}
    assert register(project, "tiny", {"mnist": first}) == {"mnist": "1"}
    assert register(project, "tiny", {"mnist": second}) == {"mnist": "2"}
    assert register(project, "tiny", {"mnist": first}) == {"mnist": "1"}
    versions = client.search_model_versions("name = 'cnn-ablation-tiny-mnist'")
    assert sorted(version.run_id for version in versions) == sorted([first, second])
    assert client.get_model_version_by_alias("cnn-ablation-tiny-mnist",
                                             "best-tiny").run_id == first
