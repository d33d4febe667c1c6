"""Per-run result files: one JSON per variant and seed, the unit of caching and resuming.

A record is reused only when its cache key matches: the run spec, the prepared data digest
and the fingerprint of the code that trains. Anything else trains again. Beside each
finished run's JSON, `<name>.predictions.npz` (no pickles) holds the predicted and the true
class of every test image: the per-image evidence that paired comparisons use.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
from rich.markup import escape

from pipeline.hashing import stable_hash
from pipeline.progress import console
from pipeline.specs.recipe import TrainingRecipe
from pipeline.specs.run import RunSpec
from pipeline.validation import user_error

# The code that turns a run spec and prepared data into a trained model and its scores: the
# layer plan and its Keras builder, the training function, its inputs, thread count and test
# scoring, and the subset sampling. A change to any of these files retrains; the spec itself
# and the data digest are part of the key anyway. What only measures or describes a run
# (training/device.py, training/memory.py) is left out, so editing it keeps every result.
TRAINING_CODE = ("model/shapes.py", "model/keras_builder.py", "training/train.py",
                 "training/inputs.py", "training/threads.py", "training/scoring.py",
                 "data/sampling.py")
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
    return stable_hash({"run": spec.identity(), "data": data_digest,
                        "code": code_version}, 16)


@user_error
class EvidenceError(ValueError):
    """Stored predictions the report cannot use; the message names the file and the remedy."""


RETRAIN = "run `python -m pipeline train` (or `dvc repro`) to retrain it"


@lru_cache(maxsize=256)  # a grid's runs share a few recipes
def recipe_tag(training: TrainingRecipe) -> str:
    """The training recipe's short hash that ends every record name of that recipe."""
    return stable_hash(training.identity(), 6)


def record_id(spec: RunSpec) -> str:
    """`<variant>-s<seed>-t<training recipe hash>`: one run of one recipe, the stem of its
    record. The run key alone repeats where a reference trains a grid network and seed with
    its own recipe, so a plan, an ETA or a count keys runs by this."""
    return f"{spec.run_key}-t{recipe_tag(spec.training)}"


def record_path(results_dir: Path, spec: RunSpec) -> Path:
    """`<record id>.json`: profiles with different budgets (default, full) keep separate
    results, and reverting a change finds the old ones."""
    return results_dir / f"{record_id(spec)}.json"


def require_evidence(results_dir: Path, training: TrainingRecipe) -> None:
    """Stop with one line naming the first done record of `training` whose predictions are
    missing or unreadable, rather than letting its comparisons silently lose it."""
    problems = [problem for path in sorted(results_dir.glob(f"*-t{recipe_tag(training)}.json"))
                if (read_record(path) or {}).get("status") == DONE
                and (problem := evidence_problem(path))]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise EvidenceError(f"{problems[0]}{more}; {RETRAIN}")


_READ_LOGS: list[set[Path]] = []  # open `reads_logged` sets, innermost last


@contextmanager
def reads_logged() -> Iterator[set[Path]]:
    """Collect the path of every record read inside the block: what a report was built from,
    and so exactly what its committed evidence must hold."""
    read: set[Path] = set()
    _READ_LOGS.append(read)
    try:
        yield read
    finally:
        _READ_LOGS.pop()


def read_record(path: Path) -> dict | None:
    """A record, or None when it is absent or unreadable (a half-written file is not trusted)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    for log in _READ_LOGS:
        log.add(path)
    return record


def evidence_path(path: Path) -> Path:
    """`<record>.predictions.npz` beside the record's JSON."""
    return path.with_name(f"{path.stem}.predictions.npz")


def write_record(path: Path, record: dict) -> None:
    """Atomic writes, evidence first: a killed process or a full disk never leaves a
    half-written record, and a record on disk always has its predictions beside it.

    A finished record is never replaced by a failed one of the same cache key (a worker
    given up on after it wrote its result, a late duplicate): the finished one is kept.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    record = dict(record)
    evidence = record.pop(EVIDENCE, None)
    if record.get("status") != DONE and finished(path, record.get("cache_key")):
        return
    if evidence is not None:
        with written_atomically(evidence_path(path)) as temporary, temporary.open("wb") as file:
            np.savez_compressed(file, **{name: evidence[name] for name in EVIDENCE_ARRAYS})
    with written_atomically(path) as temporary:
        temporary.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


@user_error
class DiskFull(RuntimeError):
    """A write found no space left; the file it would have replaced is intact."""


@contextmanager
def written_atomically(path: Path) -> Iterator[Path]:
    """A temporary file beside `path` to write, renamed onto `path` when the block ends: a
    killed process, an interrupted copy or a full disk leaves the old file (or none), never a
    truncated one, and no temporary file. A full disk ends in one line naming the file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield temporary
        temporary.replace(path)
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        raise DiskFull(f"{path}: no space left on the device; it was not "
                       f"written and every stored result is intact; free space, then run "
                       f"again (finished runs are kept)") from None
    finally:
        temporary.unlink(missing_ok=True)


def finished(path: Path, key: str | None) -> bool:
    """True when `path` holds a done record of cache key `key` with usable evidence."""
    record = read_record(path)
    return bool(record) and record.get("cache_key") == key and record.get(
        "status") == DONE and evidence_problem(path) is None


def load_evidence(path: Path) -> tuple[dict[str, np.ndarray] | None, str | None]:
    """(arrays, None) for record `path`'s usable evidence, else (None, what is wrong): absent,
    not an npz, needing pickle (refused), lacking an array, or arrays of unequal length."""
    file = evidence_path(path)
    if not file.is_file():
        return None, "missing"
    try:
        with np.load(file, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in EVIDENCE_ARRAYS}
    except KeyError as error:
        return None, f"lacks the array {error}"
    except ValueError as error:
        return None, f"unreadable without pickle ({error})"
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        return None, f"not a readable npz ({type(error).__name__}: {error})"
    shapes = {name: array.shape for name, array in arrays.items()}
    if any(len(shape) != 1 for shape in shapes.values()) or len(set(shapes.values())) != 1:
        return None, f"arrays of mismatched shapes {shapes}"
    return arrays, None


def read_evidence(path: Path) -> dict[str, np.ndarray] | None:
    """The predicted and true classes stored beside record `path`, or None when unusable."""
    return load_evidence(path)[0]


def evidence_problem(path: Path) -> str | None:
    """One line naming the unusable evidence file of done record `path`, or None."""
    _, problem = load_evidence(path)
    return f"{evidence_path(path)}: {problem}" if problem else None


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


def reusable_at(path: Path, key: str) -> bool:
    """True when the record at `path` answers this run, a done one with usable evidence.

    A done record whose predictions are missing or unreadable is not reused silently: it
    trains again, and one printed line names the file.
    """
    record = read_record(path)
    if not reusable(record, key):
        return False
    problem = evidence_problem(path) if record["status"] == DONE else None
    if problem:
        console.print(f"[yellow]evidence[/] {escape(problem)}; this run trains again to "
                      "restore it", highlight=False, soft_wrap=True)
    return problem is None


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
