"""Keeping the API key out of everything a request leaves behind: errors, responses, messages.

The key only ever travels in the ``api_key`` header, never in a URL. Still, requests keeps the prepared
request (headers included) on every response and error, and an error page may echo what it was sent;
these functions take the key out of both, as a second lock.
"""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import requests

REDACTED = "[redacted]"


def scrub(prepared: requests.PreparedRequest | None) -> None:
    """Take the key out of a request that a response or an error keeps a reference to."""
    if prepared is not None and "api_key" in prepared.headers:
        prepared.headers["api_key"] = REDACTED


def _forms(key: str) -> tuple[str, ...]:
    return tuple({key, quote(key, safe=""), quote_plus(key)} - {""})


def redact(text: str, key: str) -> str:
    """``text`` with the key, in every form a URL or a form body could carry it, replaced."""
    for form in _forms(key):
        text = text.replace(form, REDACTED)
    return text


def redacted_error(exc: requests.RequestException, key: str) -> requests.RequestException | None:
    """A copy of ``exc`` without the key if its message (or a chained one) shows it, else None."""
    chained: BaseException | None = exc
    seen: set[int] = set()
    while chained is not None and id(chained) not in seen:
        seen.add(id(chained))
        if any(form in f"{chained!s} {chained!r}" for form in _forms(key)):
            return type(exc)(redact(str(exc), key), response=exc.response)
        chained = chained.__cause__ or chained.__context__
    return None
