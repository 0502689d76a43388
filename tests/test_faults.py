"""Faults on demand: each kind seen over real sockets as the real failure, by plain requests and by the client."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import notifying_order

from msp_explore.client import Client
from msp_explore.controls import SandboxControls
from msp_explore.errors import NotFoundError, ValidationError
from msp_explore.journal import Journal
from msp_explore.receiver import WebhookReceiver
from msp_explore.sandbox import Sandbox
from msp_explore.sandbox.faults import MAX_STALLED
from msp_explore.sandbox.notify import OUT_OF_ORDER_HOLD

ENVELOPE_KEYS = {"success", "data", "error_code", "error_info"}


def url(api: requests.Session, path: str) -> str:
    return f"{api.base}{path}"  # type: ignore[attr-defined]


def create(api: requests.Session, order_id: str, hook: str = "http://127.0.0.1:9/hook") -> requests.Response:
    return api.post(url(api, "/orders"), json=notifying_order(hook, order_id), timeout=10)


def until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def hits(sandbox: Sandbox) -> list[int]:
    return [rule["hits"] for rule in sandbox.faults.list()]


# -- status -----------------------------------------------------------------------------------------------
def test_status_answers_msp_error_envelope_and_429_carries_retry_after(
    sandbox: Sandbox, api: requests.Session
) -> None:
    sandbox.faults.add("GET /orders/* status=429 x1")
    sandbox.faults.add("GET /gateways status=503 retry_after=7 x1")
    limited = api.get(url(api, "/orders/anything"), timeout=10)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"  # a 429 always says when
    assert limited.json() == {"success": False, "data": {}, "error_code": 1000, "error_info": "Too Many Requests"}
    down = api.get(url(api, "/gateways"), timeout=10)
    assert (down.status_code, down.headers["Retry-After"]) == (503, "7")
    assert down.headers["Content-Type"] == "application/json"
    assert down.json() == {"success": False, "data": {}, "error_code": 9999, "error_info": "Service Unavailable"}
    # spent: the real answers come back
    assert api.get(url(api, "/orders/anything"), timeout=10).json()["error_code"] == 1006
    assert api.get(url(api, "/gateways"), timeout=10).status_code == 200


def test_a_status_fault_stops_the_request_from_running(sandbox: Sandbox, api: requests.Session) -> None:
    sandbox.faults.add("POST /orders status=503 x2")
    answers = [create(api, "f-1") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [503, 503, 200]
    assert "Retry-After" not in answers[0].headers  # only a 429 gets one unasked
    assert api.get(url(api, "/orders/f-1"), timeout=10).status_code == 200
    [rule] = sandbox.faults.list()
    assert (rule["hits"], rule["remaining"], rule["times"]) == (2, 0, 2)


def test_rules_expire_after_n_and_without_a_count_hold_until_cleared(sandbox: Sandbox, api: requests.Session) -> None:
    sandbox.faults.add("GET /gateways status=500 x3")
    assert [api.get(url(api, "/gateways"), timeout=10).status_code for _ in range(5)] == [500, 500, 500, 200, 200]
    sandbox.faults.clear()
    standing = sandbox.faults.add("GET /gateways status=502")
    assert standing["remaining"] is None
    assert {api.get(url(api, "/gateways"), timeout=10).status_code for _ in range(10)} == {502}
    assert hits(sandbox) == [10]
    sandbox.faults.clear()
    assert sandbox.faults.list() == []
    assert api.get(url(api, "/gateways"), timeout=10).status_code == 200


def test_star_is_one_segment_and_rules_go_in_order(sandbox: Sandbox, api: requests.Session) -> None:
    sandbox.faults.add("* /orders/* status=500")  # any method
    sandbox.faults.add("GET /orders/* status=502")  # never reached: the first rule that acts wins
    assert api.get(url(api, "/orders/a%2Fb"), timeout=10).status_code == 500  # a%2Fb is one segment
    assert api.patch(url(api, "/orders/x"), json={}, timeout=10).status_code == 500
    assert api.get(url(api, "/orders/a/b"), timeout=10).json()["error_code"] == 1006  # two segments: no match
    assert create(api, "f-2").status_code == 200  # /orders has no second segment
    assert hits(sandbox) == [2, 0]


def test_the_sandbox_controls_are_never_faulted(sandbox: Sandbox, api: requests.Session) -> None:
    sandbox.faults.add("* /* status=503")
    sandbox.faults.add("* /*/* reset")
    sandbox.faults.add("* /*/*/* stall")
    assert api.get(url(api, "/gateways"), timeout=10).status_code == 503
    for path in ("/sandbox/deliveries", "/sandbox/requests", "/sandbox/faults"):
        assert api.get(url(api, path), timeout=10).status_code == 200, path
    assert sandbox.deliveries == []
    sandbox.faults.clear()


# -- latency, reset, stall --------------------------------------------------------------------------------
def test_latency_makes_a_hasty_client_time_out_and_a_patient_one_wait(sandbox: Sandbox, api: requests.Session) -> None:
    sandbox.faults.add("GET /gateways latency=1")
    with pytest.raises(requests.ReadTimeout):
        api.get(url(api, "/gateways"), timeout=0.2)
    started = time.monotonic()
    answer = api.get(url(api, "/gateways"), timeout=10)
    assert answer.status_code == 200 and answer.json()["success"] is True
    assert time.monotonic() - started >= 1  # the answer came, late: a lower bound, not a speed target
    assert [r["fault"] for r in sandbox.controls.list_requests()][-2:] == ["latency", "latency"]


def test_reset_is_a_connection_error_and_the_request_never_ran(sandbox: Sandbox, api: requests.Session) -> None:
    sandbox.faults.add("POST /orders reset x1")
    with pytest.raises(requests.ConnectionError):
        create(api, "f-3")
    assert api.get(url(api, "/orders/f-3"), timeout=10).status_code == 404
    assert create(api, "f-3").status_code == 200
    [dropped, made, *_] = [r for r in sandbox.controls.list_requests() if r["method"] == "POST"]
    assert (dropped["status_code"], dropped["fault"]) == (None, "reset")
    assert (made["status_code"], made["fault"]) == (200, None)


def test_stall_answers_nothing_until_the_client_gives_up(sandbox: Sandbox, api: requests.Session) -> None:
    sandbox.faults.add("GET /orders/* stall")
    with pytest.raises(requests.ReadTimeout):
        api.get(url(api, "/orders/x"), timeout=0.5)
    assert api.get(url(api, "/gateways"), timeout=10).status_code == 200


def test_stalls_never_take_every_server_thread(sandbox: Sandbox) -> None:
    sandbox.faults.add("GET /orders/* stall")
    outcomes: list[str] = []

    def wait_forever() -> None:
        try:
            requests.get(f"{sandbox.url}/orders/x", headers={"api_key": sandbox.api_key}, timeout=60)
            outcomes.append("answered")
        except requests.ConnectionError:
            outcomes.append("dropped")

    threads = [threading.Thread(target=wait_forever) for _ in range(MAX_STALLED + 4)]
    for started, thread in enumerate(threads, 1):
        thread.start()
        until(lambda n=started: hits(sandbox) == [n])  # type: ignore[misc]  # one at a time: the oldest go first
    # beyond MAX_STALLED the oldest were let go; the server goes on answering everyone else
    until(lambda: len(outcomes) == 4)
    with requests.Session() as other:
        answers = [other.get(f"{sandbox.url}/gateways", headers={"api_key": sandbox.api_key}, timeout=10)
                   for _ in range(30)]  # fmt: skip
    assert {answer.status_code for answer in answers} == {200}
    sandbox.faults.clear()  # lets the rest go
    for thread in threads:
        thread.join(timeout=10)
    assert outcomes == ["dropped"] * len(threads)


def test_a_stalled_request_does_not_hold_up_stop() -> None:
    sandbox = Sandbox(seed=0).start()
    sandbox.faults.add("GET /gateways stall")
    failures: list[BaseException] = []

    def stalled() -> None:
        try:
            requests.get(f"{sandbox.url}/gateways", headers={"api_key": sandbox.api_key}, timeout=60)
        except requests.RequestException as exc:
            failures.append(exc)

    thread = threading.Thread(target=stalled)
    thread.start()
    until(lambda: sandbox.fault_rules.list()[0]["hits"] == 1)
    started = time.monotonic()
    sandbox.stop()
    # the server waits 5 s for requests in flight; a stall released at stop() is long gone by then
    assert time.monotonic() - started < 4
    thread.join(timeout=10)
    assert [type(exc) for exc in failures] == [requests.ConnectionError]


# -- after_effect: the dangerous one ----------------------------------------------------------------------
def test_after_effect_creates_the_order_and_loses_the_answer(sandbox: Sandbox, api: requests.Session) -> None:
    sandbox.faults.add("POST /orders after_effect x1")
    with pytest.raises(requests.ConnectionError):
        create(api, "f-4")
    order = api.get(url(api, "/orders/f-4"), timeout=10)
    assert order.status_code == 200 and order.json()["data"]["status"] == "initialized"
    assert create(api, "f-4").json()["error_code"] == 1006  # a blind resend meets the order it made
    [dropped] = [r for r in sandbox.controls.list_requests() if r["fault"]]
    assert (dropped["method"], dropped["status_code"], dropped["fault"]) == ("POST", None, "after_effect")


def test_client_create_order_recovers_from_after_effect_without_a_second_order(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.faults.add("POST /orders after_effect x1")
    body = notifying_order("http://127.0.0.1:9/hook", "f-5")
    with Journal(tmp_path / "journal.sqlite") as journal, Client(
        sandbox.api_key, base_url=sandbox.url, journal=journal, backoff=0.01
    ) as client:
        result = client.create_order(body)
        assert (result["order_id"], result["recovered"]) == ("f-5", True)
        assert client.get_order("f-5")["amount"] == body["amount"]
        sent = [(r["method"], r["path"]) for _, r in journal.requests_frame().iterrows()]
    assert sent.count(("POST", "/orders")) == 1  # checked by order_id instead of sending it again
    posts = [r for r in sandbox.controls.list_requests() if r["path"] == "/v1/json/orders"]
    assert [(r["method"], r["fault"]) for r in posts] == [("POST", "after_effect")]
    listed = requests.get(f"{sandbox.url}/transactions", headers={"api_key": sandbox.api_key}, timeout=10).json()
    assert [t["order_id"] for t in listed["data"]] == ["f-5"]


def test_client_honours_retry_after_and_retries_gets(sandbox: Sandbox, api: requests.Session) -> None:
    assert create(api, "f-6").status_code == 200
    sandbox.faults.add("GET /orders/* status=429 retry_after=1 x1")
    sandbox.faults.add("GET /orders/* reset x1")
    sandbox.faults.add("GET /orders/* status=503 x1")
    with Client(sandbox.api_key, base_url=sandbox.url, backoff=0.01) as client:
        assert client.get_order("f-6")["order_id"] == "f-6"
    seen = [r for r in sandbox.controls.list_requests("f-6") if r["method"] == "GET"]
    assert [(r["status_code"], r["fault"]) for r in seen] == [(429, "status"), (None, "reset"), (503, "status"),
                                                              (200, None)]  # fmt: skip
    assert seen[1]["received"] - seen[0]["received"] >= 1  # it waited as long as Retry-After said


# -- probability ------------------------------------------------------------------------------------------
def statuses(sandbox: Sandbox, n: int = 40) -> list[int]:
    with requests.Session() as session:
        session.headers["api_key"] = sandbox.api_key
        return [session.get(f"{sandbox.url}/gateways", timeout=10).status_code for _ in range(n)]


def test_a_seeded_probability_repeats() -> None:
    runs = []
    for seed in (7, 7, 8):
        with Sandbox(seed=seed) as sandbox:
            rule = sandbox.faults.add("GET /gateways status=503 p=0.5")
            assert rule["probability"] == 0.5
            runs.append(statuses(sandbox))
            sandbox.reset()  # reseeds the draws as well as the IDs
            sandbox.faults.add("GET /gateways status=503 p=0.5")
            assert statuses(sandbox) == runs[-1]
    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 503}
    assert runs[2] != runs[0]


# -- the rules' own errors --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ("GET orders reset", "PATH 'orders' must start with '/'"),
        ("FETCH /orders reset", "METHOD 'FETCH' must be one of"),
        ("GET /orders explode", "KIND 'explode' must be one of latency, status, reset, stall, after_effect"),
        ("GET /orders duplicate", "a webhook kind"),
        ("GET /orders status", "is written status=CODE"),
        ("GET /orders reset=1", "takes no value"),
        ("GET /orders status=abc", "status=CODE must be a whole number from 400 to 599, not 'abc'"),
        ("GET /orders status=200", "from 400 to 599, not '200'"),
        ("GET /orders latency=-1", "latency=SECONDS must be a number above 0"),
        ("GET /orders latency=nan", "latency=SECONDS"),
        ("GET /orders reset x0", "xN must be a whole number from 1"),
        ("GET /orders reset p=1.5", "p=P (a probability) must be a number above 0 and at most 1"),
        ("GET /orders reset x2 p=0.5", "one xN or one p=P"),
        ("GET /orders reset retry_after=2", "retry_after=SECONDS goes only with status=CODE"),
        ("GET /orders status=429 retry_after=1.5", "Retry-After is whole seconds"),
        ("GET /orders reset soon", "'soon' is not xN, p=P or retry_after=SECONDS"),
        ("GET /sandbox/faults reset", "never faulted"),
        ("GET /v1/json/orders reset", "relative to /v1/json: write '/orders'"),
        ("GET /orders//x reset", "empty segment"),
        ("POST /orders", "too short"),
        ("webhook duplicate", "too short"),
        ("webhook * explode", "KIND 'explode' must be one of delay, duplicate, out_of_order"),
        ("webhook * reset", "an API kind"),
        ("webhook * delay=0", "delay=SECONDS must be a number above 0"),
        ("   ", "must be a rule as text"),
    ],
)
def test_a_bad_rule_names_the_part_that_is_wrong(sandbox: Sandbox, rule: str, named: str) -> None:
    with pytest.raises(ValidationError) as info:
        sandbox.faults.add(rule)
    assert info.value.field == "fault"
    assert named in info.value.rule
    assert sandbox.faults.list() == []


def test_a_bad_rule_over_http_is_msp_400_envelope(api: requests.Session) -> None:
    answer = api.post(url(api, "/sandbox/faults"), json={"rule": "GET /orders status=99"}, timeout=10)
    assert answer.status_code == 400
    body = answer.json()
    assert set(body) == ENVELOPE_KEYS and body["success"] is False and body["data"] == {}
    assert body["error_info"].startswith("fault: status=CODE must be a whole number from 400 to 599")
    for sent in ({"rule": 5}, ["GET /orders reset"], None):
        answer = api.post(url(api, "/sandbox/faults"), json=sent, timeout=10)
        assert answer.status_code == 400 and answer.json()["error_info"].startswith("fault: send {")


def test_remove_one_rule(sandbox: Sandbox) -> None:
    first = sandbox.faults.add("GET /gateways reset")
    second = sandbox.faults.add("webhook order-1 delay=60 x2")
    assert (second["target"], second["order_id"], second["value"], second["remaining"]) == ("webhook", "order-1", 60, 2)
    sandbox.faults.remove(first["id"])
    assert [rule["id"] for rule in sandbox.faults.list()] == [second["id"]]
    with pytest.raises(NotFoundError):
        sandbox.faults.remove(first["id"])


# -- webhooks -------------------------------------------------------------------------------------------------
@pytest.fixture(params=["journal", "memory"])
def receiver(request: pytest.FixtureRequest, sandbox: Sandbox, tmp_path: Path) -> Iterator[WebhookReceiver]:
    """The project's receiver, storing into a journal, or (without one) keeping its records in memory."""
    journal = Journal(tmp_path / "journal.sqlite") if request.param == "journal" else None
    try:
        with WebhookReceiver(sandbox.api_key, journal=journal) as receiver:
            yield receiver
    finally:
        if journal is not None:
            journal.close()


