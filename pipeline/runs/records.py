"""Per-run result files: one JSON per variant and seed, the unit of caching and resuming.

A record is reused only when its cache key matches: the run spec, the prepared data digest
and the fingerprint of the code that trains. Anything else trains again. Beside each
finished run's JSON, `<name>.predictions.npz` (no pickles) holds the predicted and the true
class of every test image: the per-image evidence that paired comparisons use.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from pipeline.hashing import stable_hash
from pipeline.specs.recipe import TrainingRecipe
from pipeline.specs.run import RunSpec

# The code that turns a run spec and prepared data into a trained model and its scores: the
# network builder, the training function and the subset sampling. A change to any file in
# them retrains; the spec itself and the data digest are part of the key anyway.
TRAINING_CODE = ("model/shapes.py", "model/keras_builder.py", "training", "data/sampling.py")
DONE, INFEASIBLE, FAILED = "done", "infeasible", "failed"
EVIDENCE = "evidence"  # record key holding {"predicted": array, "labels": array} until written
EVIDENCE_ARRAYS = ("predicted", "labels")


def code_fingerprint() -> str:
    """sha256 of the modules that decide what a trained model is; changes retrain everything."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent.parent
    for entry in TRAINING_CODE:
        location = package / entry
        for path in sorted(location.rglob("*.py")) if location.is_dir() else [location]:
            digest.update(path.relative_to(package).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def cache_key(spec: RunSpec, data_digest: str, code_version: str) -> str:
    return stable_hash({"run": spec.model_dump(mode="json"), "data": data_digest,
                        "code": code_version}, 16)


def record_path(results_dir: Path, spec: RunSpec) -> Path:
    """`<variant>-s<seed>-t<training recipe hash>.json`: profiles with different budgets
    (default, full) keep separate results, and reverting a change finds the old ones."""
    return results_dir / f"{spec.run_key}-t{recipe_hash(spec.training)}.json"


@lru_cache(maxsize=256)  # a grid's runs share a few recipes
def recipe_hash(training: TrainingRecipe) -> str:
    return stable_hash(training.model_dump(mode="json"), 6)


def read_record(path: Path) -> dict | None:
    """A record, or None when it is absent or unreadable (a half-written file is not trusted)."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def evidence_path(path: Path) -> Path:
    """`<record>.predictions.npz` beside the record's JSON."""
    return path.with_name(f"{path.stem}.predictions.npz")


def write_record(path: Path, record: dict) -> None:
    """Atomic writes, evidence first: a killed process never leaves a half-written record, and
    a record on disk always has its predictions beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    record = dict(record)
    evidence = record.pop(EVIDENCE, None)
    if evidence is not None:
        temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        np.savez_compressed(temporary, **{name: evidence[name] for name in EVIDENCE_ARRAYS})
        temporary.replace(evidence_path(path))
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    temporary.replace(path)


def read_evidence(path: Path) -> dict[str, np.ndarray] | None:
    """The predicted and true classes stored beside record `path`, or None when absent."""
    try:
        with np.load(evidence_path(path), allow_pickle=False) as stored:
            return {name: stored[name] for name in EVIDENCE_ARRAYS}
    except (OSError, ValueError, KeyError):
        return None


def encode_evidence(evidence: dict[str, np.ndarray]) -> str:
    """The evidence as base64 text, to travel through a shared study's trial attributes."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{name: evidence[name] for name in EVIDENCE_ARRAYS})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def decode_evidence(text: str) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(base64.b64decode(text)), allow_pickle=False) as stored:
        return {name: stored[name] for name in EVIDENCE_ARRAYS}


def reusable(record: dict | None, key: str) -> bool:
    """True when a stored record answers this run: same key, and done or infeasible."""
    return bool(record) and record.get("cache_key") == key and record.get("status") in (
        DONE, INFEASIBLE)


def base_record(spec: RunSpec, key: str, data_digest: str, code_version: str) -> dict:
    """The fields every record has, whatever its status."""
    return {
        "run_key": spec.run_key,
        "variant_id": spec.variant_id,
        "name": spec.name,
        "dataset": spec.dataset,
        "seed": spec.seed,
        "spec": spec.model_dump(mode="json"),
        "params": spec.flat_params(),
        "cache_key": key,
        "data_digest": data_digest,
        "code_version": code_version,
    }
