"""The stores a command needs: reachable (checked before any training starts) and, for a
SQLite MLflow store another process holds, a bounded wait and then one line, not a traceback.

An MLflow server or database that does not answer would otherwise cost minutes of retries
and end in a traceback that shows the URL, password included. Here each store gets one
short probe and, when it fails, a one-line error naming the store with its password masked.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from pipeline.redaction import redact
from pipeline.validation import ConfigError

PROBE_TIMEOUT_S = 5
SQLITE_PREFIX = "sqlite:///"
# MLflow's HTTP client retries 7 times with exponential backoff (about 4 minutes) by default;
# these bounds apply unless the user set the variables.
MLFLOW_HTTP_BOUNDS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
                      "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


class StoreUnreachable(ConfigError):
    """A tracking store or Optuna storage did not answer; nothing was trained."""


def bound_http_retries() -> None:
    """Cap MLflow's HTTP retries and timeout so a server lost mid-run fails in seconds."""
    for name, value in MLFLOW_HTTP_BOUNDS.items():
        os.environ.setdefault(name, value)


def first_line(error: BaseException) -> str:
    """The first non-empty line of an error, its password masked."""
    text = str(getattr(error, "orig", None) or error).strip()
    return redact(text.splitlines()[0] if text else type(error).__name__)


def check_store(url: str, what: str) -> None:
    """Probe `url` (HTTP server or SQL database); local files need no probe."""
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("http", "https"):
        probe_http(url, what)
    elif scheme.startswith(("postgresql", "mysql")):
        probe_sql(url, what)


def unreachable(what: str, url: str, reason: str) -> StoreUnreachable:
    return StoreUnreachable(f"{what} {redact(url)} is unreachable ({reason}); start it, or "
                            f"fix the URL and its credentials")


def probe_http(url: str, what: str) -> None:
    """Any HTTP answer from `<url>/health` counts as reachable (even 401 or 404)."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    plain = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/health", "", ""))
    request = urllib.request.Request(plain)
    if parts.username is not None:
        token = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        request.add_header("Authorization", f"Basic {b64encode(token.encode()).decode()}")
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_S):
            return
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise unreachable(what, url, redact(reason)) from None


def probe_sql(url: str, what: str) -> None:
    """Open and close one connection, giving up after PROBE_TIMEOUT_S seconds."""
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(
            url, connect_args={"connect_timeout": PROBE_TIMEOUT_S}, poolclass=sqlalchemy.NullPool)
    except Exception as error:  # noqa: BLE001 - a bad URL or a missing driver, said in one line
        raise unreachable(what, url, first_line(error)) from None
    try:
        with engine.connect():
            pass
    except Exception as error:  # noqa: BLE001 - every connection failure becomes one line
        raise unreachable(what, url, first_line(error)) from None
    finally:
        engine.dispose()


BUSY_WAIT_ENV, BUSY_WAIT_S = "CNN_LAB_STORE_WAIT_S", 120.0
LOCKED = "database is locked"


def busy_wait_s() -> float:
    """How long a write waits for a SQLite store another process holds ($CNN_LAB_STORE_WAIT_S)."""
    return float(os.environ.get(BUSY_WAIT_ENV) or BUSY_WAIT_S)


def _busy_timeout(connection, _record) -> None:
    import sqlite3

    if isinstance(connection, sqlite3.Connection):
        connection.execute(f"PRAGMA busy_timeout = {int(busy_wait_s() * 1000)}")


def wait_when_busy() -> None:
    """Every SQLite connection of this process (MLflow's store included) retries a locked
    database for up to `busy_wait_s()` before "database is locked", not the default 5 s."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "connect", _busy_timeout):
        event.listen(Engine, "connect", _busy_timeout)


def store_locked(error: BaseException | None) -> bool:
    """True when `error` (or an error it was raised from) is SQLite's "database is locked"."""
    while error is not None:
        if LOCKED in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def locked_store_line(uri: str) -> str:
    """The one line a command ends with when its SQLite store stayed locked past the wait."""
    return (f"MLflow tracking store {uri} stayed locked by another writer for "
            f"{busy_wait_s():.0f} s ({BUSY_WAIT_ENV}); finished runs are saved in results/runs. "
            "Run again when the other process is done, or give concurrent writers a tracking "
            "server (`mlflow server --backend-store-uri <store>`, MLFLOW_TRACKING_URI=http://...)")


@contextmanager
def store_opened(uri: str) -> Iterator[None]:
    """Hold a lock file beside a SQLite store while a client first opens it: MLflow creates
    and migrates its schema on first use, and two processes doing that at once (a sweep and
    the train stage starting together) fail with "duplicate column"."""
    if not uri.startswith(SQLITE_PREFIX):
        yield
        return
    from filelock import FileLock

    path = Path(uri.removeprefix(SQLITE_PREFIX))
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{path}.lock", timeout=busy_wait_s()):
        yield
