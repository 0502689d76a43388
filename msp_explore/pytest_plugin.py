"""A pytest plugin: the ``msp_sandbox`` fixture, for testing your own integration against the sandbox.

Installed with msp_explore (entry point ``pytest11``)::

    def test_checkout(msp_sandbox):
        my_shop.create_payment(base_url=msp_sandbox.url, api_key=msp_sandbox.api_key)
        msp_sandbox.pay("order-1", "completed")

One server runs per test session; each test starts from an empty, reseeded sandbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .sandbox import Sandbox


@pytest.fixture(scope="session")
def msp_sandbox_server() -> Iterator[Sandbox]:
    from .sandbox import Sandbox

    with Sandbox(seed=0, sync_notifications=True, retry_interval=0.2) as sandbox:
        yield sandbox


@pytest.fixture
def msp_sandbox(msp_sandbox_server: Sandbox) -> Iterator[Sandbox]:
    msp_sandbox_server.reset()
    yield msp_sandbox_server
