"""Before a command trains: are its stores reachable, and which study does it join?"""

from __future__ import annotations

from pipeline.config import Project
from pipeline.stores import check_store
from pipeline.workers.queue import grid_study_name, open_storage


def check_stores(project: Project, storage: str | None) -> None:
    """Probe the MLflow tracking store and the Optuna storage before anything trains."""
    check_store(project.tracking_uri, "MLflow tracking store")
    if storage is not None:
        open_storage(storage)


def grid_study(project: Project, study: str | None) -> str:
    """The grid study to use: the one named, else params `workers.study`, else
    grid-<grid name>."""
    return study or project.params.workers.study or grid_study_name(project.load_grid().name)
