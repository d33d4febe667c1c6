"""The Model Registry: the best variant of a grid per dataset as
`cnn-ablation-<grid>-<dataset>`, with the alias `best-<profile>`.

Each grid and profile owns its model and alias, so a smoke, default or full study never
replaces another's `best`. Re-running moves the alias to the new best run; a run already
registered keeps its version (no duplicate versions of one run).
"""

from __future__ import annotations

import contextlib

from pipeline.config import Project

BEST_ALIAS = "best"


def model_name(project: Project, grid_name: str, dataset: str) -> str:
    """`<experiment prefix>-<grid>-<dataset>`, e.g. cnn-ablation-full-fashion-mnist."""
    return f"{project.params.mlflow.experiment_prefix}-{grid_name}-{dataset}".replace("_", "-")


def alias_of(project: Project) -> str:
    """`best-<profile>`: the profile's budget decides what `best` was trained with."""
    return f"{BEST_ALIAS}-{project.params.profile}".replace("_", "-")


def logged_model_id(client, run_id: str) -> str | None:
    """The id of the model a run logged (MLflow 3 logged models), if it logged one."""
    run = client.get_run(run_id)
    outputs = run.outputs.model_outputs if run.outputs else []
    return outputs[0].model_id if outputs else None


def version_of_run(client, name: str, run_id: str):
    """The registered version of `name` made from `run_id`, if one exists."""
    from mlflow.exceptions import MlflowException

    try:
        found = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    except MlflowException:
        return None
    return found[0] if found else None


def register_run(client, name: str, alias: str, run_id: str) -> str | None:
    """Register `run_id`'s model under `name` once, point `alias` at it; its version."""
    from mlflow.exceptions import MlflowException

    version = version_of_run(client, name, run_id)
    if version is None:
        model_id = logged_model_id(client, run_id)
        if model_id is None:
            return None
        with contextlib.suppress(MlflowException):  # it exists already
            client.create_registered_model(name)
        version = client.create_model_version(name, f"models:/{model_id}", run_id=run_id,
                                              model_id=model_id)
    client.set_registered_model_alias(name, alias, version.version)
    return str(version.version)


def register_best(project: Project, tracker_or_uri, grid_name: str,
                  best_runs: dict[str, str]) -> dict[str, str]:
    """Register each dataset's best MLflow run of grid `grid_name` (dataset -> run id) under
    the profile's alias; returns dataset -> version.

    `tracker_or_uri` is a runs.tracking.Tracker or a tracking URI. Runs without a logged
    model (mlflow.log_models false) are skipped.
    """
    import mlflow

    from pipeline.stores import wait_when_busy

    wait_when_busy()
    uri = getattr(tracker_or_uri, "uri", tracker_or_uri)
    client = mlflow.MlflowClient(uri, registry_uri=uri)
    versions = {}
    for dataset, run_id in best_runs.items():
        version = register_run(client, model_name(project, grid_name, dataset),
                               alias_of(project), run_id)
        if version is not None:
            versions[dataset] = version
    return versions
