"""Hold SIGINT and SIGTERM back while a finished run's record is kept and its MLflow run closed.

An interrupt between the two would leave a FINISHED MLflow run without a record, and the
resumed stage would train that run again: two FINISHED runs for one run key. Python runs
signal handlers in the main thread only, so there the block swaps the handlers for one that
notes the signal, then restores them and sends itself what arrived.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

HELD = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block has finished (main thread; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    previous = {number: signal.signal(number, lambda signum, frame: arrived.append(signum))
                for number in HELD}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        for number in dict.fromkeys(arrived):
            signal.raise_signal(number)
