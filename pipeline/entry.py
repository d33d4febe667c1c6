"""How every command runs: one-line errors for what the user can fix, signals, secrets.

`run_command` wraps a command's function for `python -m pipeline ...` and for the DVC
stage entries (pipeline/stages/): a SIGTERM stops like Ctrl-C (finished runs are kept),
passwords are masked in every log line and traceback, and a user error (one the module that
raises it registered in pipeline.validation.USER_ERRORS) ends in one line, exit status 2.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path

from rich.markup import escape

from pipeline.config import load_project
from pipeline.progress import console
from pipeline.redaction import redact, redact_log_records
from pipeline.signals import handle_interrupts
from pipeline.stores import bound_http_retries, locked_store_line, store_locked
from pipeline.validation import USER_ERRORS


def run_command(command: Callable[[], int | None], params: Path | None = None) -> int:
    """Run `command` and turn its outcome into an exit status: 0, 2 (user error, one line),
    1 (a bug: its traceback, masked) or 130 (interrupted)."""
    handle_interrupts()
    bound_http_retries()
    redact_log_records()
    try:
        return command() or 0
    except tuple(USER_ERRORS) as error:  # the modules that raise them registered them
        console.print(f"[bold red]error:[/] {escape(redact(error))}", highlight=False,
                      soft_wrap=True)
        return 2
    except Exception as error:  # noqa: BLE001 - a bug still shows its traceback, masked
        if busy_store(error, params):
            return 2
        console.print(escape(redact(traceback.format_exc())), highlight=False)
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]: finished runs are saved; run again to resume")
        return 130


def busy_store(error: Exception, params: Path | None) -> bool:
    """One line, not a SQLAlchemy traceback, when the MLflow store stayed locked."""
    if not store_locked(error):
        return False
    uri = load_project(params).tracking_uri
    console.print(f"[bold red]error:[/] {escape(redact(locked_store_line(uri)))}",
                  highlight=False, soft_wrap=True)
    return True
