"""The machine a benchmark ran on and its estimated peak: cores x GHz x FLOP per cycle.

FLOP per cycle per core counts fused multiply-adds on float32: 32 with AVX-512 (two 16-lane
FMAs), 16 with AVX2 + FMA, else 8. A CPU with AVX512_BF16 or AMX doubles that for bf16 dot
products; without them bf16 has no faster peak than float32.
"""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata

from pipeline.training.device import cpu_extensions, cpu_has_bf16, device_info, read_cpuinfo

PACKAGES = ("tensorflow", "keras", "numpy", "mlflow", "optuna", "dvc")


@dataclass(frozen=True)
class Machine:
    """The CPU as lscpu and /proc/cpuinfo describe it, with its float32 and bf16 peaks."""

    model: str
    cores: int
    ghz: float
    extensions: list[str]
    flop_per_cycle: int
    bf16: bool

    @property
    def peak_fp32(self) -> float:
        """GFLOP/s."""
        return self.cores * self.ghz * self.flop_per_cycle

    @property
    def peak_bf16(self) -> float:
        return self.peak_fp32 * (2 if self.bf16 else 1)


def lscpu_mhz() -> float | None:
    """`CPU max MHz` from lscpu (None when lscpu is missing or does not say)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "CPU max MHz" and value.strip():
            return float(value)
    return None


def flop_per_cycle(extensions: list[str]) -> int:
    if "avx512f" in extensions:
        return 32
    return 16 if {"avx2", "fma"} <= set(extensions) else 8


def this_machine() -> Machine:
    """This machine; the clock is lscpu's maximum, else /proc/cpuinfo's current MHz."""
    cpuinfo = read_cpuinfo()
    mhz = lscpu_mhz() or float(cpuinfo.get("cpu MHz") or 0.0)
    extensions = cpu_extensions(cpuinfo)
    return Machine(model=device_info()["cpu"], cores=os.cpu_count() or 1, ghz=mhz / 1000,
                   extensions=extensions, flop_per_cycle=flop_per_cycle(extensions),
                   bf16=cpu_has_bf16(cpuinfo))


def versions_text() -> str:
    found = []
    for package in PACKAGES:
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return f"Python {platform.python_version()}, " + ", ".join(found)
