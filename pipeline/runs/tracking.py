"""MLflow: where runs go, one experiment per grid, a parent run per execution, child runs."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from pipeline.config import Project
from pipeline.specs.recipe import capped, training_image_count
from pipeline.stores import store_opened, wait_when_busy

EPOCH_METRICS = {"loss": "train/loss", "accuracy": "train/accuracy",
                 "val_loss": "val/loss", "val_accuracy": "val/accuracy"}
EXPERIMENT_KIND_TAG, EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"
NOTE_TAG = "mlflow.note.content"
DATASET_SOURCES = {"mnist": "https://yann.lecun.com/exdb/mnist/",
                   "fashion_mnist": "https://github.com/zalandoresearch/fashion-mnist"}
MODEL_REQUIREMENTS = [f"tensorflow=={metadata.version('tensorflow')}",
                      f"keras=={metadata.version('keras')}"]
def experiment_name(project: Project, name: str) -> str:
    """`<mlflow.experiment_prefix>/<name>`: the MLflow experiment of a grid or a sweep."""
    return f"{project.params.mlflow.experiment_prefix}/{name}"


def git_commit(root: Path) -> str:
    """HEAD of the project's git checkout, with `-dirty` when files changed; `unknown` off git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}-dirty" if dirty.strip() else head


def source_tags() -> dict[str, str]:
    """The source, user and git tags MLflow gives runs started with `mlflow.start_run`."""
    from mlflow.tracking.context.registry import resolve_tags

    return resolve_tags({})


def model_signature():
    """Input: float32 images N x 28 x 28 x 1 in [0, 1]; output: N x 10 class probabilities."""
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Schema, TensorSpec

    return ModelSignature(inputs=Schema([TensorSpec(np.dtype("float32"), (-1, 28, 28, 1))]),
                          outputs=Schema([TensorSpec(np.dtype("float32"), (-1, 10))]))


@dataclass
class ParentRun:
    """An open parent run: callers add final `metrics` and may set `failed` before it closes."""

    run_id: str
    metrics: dict[str, float] = field(default_factory=dict)
    failed: bool = False


def log_predictions(predicted, labels) -> None:
    """The predicted and true class of every test image, as `predictions.npz` (no pickles)."""
    import tempfile

    import mlflow
    import numpy as np

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "predictions.npz"
        np.savez_compressed(path, predicted=predicted, labels=labels)
        mlflow.log_artifact(str(path))


def log_input_once(dataset, tags: dict[str, str]) -> None:
    """`mlflow.log_input`, tolerating a second worker creating the same dataset row at the
    same moment (a unique-key race in MLflow's SQL store): the retry finds the row."""
    import mlflow
    from mlflow.exceptions import MlflowException

    for attempt in range(3):
        try:
            mlflow.log_input(dataset, context="training", tags=tags)
            return
        except MlflowException as error:
            if "unique" not in str(error).lower() or attempt == 2:
                raise
            time.sleep(0.2 * (attempt + 1))


