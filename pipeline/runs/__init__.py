"""Runs: result records and cache keys, MLflow tracking, train-and-log one run."""
