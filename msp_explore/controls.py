"""The sandbox's own controls, over HTTP: what a tester does by hand on MultiSafepay's side.

Paying an order with a test scenario, moving the sandbox's clock, starting afresh, reading the webhook
deliveries it made: the sandbox serves these next to the API, under ``/v1/json/sandbox/``. Reaching them
only over HTTP means a notebook works the same with an in-process ``Sandbox`` and with
``msp-explore sandbox`` running in another terminal (or on another machine).

Usage::

    >>> controls = SandboxControls("http://127.0.0.1:8765/v1/json", "sandbox-key-not-a-secret")
    >>> controls.pay("my-order-id-1", "completed")["status"]
    'completed'
    >>> controls.advance(900)               # webhook retries, expiry and delayed outcomes fall due
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests

from .config import DEFAULT_TIMEOUT, mask_key
from .errors import ValidationError, api_error


class SandboxControls:
    """Pay, advance, reset and read deliveries of a sandbox at ``url`` (its API base, ending ``/v1/json``)."""

    def __init__(
        self, url: str, api_key: str, *, timeout: float = DEFAULT_TIMEOUT, session: requests.Session | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        self._session.trust_env = False  # a sandbox on this machine is never reached through a proxy
        self._headers = {"api_key": api_key}

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> SandboxControls:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SandboxControls {self.url} key={mask_key(self._headers['api_key'])}>"

    # -- what a tester does by hand -------------------------------------------------------------------------
    def pay(self, order_id: str, scenario: str | None = None, *, gateway: str | None = None) -> dict[str, Any]:
        """Do what submitting the payment page does, and return the order as GET would.

        ``scenario`` is the outcome ("completed", "declined", "cancelled", "expired", "uncleared"), a
        scenario name from the test page ("success", "failure"), or the test card number or IBAN to pay
        with. Without a gateway on the order, one is inferred (iDEAL by default, then the first method
        that offers the outcome). Without a scenario, a direct card order pays with the card it was created with.
        """
        body = {"scenario": scenario, "gateway": gateway}
        return self._call("POST", f"orders/{quote(order_id, safe='')}/pay", json=body)  # type: ignore[no-any-return]

    def advance(self, seconds: float) -> str:
        """Move the sandbox clock; delayed outcomes, link expiry and webhook retries that fall due happen.

        Returns the sandbox's time after the move, as the API writes times.
        """
        return self._call("POST", "advance", json={"seconds": seconds})["now"]  # type: ignore[no-any-return]

    def reset(self) -> None:
        """Forget every order, transaction and delivery; a seeded sandbox starts its sequence again."""
        self._call("POST", "reset")

    def wait_for_deliveries(self, timeout: float = 10.0) -> bool:
        """Wait until every notification that is due has been attempted (later retries do not count)."""
        return self._call("POST", "deliveries/wait", json={"timeout": timeout}, wait=timeout)["idle"]  # type: ignore[no-any-return]

    def list_deliveries(self, order_id: str | None = None) -> list[dict[str, Any]]:
        """Every webhook attempt, oldest first: order_id, attempt, method, url, time (sandbox clock),
        timestamp (as sent), status_code, response_body, acknowledged, error, and ``retries_due``
        (the sandbox-clock times of the retries still scheduled for that notification)."""
        params = {"order_id": order_id} if order_id is not None else None
        return self._call("GET", "deliveries", params=params)  # type: ignore[no-any-return]

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        """``list_deliveries()``: every webhook attempt so far."""
        return self.list_deliveries()

    def list_requests(self, order_id: str | None = None) -> list[dict[str, Any]]:
        """The API requests the sandbox answered, oldest first: method, path, order_id, status_code, time.

        What a webhook handler asked of the API (for example GET /orders/{id} after a GET notification)
        shows here. The sandbox's own control calls are not listed.
        """
        params = {"order_id": order_id} if order_id is not None else None
        return self._call("GET", "requests", params=params)  # type: ignore[no-any-return]

    # -- plumbing -------------------------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, wait: float = 0.0, **kwargs: Any) -> Any:
        response = self._session.request(
            method, f"{self.url}/sandbox/{path}", headers=self._headers, timeout=self.timeout + wait, **kwargs
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 400 and isinstance(body, dict) and ": " in str(body.get("error_info")):
            # A control's own argument was refused ("scenario: ..."): the caller's mistake, named.
            field, _, rule = str(body["error_info"]).partition(": ")
            raise ValidationError(field, rule)
        if not (200 <= response.status_code < 300 and isinstance(body, dict) and body.get("success") is True):
            raise api_error(response.status_code, body, response)
        return body["data"]