class Tracker:
    """One MLflow experiment, addressed by the project's tracking URI."""

    def __init__(self, project: Project, experiment_name: str, uri: str | None = None,
                 description: str = ""):
        import mlflow

        wait_when_busy()
        self.project = project
        self.uri = uri or project.tracking_uri
        user_setting = os.environ.get("MLFLOW_TRACKING_URI")
        mlflow.set_tracking_uri(self.uri)
        # MLflow also writes the URI into $MLFLOW_TRACKING_URI; put the user's value back so a
        # later Tracker in this process (another project or study) resolves its own store.
        if user_setting is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = user_setting
        self.experiment_name = experiment_name
        with store_opened(self.uri):  # the first client of a new store creates its schema
            self.client = mlflow.MlflowClient(self.uri)
            self.experiment_id = self._ensure_experiment()
        self._tag_experiment(description)
        self.commit = git_commit(project.root)

    def _ensure_experiment(self) -> str:
        existing = self.client.get_experiment_by_name(self.experiment_name)
        if existing is not None:
            return existing.experiment_id
        artifact_location = None
        if self.uri.startswith("sqlite:"):
            root = (self.project.home / "mlartifacts").resolve()
            artifact_location = root.as_uri()
        try:
            return self.client.create_experiment(self.experiment_name,
                                                 artifact_location=artifact_location)
        except Exception:
            existing = self.client.get_experiment_by_name(self.experiment_name)
            if existing is None:
                raise
            return existing.experiment_id

    def _tag_experiment(self, description: str) -> None:
        """Open in the UI's classic runs view (not GenAI), described by its grid (issue 10)."""
        self.client.set_experiment_tag(self.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        if description.strip():
            self.client.set_experiment_tag(self.experiment_id, NOTE_TAG, description.strip())

    def start_parent(self, run_name: str, params: dict, tags: dict) -> str:
        """Open a parent run (left RUNNING until `finish_parent`) and return its id."""
        run = self.client.create_run(self.experiment_id, run_name=run_name,
                                     tags={**source_tags(), "git_commit": self.commit,
                                           "kind": "parent", **tags})
        for name, value in params.items():
            self.client.log_param(run.info.run_id, name, value)
        return run.info.run_id

    @contextmanager
    def parent_run(self, run_name: str, params: dict, tags: dict) -> Iterator[ParentRun]:
        """Open a parent run for one grid, sweep or worker execution; always close it.

        It ends FINISHED, FAILED (an exception, or `parent.failed` set), or KILLED on an
        interrupt, with `parent.metrics` logged first.
        """
        parent = ParentRun(self.start_parent(run_name, params, tags))
        status = "FAILED"
        try:
            yield parent
            status = "FAILED" if parent.failed else "FINISHED"
        except KeyboardInterrupt:
            status = "KILLED"
            raise
        finally:
            self.finish_parent(parent.run_id, parent.metrics, status)

    def close_abandoned_runs(self) -> int:
        """Mark RUNNING runs of a killed single-process train stage as KILLED; returns how many.

        Only runs without a `worker` or `study` tag are touched: those belong to the one
        process DVC's repository lock allows, so a RUNNING one at start-up is a leftover.
        """
        leftovers = self.client.search_runs([self.experiment_id],
                                            filter_string="attributes.status = 'RUNNING'",
                                            max_results=1000)
        closed = 0
        for run in leftovers:
            if {"worker", "study"} & set(run.data.tags):
                continue
            self.client.set_tag(run.info.run_id, "status", "interrupted")
            self.client.set_terminated(run.info.run_id, status="KILLED")
            closed += 1
        return closed

    def finish_parent(self, run_id: str, metrics: dict[str, float], status: str) -> None:
        for name, value in metrics.items():
            self.client.log_metric(run_id, name, value)
        self.client.set_terminated(run_id, status=status)

    def open_child(self, parent_run_id: str | None, run_name: str, params: dict,
                   tags: dict) -> str:
        """Start a child run under `parent_run_id` as the active run; returns its id."""
        import mlflow

        run = mlflow.start_run(experiment_id=self.experiment_id, run_name=run_name,
                               parent_run_id=parent_run_id,
                               tags={"git_commit": self.commit, "kind": "child", **tags})
        mlflow.log_params(params)
        return run.info.run_id

    @staticmethod
    def close_child(status: str, tags: dict[str, str]) -> None:
        """End the active child run with an MLflow status (FINISHED, FAILED, KILLED)."""
        import mlflow

        mlflow.set_tags(tags)
        mlflow.end_run(status=status)

    def epoch_callback(self):
        """A Keras callback that logs train/val loss and accuracy to the active run per epoch."""
        import keras
        import mlflow

        class EpochLogger(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                values = {EPOCH_METRICS[name]: float(value)
                          for name, value in (logs or {}).items() if name in EPOCH_METRICS}
                mlflow.log_metrics(values, step=epoch + 1)

        return EpochLogger()

    def log_outcome(self, outcome, log_model: bool) -> None:
        """Final metrics, the model summary and (optionally) the trained model."""
        import mlflow

        mlflow.log_text(outcome.summary, "model_summary.txt")
        if outcome.predictions is not None:
            log_predictions(outcome.predictions, outcome.labels)
        model_id = None
        if log_model:
            import mlflow.keras

            model_id = mlflow.keras.log_model(outcome.model, name="model",
                                              signature=model_signature(),
                                              pip_requirements=MODEL_REQUIREMENTS).model_id
        # Logged with the model's id, so the Models tab lists the model's accuracy (issue 10).
        mlflow.log_metrics(outcome.metrics, model_id=model_id)

    @staticmethod
    def log_dataset(splits, budget) -> None:
        """The run's dataset as an MLflow input (UI Dataset column): name, digest, and the
        images the run uses (training ones counted as training/train.py selects them)."""
        from mlflow.data.http_dataset_source import HTTPDatasetSource
        from mlflow.data.meta_dataset import MetaDataset

        used = {"train_images": training_image_count(budget, len(splits.y_train),
                                                     len(splits.y_val)),
                "val_images": capped(len(splits.y_val), budget.val_samples),
                "test_images": capped(len(splits.y_test), budget.test_samples)}
        used = {name: str(count) for name, count in used.items()}
        source = HTTPDatasetSource(DATASET_SOURCES.get(splits.name, "https://keras.io"))
        dataset = MetaDataset(source, name=splits.name, digest=splits.digest[:36])
        log_input_once(dataset, used)
