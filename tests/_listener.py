"""Run ``msp-explore listen`` as a real separate process and read what it prints, for tests.

Usage::

    with Listener(journal=tmp_path / "journal.sqlite", api_key=key) as listener:
        requests.post(listener.url, ...)
        listener.next_line(timeout=5)   # "12:00:01  order-1  completed  completed  verified"
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

URL_LINE = re.compile(r"Listening for notifications at (http://127\.0\.0\.1:(\d+)/webhook)$")
COMMAND = [sys.executable, "-m", "msp_explore", "listen"]


class Listener:
    """One ``msp-explore listen`` process; its stdout is read line by line by a daemon thread."""

    def __init__(
        self,
        journal: Path | None = None,
        *,
        api_key: str | None = None,
        port: int = 0,
        tolerance: float | None = None,
        env: dict[str, str] | None = None,
        stderr: Path | None = None,
    ) -> None:
        args = [*COMMAND, "--port", str(port)]
        if journal is not None:
            args += ["--journal", str(journal)]
        if api_key is not None:
            args += ["--api-key", api_key]
        if tolerance is not None:
            args += ["--tolerance", str(tolerance)]
        self.args = args
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        # stderr goes to a file, not a pipe nobody reads: a chatty child must never block on it.
        self.stderr_path = stderr
        self._stderr = open(stderr, "w") if stderr is not None else subprocess.DEVNULL
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            self.url, self.port = self._wait_for_url()
        except BaseException:
            self.kill()  # not yet handed to a with-block: nobody else would stop it
            raise

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.rstrip("\n"))
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # end of output: the process has exited

    def _wait_for_url(self, timeout: float = 20.0) -> tuple[str, int]:
        line = self.next_line(timeout)
        match = URL_LINE.match(line)
        if match is None:
            raise AssertionError(f"unexpected first line from {self.args}: {line!r}")
        return match.group(1), int(match.group(2))

    def next_line(self, timeout: float = 10.0) -> str:
        """The next line printed, waiting up to ``timeout`` seconds for it."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output within {timeout} s; so far: {self.output[-5:]}") from None
        if line is None:
            raise AssertionError(f"listener exited with {self.process.wait()}; stderr: {self.stderr()}")
        return line

    def stderr(self) -> str:
        return self.stderr_path.read_text() if self.stderr_path is not None else ""

    def terminate(self, timeout: float = 10.0) -> int:
        """Ask the process to stop (SIGTERM) and return its exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self._finish(timeout)

    def kill(self) -> int:
        """Kill the process at once (SIGKILL), the way a crash or the OOM killer would."""
        self.process.kill()
        return self._finish(10.0)

    def _finish(self, timeout: float) -> int:
        code = self.process.wait(timeout)
        self._reader.join(timeout)
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self._stderr is not subprocess.DEVNULL:
            self._stderr.close()
        return code

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process.poll() is None:
            self.kill()


def wait_until(condition: Callable[[], object], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` seconds have passed; return its last value."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            return bool(condition())
        time.sleep(interval)
    return bool(result)
