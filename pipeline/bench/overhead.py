"""Stage overhead from an existing run's records: wall time against fit + test inference."""

from __future__ import annotations

from pathlib import Path

from pipeline.runs.records import DONE, read_record


def stage_overhead(records_dir: Path) -> dict[str, float] | None:
    """Sum of fit and test seconds, the runs' own wall time, and the span from the first
    run's start to the last one's end; None when the folder has no finished run."""
    records = [read_record(path) for path in sorted(records_dir.glob("*.json"))]
    done = [record for record in records if record and record.get("status") == DONE
            and record.get("started_at") is not None]
    if not done:
        return None
    fit = sum(record["metrics"]["time/train_s"] for record in done)
    test = sum(record["metrics"].get("time/test_s", 0.0) for record in done)
    runs = sum(record["finished_at"] - record["started_at"] for record in done)
    span = max(r["finished_at"] for r in done) - min(r["started_at"] for r in done)
    return {"runs": float(len(done)), "fit_s": fit, "test_s": test, "run_wall_s": runs,
            "span_s": span,
            "test_recorded": float(sum("time/test_s" in r["metrics"] for r in done))}
