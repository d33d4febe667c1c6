"""`python -m pipeline bench --quick` on tiny synthetic data: all seven sections are written
with numbers, the default-threads children really ran TensorFlow's default thread count, and
the peak, exponent, overhead and environment arithmetic is right."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from pipeline.bench.children import child_environment
from pipeline.bench.machine import Machine, flop_per_cycle
from pipeline.bench.overhead import GAP_S, Overhead, busy_spans, from_records, most_at_once
from pipeline.bench.scaling_document import effect_rows, exponent
from pipeline.training.threads import ENVIRONMENT
from tests.conftest import REPO_ROOT

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


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


def test_default_threads_children_lose_the_one_thread_variables(monkeypatch):
    for name in ENVIRONMENT:  # as cli.main's fix_threads leaves them
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://elsewhere:5000")
    default = child_environment()
    assert not set(ENVIRONMENT) & set(default)
    assert "MLFLOW_TRACKING_URI" not in default
    assert all(child_environment(1)[name] == "1" for name in ENVIRONMENT)
    assert str(REPO_ROOT) in default["PYTHONPATH"]


def write_record(folder, name, started, finished, fit, test):
    record = {"status": "done", "started_at": started, "finished_at": finished,
              "metrics": {"time/train_s": fit, "time/test_s": test}}
    (folder / f"{name}.json").write_text(json.dumps(record))


def test_parallel_records_give_a_positive_overhead(tmp_path):
    """Two jobs, each busy 90 s of 100 s: the runs' seconds exceed the wall time, yet the
    overhead against wall x jobs is 10%, not negative; a later stage adds its own span."""
    write_record(tmp_path, "a", 1000.0, 1100.0, 85.0, 5.0)
    write_record(tmp_path, "b", 1000.0, 1100.0, 85.0, 5.0)
    write_record(tmp_path, "c", 1100.0 + 10 * GAP_S, 1150.0 + 10 * GAP_S, 40.0, 5.0)
    found = from_records(tmp_path)
    assert (found.runs, found.jobs, found.wall_s) == (3, 2, pytest.approx(150.0))
    assert found.fit_s + found.test_s > found.wall_s
    assert found.share == pytest.approx(1 - 225.0 / 300.0)
    assert busy_spans([(0, 10), (12, 20), (20 + 2 * GAP_S, 30 + 2 * GAP_S)]) == [
        (0, 20), (20 + 2 * GAP_S, 30 + 2 * GAP_S)]
    assert most_at_once([(0, 10), (10, 20)]) == 1
    assert Overhead("x", 1, 120.0, 0.0, 100.0, 1).share == 0.0  # clocks may disagree
    assert from_records(tmp_path / "none") is None


SECTIONS = ("# Performance", "## 1. The pipeline against the seed script",
            "## 2. Achieved GFLOP/s", "## 3. One process with all threads",
            "## 4. Pipeline overhead", "## 5. No-op and one-variant-changed `dvc repro`",
            "## 6. Training time", "## 7. The train stage itself", "## Precision effect",
            "## GPU", "## Closing note")


@pytest.mark.slow
def test_quick_bench_writes_every_section(project, tmp_path):
    output = tmp_path / "performance.md"
    done = subprocess.run([sys.executable, "-m", "pipeline", "--params",
                           str(project.params_path), "bench", "--quick", "--output", str(output),
                           "--records", str(tmp_path / "none")],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    text = output.read_text()
    assert [text.index(heading) for heading in SECTIONS] == sorted(
        text.index(heading) for heading in SECTIONS)
    assert "--quick" in text and "- **Machine**:" in text and "tensorflow " in text
    default = int(re.search(r"default threads ran \*\*(\d+) intra-op threads\*\*", text)[1])
    assert default > 1 if CORES > 1 else default == 1  # cli.main's one thread did not leak
    assert "the one-thread children **1** each" in text
    assert re.search(r"\| seed script \| [\d,]+ \| [\d,]+ \| \d+\.\d\d \|", text)
    assert re.search(r"\| baseline CNN \| float32 \| 5\.6 \| [\d,]+ \| \d+\.\d \| \d+ \|", text)
    assert re.search(r"\| no-pooling CNN \| float32 \| 61\.3 \|", text)
    assert re.search(r"\| N processes x 1 thread \| [\d,]+ \| [\d,]+ \| \d+\.\d\d \|", text)
    assert re.search(r"\| mnist \| 2 \| 0\.\d{4} \| 0\.\d{4} \| [+-]0\.\d{4} \[", text)
    assert len(re.findall(r"Fitted exponent \(log-log\): \*\*-?\d+\.\d\d\*\*", text)) == 2
    assert "holds no finished run" in text
    assert re.search(r"\| B: default stage[^|]*\| \d+\.\d \| \d+ \| \d+\.\d \| \d+\.\d \|", text)
    assert 'nothing ran: "Data and pipelines are up to date"' in text
    assert re.search(r"\| one level added \| \d+\.\d \| 1 new run\(s\)", text)
    assert re.search(r"\| A \| today[^|]*\| \d+\.\d \| \d+\.\d \| 4 \| 1\.00 \|", text)
    assert re.search(r"\| B \| [^|]+\| \d+\.\d \| \d+\.\d \| 4 \| \d+\.\d\d \|", text)
    mode_a = int(re.search(r"Mode A's TensorFlow ran (\d+) intra-op threads", text)[1])
    assert mode_a > 1 if CORES > 1 else mode_a == 1
    assert re.search(r"- A / B = \*\*\d+\.\d\d\*\*: goal >= 1\.4, (met|not met)\.", text)
    assert "GPU path untested: no GPU on this machine" in text or "TensorFlow sees" in text
    assert re.search(r"share of the float32 peak: \*\*\d+% \(goal 65%: (met|not met)\)", text)


def _precision_runs(flips: int, seeds: int = 3, images: int = 10_000) -> dict:
    """float32 runs, and low-precision runs whose prediction changes on about `flips` random
    images a seed, as many right-to-wrong as wrong-to-right on average: Δ near 0, its
    interval growing with `flips`."""
    generator = np.random.default_rng(0)
    runs = {"float32": [], "mixed_bfloat16": []}
    for _ in range(seeds):
        correct = generator.random(images) < 0.9
        rate = np.where(correct, flips / 2 / correct.sum(), flips / 2 / (~correct).sum())
        changed = correct ^ (generator.random(images) < rate)
        for name, values in (("float32", correct), ("mixed_bfloat16", changed)):
            runs[name].append({"correct": values, "accuracy": float(values.mean()),
                               "samples_per_s": 1000.0})
    return runs


@pytest.mark.parametrize(("flips", "expected"), [(10, "equivalent"), (400, "undecided")])
def test_precision_verdict_reads_the_equivalence_margin(flips, expected):
    """400 changed predictions a seed give an interval wider than ±0.002 around Δ 0, whose
    large p-value once stood in for the margin and made it "equivalent"."""
    found = SimpleNamespace(effect={"mnist": _precision_runs(flips)}, low="mixed_bfloat16")
    (row,) = effect_rows(found, smallest_effect=0.002, alpha=0.05)
    low, high = (float(value) for value in re.findall(r"[-+]\d\.\d+", row[4])[1:])
    assert row[5] == expected
    assert (expected == "equivalent") == (abs(low) < 0.002 and abs(high) < 0.002)
