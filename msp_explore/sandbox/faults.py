"""Faults on demand: the sandbox failing the way MultiSafepay's bad days do, one rule at a time.

A rule is one line. For the API (``PATH`` relative to ``/v1/json``, ``*`` standing for one path segment)::

    METHOD PATH KIND [retry_after=SECONDS] [xN | p=P]

    POST /orders status=503 x2          the next two creates answer 503 and do not happen
    GET /orders/* latency=0.5           every order GET answers half a second late
    GET /orders/* status=429 retry_after=2 p=0.3
    POST /orders after_effect x1        the next create happens, but its answer is lost

``METHOD`` is GET, POST, PATCH, PUT, DELETE or ``*`` (any). ``KIND`` is one of:

- ``latency=SECONDS``: the request waits that long (real seconds), then runs and is answered as usual;
- ``status=CODE`` (400-599): answered with MultiSafepay's error envelope, ``error_code`` 1000 for a 4xx
  and 9999 for a 5xx, the HTTP reason as ``error_info``; the request does not run. A 429 always carries
  ``Retry-After`` (1 s unless ``retry_after=SECONDS`` says otherwise; any status may set one);
- ``reset``: the connection is closed before the request runs, with no answer;
- ``stall``: no answer until the client gives up: the request is held, and its connection closed when
  the rule is cleared, the sandbox is reset or stops, after ``STALL_LIMIT`` seconds, or when more than
  ``MAX_STALLED`` requests are held at once (the oldest goes), so stalls never take every server thread;
- ``after_effect``: the request runs to completion and takes effect, then the connection is closed
  instead of answering: the case that makes blind retries dangerous.

For webhooks (``ORDER_ID`` or ``*`` for every order; an order ID with spaces cannot be named)::

    webhook ORDER_ID KIND [xN | p=P]

    webhook * duplicate                 every notification is delivered twice
    webhook order-1 delay=900 x1        order-1's next notification goes 900 s later (sandbox clock)
    webhook * out_of_order x1           the next notification waits for its order's next one, then follows it
    webhook * before_redirect           a payment page answers its redirect only after notifying

- ``delay=SECONDS``: the first attempt falls due that many seconds later on the sandbox clock (a seeded
  sandbox's clock moves only by ``advance()``);
- ``duplicate``: the notification is delivered twice, the same body each time (the second delivery's
  record says ``fault: "duplicate"``);
- ``out_of_order``: the notification is held back until its order's next notification has been sent,
  then sent after it (at the latest ``notify.OUT_OF_ORDER_HOLD`` seconds of sandbox clock later);
- ``before_redirect`` / ``after_redirect``: when the payment page is submitted, the notifications the
  payment causes are delivered (first attempt made) before the page answers with its redirect to
  ``redirect_url``, or held until that answer has gone out. Every delivery record says which happened:
  ``redirected`` is True when the page's answer had already gone out, None when no payment page was involved.

``xN`` makes a rule act N times, then expire; ``p=P`` makes it act with probability P each time it
matches, drawn from a ``random.Random`` seeded with the sandbox's seed, so a seeded run repeats. Without
either, a rule acts until it is cleared. Rules are tried in the order they were added; the first that
acts wins. The sandbox's own controls (``/v1/json/sandbox/...``) and the payment page are never faulted.
``reset()`` clears every rule and reseeds the draws.
"""

from __future__ import annotations

import random
import threading
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from flask import Blueprint, Response, current_app, request

from ..errors import ValidationError
from .store import encode
from .validate import Reject

METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE", "*")
API_KINDS = ("latency", "status", "reset", "stall", "after_effect")
WEBHOOK_KINDS = ("delay", "duplicate", "out_of_order", "before_redirect", "after_redirect")
VALUED = {"latency": "SECONDS", "status": "CODE", "delay": "SECONDS"}  # the kinds written KIND=VALUE
DROPPING = frozenset({"reset", "stall", "after_effect"})  # kinds that close the connection unanswered
MAX_LATENCY = 300.0
MAX_DELAY = 10 * 365 * 86400.0
STALL_LIMIT = 300.0  # seconds a stalled request is held at most
MAX_STALLED = 8  # requests held at once; the server has 24 threads, and the rest must keep answering
DEFAULT_RETRY_AFTER = 1
API_ROOT = "/v1/json"
SYNTAX = "a rule is 'METHOD PATH KIND [retry_after=SECONDS] [xN | p=P]' or 'webhook ORDER_ID|* KIND [xN | p=P]'"


