"""check_webhook against real handler processes, real sockets and a real sandbox; and its CLI."""

from __future__ import annotations

import json
import pickle
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from msp_explore import check_webhook
from msp_explore.cli import main
from msp_explore.errors import MspError, ValidationError
from msp_explore.handler_process import HandlerProcess
from msp_explore.sandbox import Sandbox
from msp_explore.webhook_report import COLUMNS, WebhookReport

HANDLERS = Path(__file__).resolve().parents[1] / "examples" / "webhook_handlers"
# A key shaped like MultiSafepay's (40 characters): long enough that its masked form shows 4 of them.
KEY = "k7Qp2Xw9Lm4Rt8Yv1Bn6Cz3Hd5Fg0JsAeUiOoPq2"
POST_CASES = {
    "genuine", "forged_signature", "tampered_body", "stale_timestamp", "missing_auth", "duplicate", "resend",
    "out_of_order", "raw_body", "large_body", "answer_time",
}  # fmt: skip
ACKNOWLEDGED = {"genuine", "duplicate", "resend", "out_of_order", "raw_body", "large_body"}
# each broken example, the arguments it runs with, and exactly the cases its fault fails (with a probe)
BROKEN = {
    "reserialises": ((), {"raw_body"}),
    "accepts_forged": ((), {"forged_signature", "tampered_body"}),
    "redirects": ((), ACKNOWLEDGED),
    "lowercase_ok": ((), ACKNOWLEDGED),
    "late_ok": ((), ACKNOWLEDGED),
    "refuses_duplicates": ((), {"duplicate", "resend"}),
    "too_slow": (("--delay", "1.4"), {"answer_time"}),
    "last_arrival_wins": ((), {"final_state"}),
}


def failed(report: WebhookReport) -> set[str]:
    return set(report.cases.loc[~report.cases["passed"], "case"])


def assert_no_key(*texts: str) -> None:
    for text in texts:
        assert KEY not in text
        assert KEY[:-4] not in text  # not even most of it


@pytest.fixture(scope="module")
def api() -> Iterator[Sandbox]:
    with Sandbox(api_key=KEY) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def correct(api: Sandbox) -> Iterator[HandlerProcess]:
    with HandlerProcess(HANDLERS / "correct.py", KEY, sandbox=api.url) as handler:
        yield handler


# -- the examples ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_the_correct_handler_passes_every_case(correct: HandlerProcess, api: Sandbox, method: str) -> None:
    report = check_webhook(correct.url, KEY, method=method, sandbox=api.url, probe=correct.probe)
    extra = {"genuine_get"} if method == "GET" else set()
    assert set(report.cases["case"]) == POST_CASES | extra | {"final_state"}
    assert failed(report) == set(), report.to_text()
    assert report.passed and report.reachable and report.fixes == {}
    assert list(report.cases.columns) == list(COLUMNS)
    assert report.cases["ms"].notna().all()


def test_the_handler_fetched_the_order_for_a_get_notification(correct: HandlerProcess, api: Sandbox) -> None:
    report = check_webhook(correct.url, KEY, method="GET", sandbox=api.url)
    row = report.cases.set_index("case").loc["genuine_get"]
    assert row["passed"] and "fetched the order" in row["got"]
    assert "final_state" not in set(report.cases["case"])  # no probe, no final_state


def test_without_a_sandbox_an_embedded_one_is_started(correct: HandlerProcess) -> None:
    report = check_webhook(correct.url, KEY)  # POST notifications need no API: the key is enough
    assert report.passed and report.embedded
    assert "embedded sandbox" in report.to_text() and report.key in report.to_text()


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_each_broken_handler_fails_exactly_what_its_fault_explains(api: Sandbox, name: str) -> None:
    args, expected = BROKEN[name]
    with HandlerProcess(HANDLERS / f"{name}.py", KEY, sandbox=api.url, args=args) as handler:
        report = check_webhook(handler.url, KEY, sandbox=api.url, probe=handler.probe, timeout=1.0)
    assert failed(report) == expected, report.to_text()
    assert not report.passed and report.reachable
    assert set(report.fixes) == expected and all(report.fixes.values())
    card = report._repr_html_()
    for case in expected:
        assert report.fixes[case].replace("'", "&#x27;") in card
    assert card.count(">fail<") == len(expected) and card.count(">pass<") == len(report.cases) - len(expected)


