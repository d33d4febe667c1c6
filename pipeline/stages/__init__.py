"""The DVC stages of dvc.yaml, one short module each: prepare, train, report."""
