"""The one training function: grid cells and sweep trials both train through `train_run`."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from pipeline.data.prepared import Splits
from pipeline.data.sampling import stratified_indices
from pipeline.model.keras_builder import build_model, summary_text
from pipeline.model.shapes import count_flops
from pipeline.specs.recipe import TrainingRecipe
from pipeline.specs.run import RunSpec
from pipeline.training.device import check_precision
from pipeline.training.inputs import make_dataset
from pipeline.training.memory import PeakMemory
from pipeline.training.scoring import score_test_set

SUBSET_SEED = 0  # every run of a profile trains on the same subset; seeds vary init and order


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the run is recorded as failed with this reason."""


@dataclass
class TrainOutcome:
    """What a finished run measured; `model` is the trained Keras model."""

    model: object
    summary: str
    history: dict[str, list[float]]
    metrics: dict[str, float] = field(default_factory=dict)
    predictions: np.ndarray | None = None  # predicted class per test image (uint8)
    labels: np.ndarray | None = None  # the true class of those test images


def limit_threads(threads: int) -> None:
    """Cap TensorFlow's intra- and inter-op thread pools (call before any training)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def take(images: np.ndarray, labels: np.ndarray, limit: int | None):
    """A fixed stratified subset of at most `limit` samples."""
    if limit is None or limit >= len(labels):
        return images, labels
    index = stratified_indices(labels, limit, SUBSET_SEED)
    return images[index], labels[index]


def training_images(splits: Splits, include_validation: bool) -> tuple[np.ndarray, np.ndarray]:
    """The training split, plus the validation split when a recipe trains on all images."""
    if not include_validation:
        return splits.x_train, splits.y_train
    return (np.concatenate([splits.x_train, splits.x_val]),
            np.concatenate([splits.y_train, splits.y_val]))


def make_optimizer(name: str, learning_rate: float, precision: str = "float32"):
    """The recipe's optimizer; under mixed_float16 wrapped in dynamic loss scaling, which keeps
    small float16 gradients from underflowing to zero."""
    import keras

    classes = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
               "rmsprop": keras.optimizers.RMSprop}
    optimizer = classes[name](learning_rate=learning_rate)
    if precision == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def compiled_model(spec: RunSpec):
    """The run's network, seeded and compiled with its optimizer, loss and precision."""
    import keras

    training: TrainingRecipe = spec.training
    check_precision(training.precision)
    keras.utils.set_random_seed(spec.seed)
    model = build_model(spec.model, training.precision)
    model.compile(optimizer=make_optimizer(training.optimizer, training.learning_rate,
                                           training.precision),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train_run(spec: RunSpec, splits: Splits, callbacks: list | tuple = (),
              evaluate_test: bool = True) -> TrainOutcome:
    """Train `spec` on `splits`, then evaluate it once on the test set if `evaluate_test`.

    Validation data drives per-epoch metrics (and pruning in sweeps); the test set is only
    touched after training, and sweeps skip it so that it never guides a choice.
    Raises InfeasibleSpec before building, TrainingDiverged on NaN.
    """
    import keras

    training = spec.training
    x_train, y_train = training_images(splits, training.include_validation)
    x_train, y_train = take(x_train, y_train, training.train_samples)
    x_val, y_val = take(splits.x_val, splits.y_val, training.val_samples)

    model = compiled_model(spec)
    train_data = make_dataset(x_train, y_train, training.batch_size, shuffle_seed=spec.seed)
    val_data = make_dataset(x_val, y_val, 256, shuffle_seed=None)

    with PeakMemory() as memory:
        started = time.perf_counter()
        fitted = model.fit(train_data, validation_data=val_data, epochs=training.epochs,
                           verbose=0, shuffle=False,
                           callbacks=[keras.callbacks.TerminateOnNaN(), *callbacks])
        train_seconds = time.perf_counter() - started
    history = {name: [float(value) for value in values]
               for name, values in fitted.history.items()}
    losses = history.get("loss", [])
    if not losses or not all(math.isfinite(value) for value in losses):
        raise TrainingDiverged(f"training loss became {losses[-1] if losses else 'undefined'}"
                               f" after {len(losses)} epoch(s); lower the learning rate")
    epochs_run = len(losses)
    metrics = {
        "model/params": float(model.count_params()),
        "model/flops": float(count_flops(spec.model)),
        "time/train_s": train_seconds,
        "time/samples_per_s": len(y_train) * epochs_run / train_seconds,
        "memory/peak_rss_mb": memory.peak_mb,
        "data/train_samples": float(len(y_train)),
        "train/epochs": float(epochs_run),
    }
    outcome = TrainOutcome(model, summary_text(model), history, metrics)
    if evaluate_test:
        x_test, y_test = take(splits.x_test, splits.y_test, training.test_samples)
        evaluate_on_test(outcome, x_test, y_test)
    return outcome


def evaluate_on_test(outcome: TrainOutcome, x_test: np.ndarray, y_test: np.ndarray) -> None:
    """Score the trained model on the test images in one inference pass: loss, accuracy,
    per-class accuracy, and the predicted class of every image (the paired evidence the
    report compares); the numbers equal Keras's `evaluate` (tests/test_training.py)."""
    test_data = make_dataset(x_test, y_test, 256, shuffle_seed=None)
    started = time.perf_counter()
    probabilities = outcome.model.predict(test_data, verbose=0)
    metrics, outcome.predictions = score_test_set(probabilities, y_test)
    outcome.labels = y_test.astype(np.uint8)
    outcome.metrics.update(metrics, **{"time/test_s": time.perf_counter() - started})
