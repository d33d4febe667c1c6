"""Reachability of the stores a command needs, checked before any training starts.

An MLflow server or database that does not answer would otherwise cost minutes of retries
and end in a traceback that shows the URL, password included. Here each store gets one
short probe and, when it fails, a one-line error naming the store with its password masked.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from base64 import b64encode
from urllib.parse import unquote, urlsplit, urlunsplit

from pipeline.redaction import redact
from pipeline.validation import ConfigError

PROBE_TIMEOUT_S = 5
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
