"""`python -m pipeline.bench.today ARGS`: `python -m pipeline ARGS` with TensorFlow's
default threads, the way the train stage ran before it fixed one thread per process.

The train-stage case (7) compares that with today's default stage. To time exactly the same
code, this launcher runs the command line itself (runpy, as `python -m pipeline` would); it
only starts TensorFlow's runtime first, in an environment without TF_NUM_INTRAOP_THREADS
(pipeline.bench.children), so TensorFlow sizes its pool to the cores, and the command's
`fix_threads` finds it running with the default count, which it accepts. A process
boundary, not an import of the command line: nothing here calls into pipeline.cli.
Prints, as its last stdout line, the threads the pool really had (pipeline.bench.threads_seen).
"""

from __future__ import annotations

import json
import runpy

from pipeline.bench.threads_seen import start_runtime


def main() -> int:
    seen = start_runtime()  # before the command's fix_threads: the pool keeps its default
    try:
        runpy.run_module("pipeline", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    print(json.dumps({"threads": seen, "exit": code}))
    return code


if __name__ == "__main__":
    raise SystemExit(main())
