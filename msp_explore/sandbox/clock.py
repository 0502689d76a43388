"""Sandbox time: what order timestamps read, and when delayed outcomes, expiry and webhook retries happen.

This is the sandbox's one logical clock. What goes on the wire for a receiver to check against its own
clock (a notification's ``Auth`` timestamp and ``timestamp`` parameter) is the real time of sending,
never this clock: a seeded sandbox's orders repeat exactly, while its signatures verify today.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

SEEDED_START = datetime(2026, 1, 1, 12, 0, 0)


class Clock:
    """A clock that follows the wall clock, or stands still (seeded sandboxes) until ticked or advanced.

    A frozen clock makes every timestamp repeatable: it starts at ``start`` and moves one second per
    state change (``tick``) and by whatever ``advance`` adds.
    """

    def __init__(self, start: datetime | None = None, *, frozen: bool = False) -> None:
        self.frozen = frozen
        self._start = start or datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
        self._mono = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def seconds(self) -> float:
        """Seconds this clock has moved since it started (or was reset): what timers are scheduled on."""
        elapsed = 0.0 if self.frozen else time.monotonic() - self._mono
        return elapsed + self._offset

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.seconds())

    def stamp(self) -> str:
        """The API's timestamp format: ``2021-12-07T15:56:32``, no zone."""
        return self.now().strftime("%Y-%m-%dT%H:%M:%S")

    def stamp_at(self, seconds: float) -> str:
        """``stamp()`` for the moment this clock reads ``seconds`` (see ``seconds()``)."""
        return (self._start + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def tick(self) -> None:
        if self.frozen:
            self.advance(1)

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0
            self._mono = time.monotonic()
