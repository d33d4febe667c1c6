"""A local job stops when the train stage that started it is gone (kill -9, say).

The stage starts each job in its own process group, so a SIGKILL of the stage alone would
leave its jobs training and writing records beside the next, resumed stage. The stage names
itself in `PARENT_ENV`; the job checks once a second that it is still its parent and, if not,
sends itself SIGTERM, which the CLI turns into an interrupt: the job's MLflow run ends KILLED.
"""

from __future__ import annotations

import os
import signal
import threading

PARENT_ENV = "CNN_LAB_JOB_PARENT"
CHECK_S = 1.0


def watch_parent() -> None:
    """If `PARENT_ENV` names a pid, stop this process once its parent is no longer that pid."""
    parent = os.environ.get(PARENT_ENV)
    if not parent:
        return

    def check() -> None:
        while not stopped.wait(CHECK_S):
            if os.getppid() != int(parent):
                os.kill(os.getpid(), signal.SIGTERM)
                return

    stopped = threading.Event()
    threading.Thread(target=check, name="parent-watch", daemon=True).start()
