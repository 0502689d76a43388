"""``connect()``: a Client for MultiSafepay's test API when a key is set, else for this process's embedded sandbox."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .config import Settings
from .errors import ValidationError

if TYPE_CHECKING:
    from .client import Client
    from .journal import Journal
    from .sandbox import Sandbox


_sandbox: Sandbox | None = None
_sandbox_lock = threading.Lock()


def _shared_sandbox(seed: int | None) -> Sandbox:
    """The one embedded sandbox of this process, started on first use."""
    global _sandbox
    with _sandbox_lock:
        if _sandbox is None:
            from .sandbox import Sandbox

            # notifications arrive before pay() returns: a notebook shows them in the very next cell
            _sandbox = Sandbox(seed=seed, sync_notifications=True).start()
        elif _sandbox.seed != seed:
            raise ValidationError(
                "seed",
                f"this process's sandbox already runs with seed={_sandbox.seed}; "
                f"pass that seed, or start your own Sandbox(seed={seed})",
            )
        return _sandbox


def connect(*, seed: int | None = 0, journal: Journal | None = None, **kwargs: Any) -> Client:
    """A Client for MultiSafepay's test API if ``MSP_API_KEY`` is set, else for the embedded sandbox.

    With a key, ``MSP_BASE_URL`` may point elsewhere: the live API (which still needs ``allow_live=True``),
    or a sandbox run with ``msp-explore sandbox``. Without one, the process's sandbox (started on first
    use, seeded with ``seed``) serves the client. Either way, on a sandbox ``client.sandbox`` holds its
    controls; on MultiSafepay's APIs it is None. Other keywords go to ``Client``.

    Usage::

        >>> client = connect()
        >>> client
        <Client sandbox http://127.0.0.1:54321/v1/json>
    """
    from .client import Client

    settings = Settings.from_env()
    api_key = kwargs.pop("api_key", None) or settings.api_key
    if api_key:
        kwargs.setdefault("base_url", settings.base_url)
        return Client(api_key, journal=journal, **kwargs)
    if "base_url" in kwargs:
        raise ValidationError("api_key", "is required with a base_url: set MSP_API_KEY, or leave base_url out")
    sandbox = _shared_sandbox(seed)
    return Client(sandbox.api_key, base_url=sandbox.url, journal=journal, **kwargs)
