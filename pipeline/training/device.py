"""Which device trains: the CPU's model and vector extensions, or the visible GPUs, and the
TensorFlow build. Recorded with every run, and used to refuse a precision the CPU lacks."""

from __future__ import annotations

import platform
from functools import lru_cache
from pathlib import Path

from pipeline.validation import ConfigError

CPUINFO = Path("/proc/cpuinfo")
# The x86 extensions TensorFlow's oneDNN kernels use for training, as /proc/cpuinfo names them.
VECTOR_FLAGS = ("fma", "avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
BF16_FLAGS = {"avx512_bf16", "amx_bf16"}


def cpu_fields(text: str) -> dict[str, str]:
    """The first processor's `key: value` lines of a /proc/cpuinfo text."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def read_cpuinfo() -> dict[str, str]:
    """The first processor's fields; empty off Linux."""
    try:
        return cpu_fields(CPUINFO.read_text())
    except OSError:
        return {}


def cpu_extensions(cpuinfo: dict[str, str]) -> list[str]:
    """The training-relevant vector extensions among the CPU's flags, in VECTOR_FLAGS order."""
    flags = set(cpuinfo.get("flags", "").split())
    return [flag for flag in VECTOR_FLAGS if flag in flags]


def cpu_has_bf16(cpuinfo: dict[str, str]) -> bool:
    """True when the CPU has bf16 dot products (elsewhere than Linux x86: assumed not)."""
    return bool(BF16_FLAGS & set(cpu_extensions(cpuinfo)))


def gpu_names() -> list[str]:
    """The names of the GPUs TensorFlow sees (empty on a CPU-only machine or build)."""
    import tensorflow as tf

    names = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        names.append(str(details.get("device_name", gpu.name)))
    return names


def tensorflow_build() -> str:
    """`CUDA <version>` for a CUDA build of TensorFlow, else `CPU`, with TF's version."""
    import tensorflow as tf

    info = tf.sysconfig.get_build_info()
    kind = f"CUDA {info.get('cuda_version')}" if info.get("is_cuda_build") else "CPU"
    return f"TensorFlow {tf.__version__} {kind} build"


@lru_cache(maxsize=1)
def device_info() -> dict[str, str]:
    """What this process trains on: `device` (one line), CPU, extensions, GPUs, TF build."""
    cpuinfo = read_cpuinfo()
    cpu = cpuinfo.get("model name") or platform.processor() or platform.machine()
    extensions = cpu_extensions(cpuinfo)
    gpus = gpu_names()
    if gpus:
        device = f"{len(gpus)} x GPU {', '.join(sorted(set(gpus)))}"
    else:
        device = f"CPU {cpu} ({' '.join(extensions) or 'no AVX2/AVX-512'})"
    return {"device": device, "cpu": cpu, "cpu_extensions": " ".join(extensions),
            "gpu_count": str(len(gpus)), "gpus": ", ".join(gpus) or "none",
            "tensorflow_build": tensorflow_build()}


def check_precision(precision: str) -> None:
    """Refuse `mixed_bfloat16` on a CPU without bf16 instructions (it would only emulate)."""
    if precision != "mixed_bfloat16" or device_info()["gpu_count"] != "0":
        return
    if not cpu_has_bf16(read_cpuinfo()):
        raise ConfigError(
            f"training.precision = 'mixed_bfloat16': this CPU ({device_info()['cpu']}) has no "
            f"bf16 instructions (avx512_bf16 or amx_bf16); use float32")
