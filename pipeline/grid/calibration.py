"""A few seconds of real training on a tiny slice, for the ETA when no record measured FLOP/s.

Up to three networks per architecture (the smallest, median and largest forward FLOPs of the
pending runs) train on random images: throughput depends on shapes, not on pixel values.
"""

from __future__ import annotations

import time
from functools import lru_cache

import numpy as np

from pipeline.grid.throughput import CALIBRATION_S, DEFAULT_OVERHEAD_S, TRAIN_PASSES, Throughput
from pipeline.specs.model import ModelSpec

BATCH = 64


def representatives(models: list[ModelSpec], flops: dict[ModelSpec, int]) -> list[ModelSpec]:
    """Per architecture: networks with the smallest, median and largest distinct FLOPs."""
    chosen: list[ModelSpec] = []
    for arch in sorted({model.arch for model in models}):
        by_size = {flops[model]: model for model in models if model.arch == arch}
        sizes = sorted(by_size)
        chosen += [by_size[sizes[index]] for index in sorted({0, len(sizes) // 2, len(sizes) - 1})]
    return chosen


@lru_cache(maxsize=64)  # once per process: `plan` then `train` in one session measure once
def measured_rate(model: ModelSpec, flops: float) -> float:
    """Training FLOP/s of `model` in one `fit`: two batches to compile and warm up, then
    batches are counted until CALIBRATION_S has passed."""
    import keras

    from pipeline.model.keras_builder import build_model
    from pipeline.training.inputs import make_dataset

    class Clock(keras.callbacks.Callback):
        started, batches = 0.0, 0

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            if batch == 1:
                self.started = time.perf_counter()
            elif batch > 1:
                self.batches = batch - 1
                self.seconds = time.perf_counter() - self.started
                self.model.stop_training = self.seconds > CALIBRATION_S

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(8 * BATCH, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=len(images)).astype(np.uint8)
    keras.utils.set_random_seed(0)
    network = build_model(model)
    network.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    clock = Clock()
    network.fit(make_dataset(images, labels, BATCH, 0).repeat(), steps_per_epoch=100_000,
                verbose=0, shuffle=False, callbacks=[clock])
    return TRAIN_PASSES * flops * clock.batches * BATCH / clock.seconds


def calibrate(models: list[ModelSpec], flops: dict[ModelSpec, int]) -> Throughput:
    """Throughput points from a short training of each representative network."""
    points: dict[str, list[tuple[float, float]]] = {}
    for model in representatives(models, flops):
        size = flops[model]
        points.setdefault(model.arch, []).append((size, measured_rate(model, size)))
    count = sum(len(found) for found in points.values())
    return Throughput(points, DEFAULT_OVERHEAD_S, f"calibrated on {count} network(s)")
