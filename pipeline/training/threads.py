"""TensorFlow's thread count per run, fixed so a run's numbers do not depend on how it ran.

Reductions split across a different number of threads round differently, so a run trained
with TensorFlow's default (one thread per core) beside other runs would not reproduce the
same run trained alone. Every run uses `RUN_THREADS` intra- and inter-op threads, alone or
beside others; this module is part of the training-code fingerprint, so changing the count
changes every cache key. Measured on a 2-core machine: 2 processes x 1 thread train 1.5x
the samples per second of 1 process with the default threads.
"""

from __future__ import annotations

import os
import sys

RUN_THREADS = 1
ENVIRONMENT = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def fix_threads() -> None:
    """Give TensorFlow `RUN_THREADS` threads: through the environment (read when TensorFlow
    starts, inherited by child processes) and, if TensorFlow is loaded, its config.

    Raises RuntimeError when TensorFlow already runs with another count in this process.
    """
    for name in ENVIRONMENT:
        os.environ[name] = str(RUN_THREADS)
    if "tensorflow" not in sys.modules:
        return
    import tensorflow as tf

    threading = tf.config.threading
    try:
        threading.set_intra_op_parallelism_threads(RUN_THREADS)
        threading.set_inter_op_parallelism_threads(RUN_THREADS)
    except RuntimeError:
        configured = {threading.get_intra_op_parallelism_threads(),
                      threading.get_inter_op_parallelism_threads()}
        if configured not in ({RUN_THREADS}, {0}):
            raise RuntimeError(f"TensorFlow already runs with {sorted(configured)} threads "
                               f"in this process; runs need {RUN_THREADS}") from None