def received(receiver: WebhookReceiver) -> list[tuple[str, bool]]:
    return [(row.status, row.duplicate) for row in receiver.notifications.itertuples()]


def counted(receiver: WebhookReceiver) -> list[str]:
    """Each change once: the journal's rows without duplicates, or the receiver's own flag."""
    if receiver.journal is not None:
        return list(receiver.journal.notifications_frame(include_duplicates=False)["status"])
    return [status for status, duplicate in received(receiver) if not duplicate]


def attempts(sandbox: Sandbox, order_id: str) -> list[tuple[Any, ...]]:
    return [(d["notification"], d["attempt"], d["fault"], d["acknowledged"])
            for d in sandbox.controls.list_deliveries(order_id)]  # fmt: skip


def test_webhook_duplicate_is_seen_and_counted_once(
    sandbox: Sandbox, api: requests.Session, receiver: WebhookReceiver
) -> None:
    assert create(api, "w-1", receiver.url).status_code == 200
    sandbox.faults.add("webhook * duplicate x1")
    sandbox.pay("w-1", "completed")
    assert attempts(sandbox, "w-1") == [(1, 1, None, True), (1, 1, "duplicate", True)]
    bodies = [r["body"] for r in receiver.received("w-1")]
    assert len(bodies) == 2 and bodies[0] == bodies[1]  # the same notification twice, each freshly signed
    assert received(receiver) == [("completed", False), ("completed", True)]
    assert counted(receiver) == ["completed"]


