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
        """Forget every order, transaction, delivery and fault rule; a seeded sandbox starts its sequence again."""
        self._call("POST", "reset")

    @property
    def faults(self) -> Faults:
        """The sandbox's fault rules: ``add(rule)``, ``list()``, ``remove(id)``, ``clear()``."""
        return Faults(self)

    def wait_for_deliveries(self, timeout: float = 10.0) -> bool:
        """Wait until every notification that is due has been attempted (later retries do not count)."""
        return self._call("POST", "deliveries/wait", json={"timeout": timeout}, wait=timeout)["idle"]  # type: ignore[no-any-return]

    def list_deliveries(self, order_id: str | None = None) -> list[dict[str, Any]]:
        """Every webhook attempt, oldest first: order_id, notification, attempt, method, url, time (sandbox
        clock), timestamp (as sent), status_code, response_body, acknowledged, error, ``retry_due`` (when
        this attempt's retry falls due on the sandbox clock; None: no retry), ``fault`` (the webhook fault
        rule that made or moved this attempt, else None) and ``redirected`` (for a payment made on the
        payment page: whether the page's redirect had gone out; None otherwise)."""
        params = {"order_id": order_id} if order_id is not None else None
        return self._call("GET", "deliveries", params=params)  # type: ignore[no-any-return]

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        """``list_deliveries()``: every webhook attempt so far."""
        return self.list_deliveries()

    def list_scenarios(self) -> list[dict[str, Any]]:
        """Every payment method's test scenarios: gateway, description, form (what the page asks for) and
        scenarios (key, label, outcome, longest_delay in seconds, typed: any other input of that form)."""
        return self._call("GET", "scenarios")  # type: ignore[no-any-return]

    def list_requests(self, order_id: str | None = None) -> list[dict[str, Any]]:
        """The API requests the sandbox answered, oldest first: method, path, order_id, status_code, time,
        received (the real unix time it arrived) and fault (the fault rule's kind that acted on it, or None;
        status_code is None when the connection was closed unanswered).

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


class Faults:
    """A sandbox's fault rules, over its control endpoints: the same for ``Sandbox.faults`` and another process.

    The rules, one line each, are described in ``msp_explore.sandbox.faults``::

        >>> faults.add("POST /orders status=503 x2")["id"]
        1
        >>> faults.add("webhook * duplicate")["remaining"] is None      # until cleared
        True
        >>> [(r["rule"], r["hits"]) for r in faults.list()]
        [('POST /orders status=503 x2', 0), ('webhook * duplicate', 0)]
        >>> faults.clear()
    """

    def __init__(self, controls: SandboxControls) -> None:
        self._controls = controls

    def __repr__(self) -> str:
        return f"<Faults of {self._controls.url}>"

    def add(self, rule: str) -> dict[str, Any]:
        """Add a rule; returns it with its ``id``, ``hits`` and ``remaining``. A bad rule raises
        ``ValidationError`` (field ``fault``) naming the part that is wrong."""
        if not isinstance(rule, str):
            raise ValidationError("fault", f"must be a rule as text, not {type(rule).__name__}")
        return self._controls._call("POST", "faults", json={"rule": rule})  # type: ignore[no-any-return]

    def list(self) -> list[dict[str, Any]]:
        """Every rule, oldest first, with ``hits`` (times it acted) and ``remaining`` (None: until cleared)."""
        return self._controls._call("GET", "faults")  # type: ignore[no-any-return]

    def remove(self, rule_id: int) -> None:
        """Remove one rule by its ``id``; an unknown id raises ``NotFoundError``."""
        self._controls._call("DELETE", f"faults/{int(rule_id)}")

    def clear(self) -> None:
        """Remove every rule; requests held by ``stall`` get their connections closed."""
        self._controls._call("DELETE", "faults")
