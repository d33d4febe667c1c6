"""Several workers: Optuna storage as a work queue, workers, the coordinating train stage."""
