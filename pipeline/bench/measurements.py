"""Everything one benchmark run measured, as one object the document's sections render."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from statistics import median

from pipeline.bench.cases import Sizes
from pipeline.bench.machine import Machine
from pipeline.bench.measure import Speeds
from pipeline.bench.overhead import Overhead
from pipeline.bench.repro import ReproTimes
from pipeline.bench.stage import StageTimes


@dataclass(frozen=True)
class Measurements:
    """The machine, the sizes, and every case's numbers; `records` is `--records`' stage."""

    command: str
    machine: Machine
    sizes: Sizes
    precisions: tuple[str, ...]  # float32, then the low precision when there is one
    speeds: Speeds
    scaling: dict[str, dict[int, float]]
    effect: dict
    effect_recipe: str
    stage: StageTimes
    repro: ReproTimes
    records_dir: Path | None
    records: Overhead | None
    seconds: float

    @property
    def low(self) -> str | None:
        return self.precisions[1] if len(self.precisions) > 1 else None

    def speed(self, case: str) -> float:
        """The median over rounds of a speed case's samples/s."""
        return median(self.speeds.rounds[case])

    def default_threads(self) -> int | None:
        """The fewest intra-op threads a default-threads child really ran with."""
        counts = [seen["pool"] for seen in self.speeds.threads.get("default", [])
                  if seen.get("pool") is not None]
        return min(counts) if counts else None

    def one_threads(self) -> int | None:
        """The most intra-op threads a one-thread child really ran with."""
        counts = [seen["pool"] for seen in self.speeds.threads.get("one", [])
                  if seen.get("pool") is not None]
        return max(counts) if counts else None
