"""Stratified index selection, used for the validation split and the training subsets."""

from __future__ import annotations

import numpy as np


def stratified_indices(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted indices of `size` samples whose class mix matches `labels` as closely as possible.

    Deterministic for a given seed, so every run of a profile sees the same subset.
    """
    total = len(labels)
    if size >= total:
        return np.arange(total)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * size / total
    quotas = np.floor(exact).astype(int)
    remainder = size - int(quotas.sum())
    if remainder:
        order = np.argsort(-(exact - quotas), kind="stable")
        quotas[order[:remainder]] += 1
    chosen = [
        rng.permutation(np.flatnonzero(labels == label))[:quota]
        for label, quota in zip(classes, quotas, strict=True)
    ]
    return np.sort(np.concatenate(chosen))
