"""Real servers for tests, on 127.0.0.1, started and stopped by the test: PostgreSQL, MLflow."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL server binaries (the `postgresql` package .ci/run installs)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


@contextmanager
def postgres_server(databases: tuple[str, ...]):
    """A throw-away PostgreSQL cluster on 127.0.0.1; yields {database: URL}.

    Its files live in a fresh folder under the system temp dir (pytest's own folders are
    private to root, and the server runs as the `postgres` user when tests run as root).
    """
    binaries = postgres_bin()
    if binaries is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed: .ci/run must install Debian's postgresql")
        pytest.skip("PostgreSQL server binaries not found (apt-get install postgresql)")
    as_user: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="lab-postgres-"))
    data, sockets = workdir / "pgdata", workdir / "pgsock"
    sockets.mkdir(parents=True)
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(workdir, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True, cwd="/")

    run(str(binaries / "initdb"), "-D", str(data), "-U", "lab", "--auth=trust", "-E", "UTF8")
    run(str(binaries / "pg_ctl"), "-D", str(data), "-w", "-l", str(workdir / "pg.log"),
        "-o", f"-h 127.0.0.1 -p {port} -k {sockets}", "start")
    try:
        for database in databases:
            run(str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "lab",
                database)
        yield {name: f"postgresql://lab@127.0.0.1:{port}/{name}" for name in databases}
    finally:
        run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def mlflow_server(workdir: Path):
    """`mlflow server` with a SQLite backend on 127.0.0.1 (one worker); yields its URL."""
    port = free_port()
    backend = f"sqlite:///{workdir / 'mlflow-server.db'}"
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend,
               "--artifacts-destination", str(workdir / "mlflow-artifacts"),
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    log = (workdir / "mlflow-server.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.time() > deadline:
                    output = (workdir / "mlflow-server.log").read_text()
                    raise RuntimeError(f"mlflow server did not start: {output}") from None
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
