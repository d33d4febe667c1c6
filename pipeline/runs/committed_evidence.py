"""A study's evidence kept in git beside its report, so a clean clone can rebuild and audit
the committed report without training (and `train` reuses it as its run cache).

`<report dir>/evidence/` holds, for exactly the records the report was built from:
- `records.jsonl`: one record per line (the run's JSON in results/runs), sorted by file name;
- `<dataset>.npz`: `labels`, the true class of each test image (uint8), and per done record
  `<record file stem>`, its predicted class of each image (uint8); a record scored on other
  test images has its own `<stem>.labels`. Plain npy arrays in a zip (np.load with
  allow_pickle=False), written with fixed timestamps, so an unchanged study writes
  byte-identical files.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from pipeline.runs.records import (
    DONE,
    EVIDENCE,
    EvidenceError,
    evidence_problem,
    read_evidence,
    read_record,
    write_record,
    written_atomically,
)

RECORDS_FILE = "records.jsonl"
LABELS = "labels"


def evidence_dir(reports_dir: Path) -> Path:
    return reports_dir / "evidence"


def write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An npz (no pickles) with fixed timestamps, written through a temporary file."""
    with written_atomically(path) as temporary, zipfile.ZipFile(
            temporary, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w") as member:
                np.lib.format.write_array(member, np.ascontiguousarray(arrays[name]),
                                          allow_pickle=False)


def pack(paths: list[Path]) -> tuple[list[dict], dict[str, dict[str, np.ndarray]]]:
    """The records at `paths` and, per dataset, the arrays of the done ones' evidence."""
    records, arrays = [], defaultdict(dict)
    for path in sorted(set(paths), key=lambda item: item.name):
        record = read_record(path)
        if record is None:
            continue
        records.append({"file": path.name, "record": record})
        if record.get("status") != DONE:
            continue
        evidence = read_evidence(path)
        if evidence is None:
            raise ValueError(f"{evidence_problem(path)}: cannot export its evidence")
        packed = arrays[record["dataset"]]
        labels = packed.setdefault(LABELS, evidence["labels"].astype(np.uint8))
        packed[path.stem] = evidence["predicted"].astype(np.uint8)
        if not np.array_equal(labels, evidence["labels"]):
            packed[f"{path.stem}.labels"] = evidence["labels"].astype(np.uint8)
    return records, arrays


def export_evidence(paths: list[Path], folder: Path) -> int:
    """Write the evidence of the records at `paths` into `folder`, replacing what was there
    only once every new file is complete (written beside it, then swapped in): an export
    cut short by a full disk or a kill leaves the old evidence. Returns the record count."""
    records, arrays = pack(paths)
    staging = folder.with_name(f".{folder.name}.{os.getpid()}.new")
    retired = folder.with_name(f".{folder.name}.{os.getpid()}.old")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        for dataset, packed in arrays.items():
            write_arrays(staging / f"{dataset}.npz", packed)
        lines = [json.dumps(entry, sort_keys=True, separators=(",", ":")) for entry in records]
        with written_atomically(staging / RECORDS_FILE) as temporary:
            temporary.write_text("\n".join(lines) + "\n")
        if folder.exists():
            folder.rename(retired)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)
    return len(records)


def unpack(folder: Path) -> list[tuple[str, dict]]:
    """(record file name, record with its evidence) for every record in `folder`; a file
    that cannot be read is named in one line (EvidenceError), never skipped."""
    try:
        entries = [json.loads(line) for line in
                   (folder / RECORDS_FILE).read_text().splitlines() if line.strip()]
    except (OSError, ValueError) as error:
        raise EvidenceError(f"{folder / RECORDS_FILE}: unreadable ({error}); restore it with "
                            f"`git checkout -- {folder}`") from None
    stored = {}
    for path in folder.glob("*.npz"):
        try:
            with np.load(path, allow_pickle=False) as archive:
                stored[path.stem] = {name: archive[name] for name in archive.files}
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise EvidenceError(f"{path}: unreadable ({error}); restore it with `git checkout "
                                f"-- {path}`") from None
    unpacked = []
    for entry in entries:
        record, stem = dict(entry["record"]), Path(entry["file"]).stem
        if record.get("status") == DONE:
            packed = stored[record["dataset"]]
            record[EVIDENCE] = {"predicted": packed[stem],
                                "labels": packed.get(f"{stem}.labels", packed[LABELS])}
        unpacked.append((entry["file"], record))
    return unpacked


def seed_from_evidence(folder: Path, results_dir: Path) -> int:
    """Copy committed records into `results_dir` where it has none (or one whose evidence is
    unusable); a record trained here is never replaced. Returns how many were copied."""
    if not (folder / RECORDS_FILE).is_file():
        return 0
    copied = 0
    for name, record in unpack(folder):
        path = results_dir / name
        existing = read_record(path)
        if existing is None or (existing.get("status") == DONE and evidence_problem(path)):
            write_record(path, record)
            copied += 1
    return copied
