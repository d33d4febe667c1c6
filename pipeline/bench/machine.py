"""The machine a benchmark ran on and its estimated peak: cores x GHz x FLOP per cycle.

FLOP per cycle per core counts 2 FLOP per fused multiply-add, as `count_flops` counts 2 per
multiply-accumulate, on float32: 64 with AVX-512 (two 16-lane FMA units, as Xeon Gold,
Platinum and later server cores have; one-unit parts reach half), 32 with AVX2 + FMA (two
8-lane units), else 8. The bf16 peak doubles it where the CPU has AVX512_BF16 (VDPBF16PS
multiplies 32 bf16 pairs into 16 float32 sums per 512-bit instruction, twice an FMA's 16)
or AMX; AMX tiles (TDPBF16PS) go further, 1,024 bf16 FLOP per cycle and core by Intel's
figure, 8x this estimate, so a share of the bf16 peak above 100% is possible where oneDNN
uses them. Without bf16 instructions bf16 has no faster peak than float32.
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
    gpus: str = ""  # the GPUs TensorFlow sees, by name; empty on a CPU-only machine
    clock: str = "lscpu's CPU max MHz"

    @property
    def peak_fp32(self) -> float:
        """GFLOP/s."""
        return self.cores * self.ghz * self.flop_per_cycle

    @property
    def peak_bf16(self) -> float:
        return self.peak_fp32 * (2 if self.bf16 else 1)

    @property
    def low_precision(self) -> str | None:
        """What the benchmark measures beside float32: mixed_float16 where TensorFlow sees a
        GPU, mixed_bfloat16 on a CPU with bf16 instructions, else nothing."""
        if self.gpus:
            return "mixed_float16"
        return "mixed_bfloat16" if self.bf16 else None

    def peak(self, precision: str) -> float | None:
        """The CPU peak a precision's GFLOP/s compare with; None for a GPU's (unknown)."""
        if self.gpus:
            return None
        return self.peak_fp32 if precision == "float32" else self.peak_bf16


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
    """float32 FLOP per cycle and core: 2 per FMA, two FMA units (see the module's notes)."""
    if "avx512f" in extensions:
        return 64
    return 32 if {"avx2", "fma"} <= set(extensions) else 8


def this_machine() -> Machine:
    """This machine; the clock is lscpu's maximum, else /proc/cpuinfo's current MHz."""
    cpuinfo = read_cpuinfo()
    listed = lscpu_mhz()
    mhz = listed or float(cpuinfo.get("cpu MHz") or 0.0)
    extensions = cpu_extensions(cpuinfo)
    device = device_info()
    return Machine(model=device["cpu"], cores=os.cpu_count() or 1, ghz=mhz / 1000,
                   extensions=extensions, flop_per_cycle=flop_per_cycle(extensions),
                   bf16=cpu_has_bf16(cpuinfo),
                   gpus=device["gpus"] if device["gpu_count"] != "0" else "",
                   clock="lscpu's CPU max MHz" if listed else "/proc/cpuinfo's cpu MHz: lscpu "
                   "gives no maximum, and a turbo clock would raise the peak")


def versions_text() -> str:
    found = []
    for package in PACKAGES:
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return f"Python {platform.python_version()}, " + ", ".join(found)
