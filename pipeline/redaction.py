"""Credentials out of sight: every URL the lab shows goes through `redact` first.

Store URLs carry passwords (`postgresql://user:secret@host/db`, `http://user:secret@host`);
messages, logs, MLflow params and tags, reports and study attributes show them as
`user:***@host` instead.
"""

from __future__ import annotations

import re

# scheme://user:password@  -> the password is everything between the first ':' and the '@'
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)(?P<secret>[^@\s/]*)@")
MASK = "***"


def redact(text: object) -> str:
    """`text` with the password of every URL in it replaced by `***`."""
    return _USERINFO.sub(lambda match: f"{match['head']}{MASK}@", str(text))


def is_redacted(url: str) -> bool:
    """True when `url` was redacted (its password is the mask)."""
    return f":{MASK}@" in url


def redact_log_records() -> None:
    """Mask passwords in every log record this process emits (MLflow, SQLAlchemy, Optuna)."""
    import contextlib
    import logging

    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "redacts", False):
        return

    def redacting_factory(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        with contextlib.suppress(TypeError, ValueError):  # malformed messages stay as they are
            record.msg, record.args = redact(record.getMessage()), ()
        return record

    redacting_factory.redacts = True
    logging.setLogRecordFactory(redacting_factory)
