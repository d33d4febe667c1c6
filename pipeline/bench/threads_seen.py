"""The threads a child's TensorFlow really runs, recorded by the child itself.

`get_intra_op_parallelism_threads()` answers 0 both for TensorFlow's default and when
TF_NUM_INTRAOP_THREADS set the count, so it cannot tell a one-thread child from a
default-threads one. The intra-op pool can: TensorFlow names its threads `tf_Compute`
(Linux, /proc/self/task) and creates the pool, one per intra-op thread, when its runtime
starts. Later pools take the same name (the inter-op pool, tf.data's), so the count is
read right after the start, before anything runs.
"""

from __future__ import annotations

import os
from pathlib import Path

POOL_THREAD_NAME = "tf_Compute"
TASKS = Path("/proc/self/task")


def pool_threads() -> int | None:
    """The intra-op pool's threads in this process; None where /proc is missing."""
    try:
        names = [(task / "comm").read_text().strip() for task in TASKS.iterdir()]
    except OSError:
        return None
    return sum(name == POOL_THREAD_NAME for name in names)


def start_runtime() -> dict:
    """Start TensorFlow's runtime now (call it after any thread setting) and say what it
    runs with: the intra-op pool's threads, the configured count (0 = TensorFlow's
    default) and the TF_NUM_INTRAOP_THREADS this process inherited."""
    import tensorflow as tf

    tf.config.list_logical_devices()  # creates the context, and with it the intra-op pool
    return {"pool": pool_threads(),
            "configured": tf.config.threading.get_intra_op_parallelism_threads(),
            "environment": os.environ.get("TF_NUM_INTRAOP_THREADS")}
