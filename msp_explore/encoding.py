"""The one way msp_explore writes JSON: compact, UTF-8, no ASCII escapes.

It is how MultiSafepay sends a notification body, and the form the official Python SDK re-serialises
to before it checks a signature; the sandbox answers in it too, with sorted keys so that answers repeat
byte for byte.
"""

from __future__ import annotations

import json
from typing import Any

_PLAIN = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_SORTED = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def compact_json(value: Any, *, sort_keys: bool = False) -> str:
    """``value`` as compact JSON text (``sort_keys`` for a canonical form that compares equal)."""
    return (_SORTED if sort_keys else _PLAIN).encode(value)


def compact_json_bytes(value: Any, *, sort_keys: bool = False) -> bytes:
    """``compact_json`` as UTF-8 bytes, ready to send."""
    return compact_json(value, sort_keys=sort_keys).encode()
