"""One count of training images (issue 14 #4): what training selects, what the ETA costs, what
MLflow tags and what the report writes agree, for any validation_size."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.data.prepared import Splits
from pipeline.report.references import training_images_text
from pipeline.specs.recipe import Budget, training_image_count
from pipeline.training.train import take, training_images


def splits(train: int, val: int) -> Splits:
    labels = lambda count: np.resize(np.arange(10, dtype=np.uint8), count)  # noqa: E731
    images = lambda count: np.zeros((count, 28, 28), dtype=np.uint8)  # noqa: E731
    return Splits("mnist", images(train), labels(train), images(val), labels(val),
                  images(10), labels(10), "digest")


@pytest.mark.parametrize("budget", [
    Budget(epochs=1), Budget(epochs=1, include_validation=True),
    Budget(epochs=1, train_samples=300), Budget(epochs=1, train_samples=300,
                                                 include_validation=True),
    Budget(epochs=1, train_samples=5000), Budget(epochs=1, train_samples=1100,
                                                  include_validation=True)])
def test_the_count_is_what_training_selects(budget):
    data = splits(1000, 200)
    images, _ = take(*training_images(data, budget.include_validation), budget.train_samples)
    assert training_image_count(budget, 1000, 200) == len(images)


def test_the_report_counts_the_split_it_was_given():
    assert training_images_text(Budget(epochs=1), (55000, 5000)) == "all 55,000"
    assert training_images_text(Budget(epochs=1, include_validation=True),
                                (55000, 5000)) == "all 60,000"
    assert training_images_text(Budget(epochs=1), (50000, 10000)) == "all 50,000"
    assert training_images_text(Budget(epochs=1, train_samples=20000), (55000, 5000)) == "20,000"
    assert training_images_text(Budget(epochs=1, train_samples=90000), (55000, 5000)) == (
        "all 55,000")
