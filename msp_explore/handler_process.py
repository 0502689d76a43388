"""Run a webhook handler script in its own process, as a shop runs its own: for grading it with check_webhook.

The script is started with ``--port 0 --api-key KEY [--sandbox URL]`` and must print a line
``Serving on http://HOST:PORT/PATH`` once it listens (the examples in ``examples/webhook_handlers/`` do),
and stop on SIGTERM.

Usage::

    >>> with HandlerProcess("examples/webhook_handlers/correct.py", api_key, sandbox=sandbox.url) as handler:
    ...     check_webhook(handler.url, api_key, sandbox=sandbox.url, probe=handler.probe).passed
    True
"""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from .errors import MspError

SERVING = re.compile(r"Serving on (https?://\S+)")
START_TIMEOUT = 30.0  # seconds for the script to import Flask and listen, on a busy machine


class HandlerProcess:
    """A handler script running as a separate process; ``.url`` is its webhook URL, ``.probe`` its status URL."""

    def __init__(
        self,
        script: str | Path,
        api_key: str,
        *,
        sandbox: str | None = None,
        port: int = 0,
        args: Sequence[str] = (),
        timeout: float = START_TIMEOUT,
    ) -> None:
        self.script = Path(script)
        command = [sys.executable, str(self.script), "--port", str(port), "--api-key", api_key, *args]
        if sandbox is not None:
            command += ["--sandbox", str(getattr(sandbox, "url", sandbox))]
        # stderr goes to a file, not a pipe nobody reads: a chatty handler must never block on it
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name=f"stdout of {self.script.name}", daemon=True)
        self._reader.start()
        try:
            self.url = self._wait_for_url(timeout)
        except BaseException:
            self.stop()
            raise
        parts = urlsplit(self.url)
        self.probe = f"{parts.scheme}://{parts.netloc}/status"

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:  # read to the end, so the handler never blocks on a full pipe
            self.output.append(line.rstrip("\n"))
            self._lines.put(line)
        self._lines.put(None)

    def _wait_for_url(self, timeout: float) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise MspError(f"{self.script.name} did not say where it listens within {timeout:g} s") from None
        match = SERVING.search(line or "")
        if match is None:
            code = self.process.wait(10) if line is None else None
            said = "exited with " + str(code) if line is None else f"printed {line.strip()!r}"
            raise MspError(f"{self.script.name} {said} instead of 'Serving on URL': {self.stderr()[-300:]}")
        return match.group(1)

    def stderr(self) -> str:
        """What the handler wrote to stderr so far (its errors and warnings); empty once it is stopped."""
        if self._stderr.closed:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", errors="replace")

    def stop(self, timeout: float = 10.0) -> int:
        """Send SIGTERM, wait for the handler to exit, and return its exit code (killed if it will not stop)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self._reader.join(timeout)  # the handler has exited: its stdout ends
        if self.process.stdout is not None and not self._reader.is_alive():
            self.process.stdout.close()
        self._stderr.close()
        return self.process.returncode

    def __enter__(self) -> HandlerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = getattr(self, "url", "starting") if self.process.poll() is None else f"exited {self.process.returncode}"
        return f"<HandlerProcess {self.script.name} {state}>"