def test_webhook_out_of_order_pair_is_seen_and_each_change_counted_once(
    sandbox: Sandbox, api: requests.Session, receiver: WebhookReceiver
) -> None:
    assert create(api, "w-2", receiver.url).status_code == 200
    sandbox.faults.add("webhook w-2 out_of_order x1")
    sandbox.pay("w-2", "4462000000000003")  # Visa: uncleared, then completed after 3 minutes
    assert attempts(sandbox, "w-2") == []  # held back until the next change
    sandbox.advance(180)
    assert attempts(sandbox, "w-2") == [(2, 1, None, True), (1, 1, "out_of_order", True)]
    assert received(receiver) == [("completed", False), ("uncleared", False)]
    assert counted(receiver) == ["completed", "uncleared"]
    assert sandbox.get_order("w-2")["status"] == "completed"  # what a handler that GETs the order learns


def test_out_of_order_without_a_next_change_goes_after_the_hold(sandbox: Sandbox, api: requests.Session) -> None:
    assert create(api, "w-3").status_code == 200
    sandbox.faults.add("webhook * out_of_order")
    sandbox.pay("w-3", "completed")
    sandbox.advance(OUT_OF_ORDER_HOLD - 1)
    assert attempts(sandbox, "w-3") == []
    sandbox.advance(1)
    assert [a[:3] for a in attempts(sandbox, "w-3")] == [(1, 1, "out_of_order")]


