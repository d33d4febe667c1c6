"""Run a server (MLflow UI, optuna-dashboard) so that stopping the lab stops all of it.

The MLflow UI starts uvicorn, a job runner and several huey consumers; killing only the
process we started would leave them holding the port. The server runs in its own session
(process group); SIGTERM or SIGINT to the lab is forwarded to the whole group, and the lab
waits until every process of the group is gone (SIGKILL after a grace period).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

STOP_GRACE_S = 15.0


def run_in_group(command: list[str], env: dict[str, str] | None = None) -> int:
    """Run `command` in a new session until it exits or the lab is interrupted.

    An interrupt (KeyboardInterrupt: SIGINT, or SIGTERM turned into one by the CLI) stops
    the whole group and returns 0.
    """
    process = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        return process.wait()
    except KeyboardInterrupt:
        stop_group(process)
        return 0


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(process: subprocess.Popen, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM the process group of `process`, wait for all of it, SIGKILL what remains."""
    group = process.pid  # start_new_session: the leader's pid is the group id
    for signal_number, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        if not group_alive(group):
            break
        try:
            os.killpg(group, signal_number)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if process.poll() is not None and not group_alive(group):
                break
            time.sleep(0.1)
    process.wait()
