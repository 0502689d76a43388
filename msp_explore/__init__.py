"""Learn, test and analyse a MultiSafepay payments integration from Jupyter, offline by default."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ApiError, AuthenticationError, MspError, NotFoundError, SignatureError, ValidationError
from .webhooks import sign_notification, verify_notification

if TYPE_CHECKING:
    from .client import Client, connect
    from .sandbox import Sandbox

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "AuthenticationError",
    "Client",
    "MspError",
    "NotFoundError",
    "Sandbox",
    "SignatureError",
    "ValidationError",
    "__version__",
    "connect",
    "sign_notification",
    "verify_notification",
]


def __getattr__(name: str) -> Any:
    # Flask and pandas are imported only when their parts are used, so `import msp_explore` stays quick.
    if name == "Sandbox":
        from .sandbox import Sandbox

        return Sandbox
    if name in ("Client", "connect"):
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module 'msp_explore' has no attribute {name!r}")
