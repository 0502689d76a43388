"""Shared fixtures: a real sandbox server per session, emptied before each test, and a clean environment."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from msp_explore.client import Client
from msp_explore.sandbox import Sandbox
from msp_explore.tutorial import TUTORIAL_ORDER

__all__ = ["TUTORIAL_ORDER", "notifying_order", "reference"]

# Copies of MultiSafepay's published material, kept in the repository (tests/reference/README.md says where from).
REFERENCE = Path(__file__).resolve().parent / "reference"


def reference(*parts: str) -> Path:
    """A file or folder under tests/reference; a missing one fails the test, here as in CI."""
    path = REFERENCE.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"reference material missing: {path} (see tests/reference/README.md)")
    return path


def notifying_order(url: str, order_id: str = "my-order-id-1", method: str = "POST") -> dict[str, Any]:
    """The tutorial's create-order request, for ``order_id``, with its notifications sent to ``url``."""
    body = copy.deepcopy(TUTORIAL_ORDER)
    body["order_id"] = order_id
    body["payment_options"].update(notification_url=url, notification_method=method)
    return body


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach the real API or pick up a developer's journal."""
    for name in list(os.environ):
        if name.startswith("MSP_"):
            monkeypatch.delenv(name)


@pytest.fixture
def sandbox(msp_sandbox: Sandbox) -> Iterator[Sandbox]:
    """The plugin's seeded sandbox (sync notifications, retries every 0.2 s), emptied before and after."""
    yield msp_sandbox
    msp_sandbox.reset()


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[Client]:
    """A client for the sandbox, as ``connect()`` makes one (``.sandbox`` holds its controls)."""
    with Client(sandbox.api_key, base_url=sandbox.url) as client:
        yield client


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[requests.Session]:
    """A plain requests session authenticated against the sandbox (header auth), base URL in ``api.base``."""
    with requests.Session() as session:
        session.headers["api_key"] = sandbox.api_key
        session.base = sandbox.url  # type: ignore[attr-defined]
        yield session
