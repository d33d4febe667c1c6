"""Peak resident memory of this process while a block runs, sampled from /proc."""

from __future__ import annotations

import os
import resource
import threading
from pathlib import Path

STATM = Path("/proc/self/statm")


def current_rss_mb() -> float:
    """Resident set size now, in MiB (falls back to the lifetime peak off Linux)."""
    try:
        pages = int(STATM.read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PeakMemory:
    """Context manager: `peak_mb` is the highest RSS seen while the block ran."""

    def __init__(self, interval_s: float = 0.05):
        self.interval_s = interval_s
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, current_rss_mb())
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakMemory:
        self.peak_mb = current_rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, current_rss_mb())
