"""SIGINT and SIGTERM as an interrupt the code can recognise after the fact.

Python raises KeyboardInterrupt wherever the main thread is when the signal arrives. Inside
TensorFlow's C++ code it can come out as another error (seen in CI: `SystemError:
__import__ returned a result with an exception set`, then a `ValueError` from tf.data), which
would record a failed run and let a local job claim the next one. The handler notes the
signal first, so `interrupted()` tells such an error from a real failure.
"""

from __future__ import annotations

import signal
import threading

_ARRIVED = threading.Event()


def interrupted() -> bool:
    """True once SIGINT or SIGTERM reached this process through `raise_interrupt`."""
    return _ARRIVED.is_set()


def raise_interrupt(signum: int, frame: object) -> None:
    """The handler: note the signal, then raise KeyboardInterrupt."""
    _ARRIVED.set()
    raise KeyboardInterrupt


def handle_interrupts() -> None:
    """SIGTERM and (unless this process was started with it ignored) SIGINT raise
    KeyboardInterrupt through `raise_interrupt`. A command starts with no interrupt noted, so
    one that ended an earlier command in this process (a test, a notebook) does not turn a
    later run's real failure into an interrupt."""
    _ARRIVED.clear()
    signal.signal(signal.SIGTERM, raise_interrupt)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, raise_interrupt)