def test_a_handler_fetching_from_another_api_fails_genuine_get(correct: HandlerProcess, api: Sandbox) -> None:
    with Sandbox(api_key=KEY) as elsewhere, HandlerProcess(HANDLERS / "correct.py", KEY, sandbox=elsewhere.url) as h:
        report = check_webhook(h.url, KEY, method="GET", sandbox=api.url)
    assert failed(report) == {"genuine_get"}
    assert "503" in report.cases.set_index("case").loc["genuine_get", "got"]


def test_the_examples_stop_cleanly_on_sigterm(api: Sandbox) -> None:
    handler = HandlerProcess(HANDLERS / "correct.py", KEY, sandbox=api.url)
    assert handler.stop() == 0
    assert handler.output[-1] == "stopped"


# -- endpoints that cannot be graded ------------------------------------------------------------------------
class _Endpoint(BaseHTTPRequestHandler):
    """Acknowledges everything, and echoes the key it was started with (as a careless debug page might)."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = f"OK, configured with key {KEY}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def says_ok_to_everything() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/webhook"
    server.shutdown()
    server.server_close()
    thread.join(5)


def _raw_server(behaviour: str) -> Iterator[str]:
    """A raw TCP server: "hang" reads the request and never answers; "garbage" answers bytes that are not HTTP."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.recv(65536)
            if behaviour == "garbage":
                conn.sendall(b"\x16\x03\x01\x00\xa5 SSH-2.0-not-http\r\n\x00\xff\r\n\r\n")
                conn.close()
            else:
                held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/webhook"
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    listener.close()


@pytest.fixture
def hanging() -> Iterator[str]:
    yield from _raw_server("hang")


@pytest.fixture
def garbage() -> Iterator[str]:
    yield from _raw_server("garbage")


@pytest.fixture
def closed_port() -> str:
    with socket.socket() as probe:  # bound, never listening: connections to it are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/webhook"


@pytest.fixture
def down(api: Sandbox) -> str:
    handler = HandlerProcess(HANDLERS / "correct.py", KEY, sandbox=api.url)
    handler.stop()  # it was there a moment ago
    return handler.url


def test_an_endpoint_that_acknowledges_everything(says_ok_to_everything: str, api: Sandbox) -> None:
    report = check_webhook(says_ok_to_everything, KEY, method="GET", sandbox=api.url)
    assert failed(report) == {"forged_signature", "tampered_body", "stale_timestamp", "missing_auth", "genuine_get"}
    got = report.cases.set_index("case")["got"]
    assert "saw no GET of the order" in got["genuine_get"]
    assert report.key in got["genuine"]  # the echoed key is masked before it is stored
    assert_no_key(report.cases.to_json(), report.to_json(), report._repr_html_(), repr(report), report.to_text())
    assert_no_key(pickle.dumps(report).decode("latin-1"))


