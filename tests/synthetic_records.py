"""Finished run records with synthetic test predictions, for tests of the statistics that read
stored runs (adaptive seeds, recipe comparisons) without training anything."""

from __future__ import annotations

import numpy as np

from pipeline.data.prepared import prepared_digest
from pipeline.runs.records import (
    DONE,
    EVIDENCE,
    base_record,
    cache_key,
    code_fingerprint,
    record_path,
    write_record,
)


def finished_record(project, spec, right: np.ndarray) -> dict:
    """A DONE record of `spec` whose predictions are right exactly where `right` is True
    (labels are one fixed draw, so every record of a test shares its test images)."""
    digest, code = prepared_digest(project.prepared_dir, spec.dataset), code_fingerprint()
    record = base_record(spec, cache_key(spec, digest, code), digest, code)
    labels = np.random.default_rng(0).integers(0, 10, len(right)).astype(np.uint8)
    predicted = np.where(right, labels, (labels + 1) % 10).astype(np.uint8)
    record.update(status=DONE, metrics={"test/accuracy": float(right.mean())},
                  history={"val_accuracy": [0.5]},
                  **{EVIDENCE: {"predicted": predicted, "labels": labels}})
    return record


def write_finished(project, spec, right: np.ndarray) -> None:
    write_record(record_path(project.results_dir, spec), finished_record(project, spec, right))