def _refuse(problem: str, rule: str) -> ValidationError:
    return ValidationError("fault", f"{problem} (in {rule!r})")


def _number(text: str, what: str, low: float, high: float, rule: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low < value <= high:  # NaN fails too
        raise _refuse(f"{what} must be a number above {low:g} and at most {high:g}, not {text!r}", rule)
    return value


def _whole(text: str, what: str, low: int, high: int, rule: str) -> int:
    # ASCII digits only: int() would also take a sign, spaces, "1_0" and other scripts' digits
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise _refuse(f"{what} must be a whole number from {low} to {high}, not {text!r}", rule)
    return int(text)


def status_envelope(code: int) -> tuple[int, str]:
    """The ``error_code`` and ``error_info`` a ``status=CODE`` fault answers with."""
    phrase = HTTPStatus(code).phrase if code in _PHRASES else "Error"
    return (1000 if code < 500 else 9999), phrase


_PHRASES = frozenset(status.value for status in HTTPStatus)


def split_path(path: str) -> list[str]:
    """A path's segments, each unquoted once (so ``%2F`` in an order ID stays inside its segment)."""
    return [unquote(segment) for segment in path.split("/")[1:]]


def parse_rule(text: Any) -> dict[str, Any]:
    """Read one rule (see the module docstring) into a plain dict; ``ValidationError`` names what is wrong.

    The dict has ``rule`` (the text, spaces normalised), ``target`` ("api" or "webhook"), ``method``,
    ``path``, ``order_id`` (None: every order), ``kind``, ``value``, ``retry_after``, ``times`` and
    ``probability``.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("fault", f"must be a rule as text; {SYNTAX}")
    words = text.split()
    rule = " ".join(words)
    if len(words) < 3:
        raise ValidationError("fault", f"{rule!r} is too short; {SYNTAX}")
    head, where, kind_word, *options = words
    webhook = head.lower() == "webhook"
    found: dict[str, Any] = {
        "rule": rule, "target": "webhook" if webhook else "api", "method": None, "path": None, "order_id": None,
        "kind": None, "value": None, "retry_after": None, "times": None, "probability": None,
    }  # fmt: skip
    if webhook:
        found["order_id"] = None if where == "*" else where
    else:
        found["method"] = head.upper()
        if found["method"] not in METHODS:
            raise _refuse(f"METHOD {head!r} must be one of {', '.join(METHODS)} or webhook", rule)
        found["path"] = _rule_path(where, rule)
    kind, has_value, value = kind_word.partition("=")
    kind = kind.lower()
    kinds = WEBHOOK_KINDS if webhook else API_KINDS
    if kind not in kinds:
        hint = " (a webhook kind: write 'webhook ORDER_ID|* KIND')" if kind in WEBHOOK_KINDS else ""
        hint = hint or (" (an API kind: write 'METHOD PATH KIND')" if kind in API_KINDS else "")
        raise _refuse(f"KIND {kind_word!r} must be one of {', '.join(kinds)}{hint}", rule)
    if (kind in VALUED) != bool(has_value):
        raise _refuse(f"KIND {kind_word!r} is written {kind}={VALUED[kind]}" if kind in VALUED else
                      f"KIND {kind_word!r} takes no value: write {kind}", rule)  # fmt: skip
    found["kind"] = kind
    if kind == "status":
        found["value"] = _whole(value, "status=CODE", 400, 599, rule)
    elif kind in ("latency", "delay"):
        found["value"] = _number(value, f"{kind}=SECONDS", 0, MAX_LATENCY if kind == "latency" else MAX_DELAY, rule)
    for option in options:
        _read_option(option, found, rule)
    if found["kind"] == "status" and found["value"] == 429 and found["retry_after"] is None:
        found["retry_after"] = DEFAULT_RETRY_AFTER
    return found


def _rule_path(path: str, rule: str) -> str:
    if not path.startswith("/"):
        raise _refuse(f"PATH {path!r} must start with '/', e.g. /orders/*", rule)
    if path == API_ROOT or path.startswith(API_ROOT + "/"):
        raise _refuse(f"PATH {path!r} is relative to {API_ROOT}: write {path[len(API_ROOT) :] or '/'!r}", rule)
    segments = split_path(path)
    if "" in segments:
        raise _refuse(f"PATH {path!r} has an empty segment", rule)
    if segments[0] == "sandbox":
        raise _refuse(f"PATH {path!r}: the sandbox's own controls are never faulted", rule)
    return path


def _read_option(option: str, found: dict[str, Any], rule: str) -> None:
    name, has_value, value = option.partition("=")
    name = name.lower()
    if name == "retry_after" and has_value:
        if found["kind"] != "status":
            raise _refuse("retry_after=SECONDS goes only with status=CODE", rule)
        if found["retry_after"] is not None:
            raise _refuse("retry_after= is given twice", rule)
        found["retry_after"] = _whole(value, "retry_after=SECONDS (Retry-After is whole seconds)", 0, 86400, rule)
    elif (name == "p" and has_value) or (name[:1] == "x" and not has_value and name[1:].isdigit()):
        if found["times"] is not None or found["probability"] is not None:
            raise _refuse("a rule takes one xN or one p=P, not more", rule)
        if name == "p":
            found["probability"] = _number(value, "p=P (a probability)", 0, 1, rule)
        else:
            found["times"] = _whole(name[1:], "xN", 1, 10**9, rule)
    else:
        raise _refuse(f"{option!r} is not xN, p=P or retry_after=SECONDS; {SYNTAX}", rule)


class FaultRules:
    """The rules a sandbox is running with: matched against each API request and each notification.

    Thread-safe: the server's threads match requests while the controls add and clear rules.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._stalled: list[tuple[int, threading.Event]] = []  # (rule id, release), oldest first
        self.reset()

    # -- the rules --------------------------------------------------------------------------------
    def add(self, text: str) -> dict[str, Any]:
        """Parse and add a rule; returns it as ``list()`` shows it, with its ``id``."""
        rule = parse_rule(text)
        with self._lock:
            rule.update(id=self._next_id, hits=0)
            self._next_id += 1
            self._rules.append(rule)
            return _shown(rule)

    def list(self) -> list[dict[str, Any]]:
        """Every rule, oldest first, with ``hits`` (times it acted) and ``remaining`` (None: no limit)."""
        with self._lock:
            return [_shown(rule) for rule in self._rules]

    def remove(self, rule_id: int) -> bool:
        with self._lock:
            kept = [rule for rule in self._rules if rule["id"] != rule_id]
            removed, self._rules = len(kept) != len(self._rules), kept
        self.release_stalled(rule_id)
        return removed

    def clear(self) -> None:
        """Drop every rule, and close the connections of requests held by ``stall``."""
        with self._lock:
            self._rules = []
        self.release_stalled()

    def reset(self) -> None:
        """``clear()``, and start the ids and the seeded draws afresh."""
        with self._lock:
            self._rules: list[dict[str, Any]] = []
            self._next_id = 1
            self._rng = random.Random(self.seed)
        self.release_stalled()

    # -- matching -----------------------------------------------------------------------------------
    def match(self, method: str, target: str) -> dict[str, Any] | None:
        """The API rule that acts on this request (its hit counted), or None.

        ``target`` is the request target as sent (path and query, still quoted): ``/v1/json/orders/a%2Fb``.
        """
        path = target.partition("?")[0]  # not urlsplit: "//[x" would be read as a host, and refused
        if path != API_ROOT and not path.startswith(API_ROOT + "/"):
            return None
        segments = split_path(path[len(API_ROOT) :] or "/")
        if segments[:1] == ["sandbox"]:
            return None
        return self._first("api", lambda rule: rule["method"] in ("*", method.upper()) and _same(rule, segments))

    def match_webhook(self, order_id: str, kinds: tuple[str, ...]) -> dict[str, Any] | None:
        """The webhook rule of one of ``kinds`` that acts on a notification (or page) of this order, or None."""
        return self._first("webhook", lambda rule: rule["kind"] in kinds and rule["order_id"] in (None, order_id))

    def _first(self, target: str, matches: Any) -> dict[str, Any] | None:
        with self._lock:
            for rule in self._rules:
                if rule["target"] != target or not matches(rule):
                    continue
                if rule["times"] is not None and rule["hits"] >= rule["times"]:
                    continue  # expired; kept for list()
                if rule["probability"] is not None and not self._rng.random() < rule["probability"]:
                    continue
                rule["hits"] += 1
                return dict(rule)
        return None

    # -- holding requests ------------------------------------------------------------------------------
    def wait(self, seconds: float) -> None:
        """``latency``: wait, but never past the sandbox stopping."""
        self._closed.wait(seconds)

    def stall(self, rule: dict[str, Any]) -> None:
        """``stall``: hold the calling request until released (see the module docstring)."""
        held = (rule["id"], threading.Event())
        with self._lock:
            if self._closed.is_set():
                return
            self._stalled.append(held)
            oldest = self._stalled.pop(0) if len(self._stalled) > MAX_STALLED else None
        if oldest is not None:
            oldest[1].set()  # its client has most likely given up long ago
        try:
            held[1].wait(STALL_LIMIT)
        finally:
            with self._lock:
                if held in self._stalled:
                    self._stalled.remove(held)

    def release_stalled(self, rule_id: int | None = None) -> None:
        """Close the connections of the requests a stall rule (or every one) holds."""
        with self._lock:
            released = [held for held in self._stalled if rule_id in (None, held[0])]
            self._stalled = [held for held in self._stalled if held not in released]
        for _, release in released:
            release.set()

    def open(self) -> None:
        self._closed.clear()

    def close(self) -> None:
        """The sandbox is stopping: end every wait and stall at once, so none holds the server up."""
        self._closed.set()
        self.release_stalled()


def _same(rule: dict[str, Any], segments: list[str]) -> bool:
    wanted = split_path(rule["path"])
    return len(wanted) == len(segments) and all(w in ("*", s) for w, s in zip(wanted, segments, strict=True))


def _shown(rule: dict[str, Any]) -> dict[str, Any]:
    remaining = None if rule["times"] is None else max(rule["times"] - rule["hits"], 0)
    return {**rule, "remaining": remaining}


# -- the controls: GET, POST and DELETE /v1/json/sandbox/faults (nested in the API's blueprint) ---------------
fault_controls = Blueprint("sandbox_faults", __name__, url_prefix="/sandbox/faults")


def _rules() -> FaultRules:
    return current_app.config["FAULTS"]  # type: ignore[no-any-return]


def _ok(data: Any) -> Response:
    return Response(encode({"success": True, "data": data}), mimetype="application/json")


@fault_controls.get("")
def list_rules() -> Response:
    return _ok(_rules().list())


@fault_controls.post("")
def add_rule() -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("rule"), str):
        raise Reject(400, 1000, 'fault: send {"rule": "METHOD PATH KIND [xN | p=P]"}')
    try:
        return _ok(_rules().add(body["rule"]))
    except ValidationError as exc:
        raise Reject(400, 1000, str(exc)) from None


@fault_controls.delete("")
def clear_rules() -> Response:
    _rules().clear()
    return _ok({})


@fault_controls.delete("/<int:rule_id>")
def remove_rule(rule_id: int) -> Response:
    if not _rules().remove(rule_id):
        raise Reject(404, 1000, f"fault: no rule with id {rule_id}")
    return _ok({})
