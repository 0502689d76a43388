"""Learn, test and analyse a MultiSafepay payments integration from Jupyter, offline by default."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import ApiError, AuthenticationError, MspError, NotFoundError, SignatureError, ValidationError
from .webhooks import sign_notification, verify_notification

if TYPE_CHECKING:
    from . import widgets
    from .client import Client, connect
    from .frames import OrderFrames, load_orders, order_frames
    from .journal import Journal
    from .receiver import WebhookReceiver
    from .sandbox import Sandbox
    from .scenarios import run_scenarios
    from .tutorial import fresh_order_id, tutorial_order
    from .webhook_check import WebhookReport, check_webhook

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "AuthenticationError",
    "Client",
    "Journal",
    "MspError",
    "NotFoundError",
    "OrderFrames",
    "Sandbox",
    "SignatureError",
    "ValidationError",
    "WebhookReceiver",
    "WebhookReport",
    "__version__",
    "check_webhook",
    "connect",
    "fresh_order_id",
    "load_orders",
    "order_frames",
    "run_scenarios",
    "sign_notification",
    "tutorial_order",
    "verify_notification",
    "widgets",
]

# Flask, pandas and ipywidgets are imported only when their parts are used, so `import msp_explore` stays quick.
_LAZY = {
    "Client": "client",
    "connect": "client",
    "Journal": "journal",
    "OrderFrames": "frames",
    "load_orders": "frames",
    "order_frames": "frames",
    "run_scenarios": "scenarios",
    "Sandbox": "sandbox",
    "WebhookReceiver": "receiver",
    "fresh_order_id": "tutorial",
    "tutorial_order": "tutorial",
    "WebhookReport": "webhook_check",
    "check_webhook": "webhook_check",
}


def __getattr__(name: str) -> Any:
    if name == "widgets":
        return importlib.import_module(".widgets", __name__)
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'msp_explore' has no attribute {name!r}")