@pytest.mark.parametrize(
    ("endpoint", "says"),
    [
        ("down", "connection refused"),
        ("closed_port", "connection refused"),
        ("hanging", "no answer from 127.0.0.1:"),
        ("garbage", "not HTTP"),
    ],
)
def test_an_endpoint_that_cannot_be_reached(
    endpoint: str, says: str, api: Sandbox, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    url = request.getfixturevalue(endpoint)
    report = check_webhook(url, KEY, sandbox=api.url, timeout=0.5)
    assert not report.reachable and not report.passed
    assert says in str(report.problem)
    assert report.cases["passed"].sum() == 0
    assert report.cases.set_index("case").loc["forged_signature", "got"].startswith("not sent:")

    code = main(["check-webhook", url, "--api-key", KEY, "--sandbox", api.url, "--timeout", "0.5"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and says in err and "Traceback" not in err
    assert err.startswith("msp-explore check-webhook: cannot reach the endpoint")


# -- the command line -----------------------------------------------------------------------------------------
def test_cli_prints_the_table_and_exits_by_the_verdict(
    correct: HandlerProcess, api: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-webhook", correct.url, "--api-key", KEY, "--sandbox", api.url, "--probe", correct.probe]) == 0
    out, err = capsys.readouterr()
    assert "12 of 12 cases passed" in out and "PASS  final_state" in out and err == ""
    assert_no_key(out, err)
    with HandlerProcess(HANDLERS / "lowercase_ok.py", KEY) as broken:
        assert main(["check-webhook", broken.url, "--api-key", KEY, "--json"]) == 1
    out, err = capsys.readouterr()
    rows = json.loads(out)
    assert [list(row) for row in rows] == [list(COLUMNS)] * len(rows)
    assert {row["case"] for row in rows if not row["passed"]} == ACKNOWLEDGED
    assert_no_key(out, err)


def test_cli_as_a_process(correct: HandlerProcess, api: Sandbox) -> None:
    command = [sys.executable, "-m", "msp_explore", "check-webhook", correct.url, "--api-key", KEY]
    done = subprocess.run([*command, "--method", "GET", "--sandbox", api.url], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "PASS  genuine_get" in done.stdout
    assert_no_key(done.stdout, done.stderr)


def test_cli_says_plainly_when_the_sandbox_is_unreachable(
    correct: HandlerProcess, closed_port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox = closed_port.replace("/webhook", "/v1/json")
    assert main(["check-webhook", correct.url, "--api-key", KEY, "--sandbox", sandbox]) == 1
    out, err = capsys.readouterr()
    assert err.startswith("msp-explore check-webhook: cannot reach the sandbox at") and err.count("\n") == 1
    assert_no_key(out, err)


def test_the_sandbox_must_accept_the_key(correct: HandlerProcess, api: Sandbox) -> None:
    with pytest.raises(MspError, match="refuses the API key [*]{4}6789: start it with the key") as caught:
        check_webhook(correct.url, "another-key-entirely-0123456789", sandbox=api.url)
    assert_no_key(str(caught.value))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"url": "127.0.0.1:5000/webhook"}, "url"),
        ({"api_key": ""}, "api_key"),
        ({"api_key": "two words"}, "api_key"),
        ({"method": "PUT"}, "method"),
        ({"timeout": 0}, "timeout"),
        ({"probe": "status"}, "probe"),
        ({"sandbox": "127.0.0.1:8765"}, "sandbox"),
    ],
)
def test_bad_arguments_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    arguments = {"url": "http://127.0.0.1:5000/webhook", "api_key": KEY, **kwargs}
    with pytest.raises(ValidationError) as caught:
        check_webhook(arguments.pop("url"), arguments.pop("api_key"), **arguments)
    assert caught.value.field == field


def test_the_sandbox_must_be_a_sandbox(correct: HandlerProcess) -> None:
    not_a_sandbox = correct.url.replace("/webhook", "/v1/json")  # the handler itself: no sandbox controls there
    with pytest.raises(MspError, match="does not look like an msp-explore sandbox"):
        check_webhook(correct.url, KEY, sandbox=not_a_sandbox)


# -- with the sandbox's webhook faults (issue 14) ----------------------------------------------------------
def test_sandbox_webhook_faults_reach_a_handler_that_counts_each_change_once(
    correct: HandlerProcess, api: Sandbox
) -> None:
    """The sandbox itself delivers twice and out of order; the correct handler's view, which the grader's
    ``final_state`` case reads, ends at the true status, and a grade taken meanwhile still passes."""
    import requests

    api.faults.clear()
    try:
        api.faults.add("webhook fault-pair out_of_order x1")  # rules act in the order added: this one first
        api.faults.add("webhook * duplicate x1")
        with requests.Session() as http:
            http.headers["api_key"] = KEY
            body = {"order_id": "fault-pair", "currency": "EUR", "amount": 1000, "description": "Faulted",
                    "payment_options": {"notification_url": correct.url}}  # fmt: skip
            assert http.post(f"{api.url}/orders", json=body, timeout=10).status_code == 200
            api.pay("fault-pair", "4462000000000003")  # Visa: uncleared now, completed 3 minutes later
            api.advance(180)
            assert api.wait_for_deliveries(10)
            deliveries = api.controls.list_deliveries("fault-pair")
            view = http.get(correct.probe, params={"order_id": "fault-pair"}, timeout=10).json()
        # what the sandbox did: completed delivered before the older uncleared, and duplicates on top
        faults = [(d["notification"], d["fault"]) for d in deliveries]
        assert (1, "out_of_order") in faults and (2, "duplicate") in faults
        assert [d["notification"] for d in deliveries if d["fault"] != "duplicate"] == [2, 1]
        assert all(d["acknowledged"] for d in deliveries)
        assert view["status"] == "completed" == api.get_order("fault-pair")["status"]
        report = check_webhook(correct.url, KEY, sandbox=api.url, probe=correct.probe, timeout=5)
        assert report.passed, report.cases
    finally:
        api.faults.clear()


def test_a_short_sandbox_key_is_a_key_like_any_other(correct: HandlerProcess) -> None:
    # `msp-explore sandbox --api-key KEY`: the key rule is the client's, not a length of the grader's own
    with Sandbox(api_key="KEY") as sandbox, HandlerProcess(HANDLERS / "correct.py", "KEY", sandbox=sandbox.url) as h:
        assert check_webhook(h.url, "KEY", sandbox=sandbox.url, probe=h.probe, timeout=5).passed
