"""`python -m pipeline bench --quick` on tiny synthetic data: every section is written with
numbers, and the peak and exponent arithmetic is right."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from pipeline.bench.document import exponent
from pipeline.bench.machine import Machine, flop_per_cycle
from tests.conftest import REPO_ROOT


def test_peak_is_cores_times_clock_times_flop_per_cycle():
    assert flop_per_cycle(["fma", "avx2", "avx512f"]) == 64  # 2 FMA units x 16 lanes x 2
    assert flop_per_cycle(["fma", "avx2"]) == 32
    assert flop_per_cycle([]) == 8
    machine = Machine("Xeon", 2, 2.6, ["avx512f", "avx512_bf16"], 64, bf16=True)
    assert machine.peak_fp32 == pytest.approx(332.8)
    assert machine.peak_bf16 == pytest.approx(665.6)
    assert machine.low_precision == "mixed_bfloat16"
    assert machine.peak("mixed_bfloat16") == pytest.approx(665.6)
    old = Machine("old", 4, 3.0, ["avx2"], 32, bf16=False)
    assert old.peak_bf16 == pytest.approx(384.0) and old.low_precision is None
    gpu = Machine("Xeon", 2, 2.6, ["avx512f"], 64, bf16=True, gpus="NVIDIA H100")
    assert gpu.low_precision == "mixed_float16" and gpu.peak("float32") is None


def test_exponent_is_the_log_log_slope():
    assert exponent({1000: 2.0, 2000: 4.0, 4000: 8.0}) == pytest.approx(1.0)
    assert exponent({10: 1.0, 100: 100.0}) == pytest.approx(2.0)


@pytest.mark.slow
def test_quick_bench_writes_every_section(project, tmp_path):
    output = tmp_path / "performance.md"
    done = subprocess.run([sys.executable, "-m", "pipeline", "--params",
                           str(project.params_path), "bench", "--quick", "--output", str(output),
                           "--records", str(tmp_path / "none")],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    text = output.read_text()
    for heading in ("# Performance", "## 1. The pipeline against the seed script",
                    "## 2. Achieved GFLOP/s", "## 3. One process with all threads",
                    "## 4. Pipeline overhead", "## 5. No-op", "## 6. Training time",
                    "## Precision effect", "## GPU", "## Closing note"):
        assert heading in text, heading
    assert "--quick" in text and "- **Machine**:" in text and "tensorflow " in text
    assert re.search(r"\| seed script \| [\d,]+ \| [\d,]+ \| \d+\.\d\d \|", text)
    assert re.search(r"\| baseline CNN \| float32 \| 5\.6 \| [\d,]+ \| \d+\.\d \| \d+ \|", text)
    assert re.search(r"\| no-pooling CNN \| float32 \| 61\.3 \|", text)
    assert text.index("## 2. Achieved") < text.index("## 3. One process")
    assert re.search(r"\| mnist \| 2 \| 0\.\d{4} \| 0\.\d{4} \| [+-]0\.\d{4} \[", text)
    assert len(re.findall(r"Fitted exponent \(log-log\): \*\*-?\d+\.\d\d\*\*", text)) == 2
    assert "holds no finished run" in text