def test_webhook_delay_for_one_order_on_the_sandbox_clock(
    sandbox: Sandbox, api: requests.Session, receiver: WebhookReceiver
) -> None:
    for order_id in ("w-4", "w-5"):
        assert create(api, order_id, receiver.url).status_code == 200
    sandbox.faults.add("webhook w-4 delay=600")
    sandbox.pay("w-5", "completed")
    sandbox.pay("w-4", "completed")  # the last change: the seeded clock ticks a second per change
    assert attempts(sandbox, "w-5") == [(1, 1, None, True)]  # other orders as usual
    sandbox.advance(599)
    assert attempts(sandbox, "w-4") == []
    sandbox.advance(1)
    assert attempts(sandbox, "w-4") == [(2, 1, "delay", True)]
    assert [r["order_id"] for r in receiver.records] == ["w-5", "w-4"]


def submit_page(api: requests.Session, order_id: str, hook: str) -> requests.Response:
    created = create(api, order_id, hook).json()["data"]
    answer = requests.post(created["payment_url"], data={"gateway": "IDEAL", "scenario": "completed"},
                           allow_redirects=False, timeout=10)  # fmt: skip
    assert answer.status_code == 302 and "transactionid=" + order_id in answer.headers["Location"]
    return answer


def test_after_redirect_notifies_once_the_customer_is_sent_back(
    sandbox: Sandbox, api: requests.Session, receiver: WebhookReceiver
) -> None:
    submit_page(api, "w-6", receiver.url)  # this sandbox notifies before the call that caused it returns
    sandbox.faults.add("webhook w-7 after_redirect")
    submit_page(api, "w-7", receiver.url)
    assert sandbox.wait_for_deliveries(10)  # waits for notifications held for the page's answer too
    assert create(api, "w-8", receiver.url).status_code == 200
    sandbox.pay("w-8", "completed")
    redirected = {d["order_id"]: d["redirected"] for d in sandbox.deliveries}
    assert redirected == {"w-6": False, "w-7": True, "w-8": None}  # w-8 was paid without the payment page
    assert [r["order_id"] for r in receiver.records] == ["w-6", "w-7", "w-8"]


