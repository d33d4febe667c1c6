"""Stable short hashes of JSON-able data: equal configs give equal ids on every machine."""

from __future__ import annotations

import hashlib
import json


def stable_hash(data: object, length: int = 12) -> str:
    """A short sha256 of canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]
