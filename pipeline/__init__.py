"""CNN ablation lab: prepare data, train an ablation grid, track runs, report the evidence."""

import os

__version__ = "0.1.0"

# Telemetry and analytics try DNS on machines with no internet; switch them off before any
# MLflow or DVC import so that offline runs neither stall nor log warnings.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