def test_before_redirect_notifies_before_the_page_answers() -> None:
    with Sandbox(seed=0) as sandbox, WebhookReceiver(sandbox.api_key) as receiver, requests.Session() as api:
        api.headers["api_key"] = sandbox.api_key
        api.base = sandbox.url  # type: ignore[attr-defined]
        sandbox.faults.add("webhook * before_redirect")
        for n in range(5):  # notifications otherwise go from a thread of their own, racing the answer
            submit_page(api, f"w-9-{n}", receiver.url)
            assert [r["order_id"] for r in receiver.records][-1:] == [f"w-9-{n}"]  # there before the 302 was
        assert [d["redirected"] for d in sandbox.deliveries] == [False] * 5


def test_removing_a_stall_rule_lets_only_its_requests_go(sandbox: Sandbox) -> None:
    first = sandbox.faults.add("GET /gateways stall")
    sandbox.faults.add("GET /payment-methods stall")
    ended: dict[str, float] = {}

    def held(path: str) -> None:
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{sandbox.url}{path}", headers={"api_key": sandbox.api_key}, timeout=60)
        ended[path] = time.monotonic()

    threads = [threading.Thread(target=held, args=(path,)) for path in ("/gateways", "/payment-methods")]
    for thread in threads:
        thread.start()
    until(lambda: hits(sandbox) == [1, 1])
    sandbox.faults.remove(first["id"])
    until(lambda: "/gateways" in ended)
    assert "/payment-methods" not in ended
    sandbox.reset()  # forgets every rule, and lets the rest go
    for thread in threads:
        thread.join(timeout=10)
    assert set(ended) == {"/gateways", "/payment-methods"}
    assert sandbox.faults.list() == []


