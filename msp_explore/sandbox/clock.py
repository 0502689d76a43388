"""Sandbox time: what timestamps read, and when delayed outcomes happen."""

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

    def now(self) -> datetime:
        elapsed = 0.0 if self.frozen else time.monotonic() - self._mono
        return self._start + timedelta(seconds=elapsed + self._offset)

    def stamp(self) -> str:
        """The API's timestamp format: ``2021-12-07T15:56:32``, no zone."""
        return self.now().strftime("%Y-%m-%dT%H:%M:%S")

    def unix(self) -> int:
        return int(self.now().replace(tzinfo=timezone.utc).timestamp())

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
