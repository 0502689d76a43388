"""Shared fixtures: a real sandbox server per session, emptied before each test, and a clean environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from msp_explore.sandbox import Sandbox

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
TUTORIAL_ORDER = {
    "type": "redirect",
    "order_id": "my-order-id-1",
    "gateway": "",
    "currency": "EUR",
    "amount": 1000,
    "description": "Test order description",
    "payment_options": {
        "notification_url": "https://www.example.com/client/notification?type=notification",
        "notification_method": "POST",
        "redirect_url": "https://www.example.com/client/notification?type=redirect",
        "cancel_url": "https://www.example.com/client/notification?type=cancel",
        "close_window": True,
    },
    "customer": {
        "locale": "nl_NL",
        "ip_address": "123.123.123.123",
        "first_name": "John",
        "last_name": "Doe",
        "company_name": "Test Company Name",
        "address1": "Kraanspoor",
        "house_number": "39C",
        "zip_code": "1033SC",
        "city": "Amsterdam",
        "country": "NL",
        "phone": "0208500500",
        "email": "jdoe@example.com",
        "referrer": "https://example.com",
        "user_agent": "Mozilla/5.0 (Windows NT 6.3; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/38.0",
    },
}


def reference(*parts: str) -> Path:
    """A file under ../shared/reference; in CI a missing file fails the test instead of skipping it."""
    path = REFERENCE.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"reference material missing in CI: {path}")
        pytest.skip(f"reference material not found: {path}")
    return path


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach the real API or pick up a developer's journal."""
    for name in list(os.environ):
        if name.startswith("MSP_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    with Sandbox(seed=0, sync_notifications=True, retry_interval=0.2) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Iterator[Sandbox]:
    sandbox_server.reset()
    yield sandbox_server
    sandbox_server.reset()


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[requests.Session]:
    """A plain requests session authenticated against the sandbox (header auth), base URL in ``api.base``."""
    with requests.Session() as session:
        session.headers["api_key"] = sandbox.api_key
        session.base = sandbox.url  # type: ignore[attr-defined]
        yield session
