"""Test-set scores from one inference pass: loss, accuracy, per-class accuracy, predictions.

Keras's `evaluate` and `predict` each run the model over the test set; one `predict` gives
everything. The numbers are computed as Keras computes them (accuracy as a float32 mean,
the loss on probabilities clipped to Keras's epsilon), so they equal `evaluate`'s.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from pipeline.model.shapes import NUM_CLASSES

EPSILON = 1e-7  # keras.backend.epsilon(): probabilities are clipped to [eps, 1 - eps]


def crossentropy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean sparse categorical cross-entropy, as Keras takes it from softmax outputs."""
    logits = np.log(np.clip(probabilities.astype(np.float64), EPSILON, 1 - EPSILON))
    per_image = logsumexp(logits, axis=1) - logits[np.arange(len(labels)), labels]
    return float(per_image.mean())


def score_test_set(probabilities: np.ndarray, labels: np.ndarray) -> tuple[dict, np.ndarray]:
    """`test/*` metrics and the predicted class (uint8) of every image."""
    predicted = np.argmax(probabilities, axis=1).astype(np.uint8)
    correct = predicted == labels
    # Keras's accuracy is a float32 total over a float32 count: the same bits as here.
    accuracy = np.float32(correct.sum()) / np.float32(len(labels))
    metrics = {"test/accuracy": float(accuracy),
               "test/loss": crossentropy(probabilities, labels)}
    for label in range(NUM_CLASSES):
        members = labels == label
        if members.any():
            metrics[f"test/class_accuracy/{label}"] = float(correct[members].mean())
    return metrics, predicted