# -- another process: the CLI's --fault, and rules added over HTTP ----------------------------------------------
@pytest.fixture
def cli_sandbox() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    command = [sys.executable, "-m", "msp_explore", "sandbox", "--port", "0", "--seed", "0",
               "--fault", "GET /gateways status=503 x1", "--fault", "POST  /orders   latency=0.5"]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline().rstrip("\n") for _ in range(5)]
            base = re.fullmatch(r"MultiSafepay sandbox at (http://127\.0\.0\.1:\d+/v1/json)", lines[0])
            assert base is not None, lines
            assert lines[2:] == ["Fault 1: GET /gateways status=503 x1", "Fault 2: POST /orders latency=0.5",
                                 "Press Ctrl-C to stop."]  # fmt: skip
            yield base.group(1), process
        finally:
            process.terminate()
            process.wait(timeout=15)


def test_cli_faults_and_rules_added_over_http_from_another_process(
    cli_sandbox: tuple[str, subprocess.Popen[str]],
) -> None:
    base, _ = cli_sandbox
    key = "sandbox-key-not-a-secret"
    with SandboxControls(base, key) as controls, requests.Session() as http:
        http.headers["api_key"] = key
        assert [(r["rule"], r["hits"]) for r in controls.faults.list()] == [
            ("GET /gateways status=503 x1", 0), ("POST /orders latency=0.5", 0)]  # fmt: skip
        assert [http.get(f"{base}/gateways", timeout=10).status_code for _ in range(2)] == [503, 200]
        with pytest.raises(requests.ReadTimeout):
            http.post(f"{base}/orders", json=notifying_order("http://127.0.0.1:9/", "cli-1"), timeout=0.2)
        added = controls.faults.add("GET /orders/* reset x1")
        assert added["id"] == 3
        with pytest.raises(requests.ConnectionError):
            http.get(f"{base}/orders/cli-1", timeout=10)
        until(lambda: http.get(f"{base}/orders/cli-1", timeout=10).status_code == 200)  # the slow create happened
        assert [r["hits"] for r in controls.faults.list()] == [1, 1, 1]
        controls.faults.clear()
        assert controls.faults.list() == []


@pytest.mark.parametrize(
    ("rule", "named"),
    [("GET /orders/* status=600", "status=CODE must be a whole number from 400 to 599"), ("GET x y", "PATH 'x'")],
)
def test_cli_bad_fault_is_a_usage_error(rule: str, named: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "msp_explore", "sandbox", "--port", "0", "--fault", rule],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert "argument --fault:" in done.stderr and named in done.stderr
    assert "Traceback" not in done.stderr
