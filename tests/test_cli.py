"""``msp-explore`` as a user runs it: real subprocesses, real signals, a real journal file."""

from __future__ import annotations

import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from _listener import COMMAND, Listener
from conftest import notifying_order

from msp_explore.journal import Journal
from msp_explore.sandbox import Sandbox
from msp_explore.webhooks import encode_body, sign_notification

KEY = "cli-test-key"
# time  order_id  status  financial_status  verified | REJECTED (reason)  [duplicate]
LINE = re.compile(
    r"^(?P<time>\d\d:\d\d:\d\d)  (?P<order_id>\S+)  (?P<status>\S+)  (?P<financial_status>\S+)  "
    r"(?P<verdict>verified|REJECTED \(.+\))(?P<duplicate> duplicate)?$"
)


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "msp_explore", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False
        yield session


def send(http: requests.Session, url: str, order_id: str, status: str = "completed", *, key: str = KEY) -> int:
    body = encode_body({"order_id": order_id, "status": status, "financial_status": status})
    headers = {"Auth": sign_notification(body, key, int(time.time())), "Content-Type": "application/json"}
    response = http.post(url, params={"transactionid": order_id}, data=body, headers=headers, timeout=10)
    return response.status_code


def parse(line: str) -> dict[str, str | None]:
    match = LINE.match(line)
    assert match is not None, f"not a notification line: {line!r}"
    return match.groupdict()


def seconds_apart(clock: str, moment: datetime) -> int:
    h, m, s = map(int, clock.split(":"))
    difference = abs(h * 3600 + m * 60 + s - (moment.hour * 3600 + moment.minute * 60 + moment.second))
    return min(difference, 86400 - difference)  # around midnight


# -- help ---------------------------------------------------------------------------------------------


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: msp-explore")
    for command in ("sandbox", "listen", "tour"):
        assert command in result.stdout


def test_console_script_runs() -> None:
    script = Path(sys.executable).with_name("msp-explore")
    if not script.exists():
        pytest.skip(f"msp-explore is not installed next to {sys.executable}")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "listen" in result.stdout


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("sandbox", ["--port", "--api-key", "--seed", "--retry-interval"]),
        ("listen", ["--port", "--api-key", "--journal", "--tolerance"]),
    ],
)
def test_subcommand_help_lists_its_options(command: str, options: list[str]) -> None:
    result = run(command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: msp-explore {command}")
    for option in options:
        assert option in result.stdout


def test_no_command_is_a_usage_error() -> None:
    result = run()
    assert result.returncode == 2 and "required" in result.stderr


# -- listen ---------------------------------------------------------------------------------------------


def test_listen_prints_one_line_per_notification_and_stops_cleanly_on_sigterm(
    tmp_path: Path, http: requests.Session
) -> None:
    path = tmp_path / "journal.sqlite"
    with Listener(path, api_key=KEY, stderr=tmp_path / "stderr") as listener:
        assert listener.output[0] == f"Listening for notifications at http://127.0.0.1:{listener.port}/webhook"
        assert listener.next_line() == f"Storing them in {path}"

        assert send(http, listener.url, "order-1") == 200
        good = parse(listener.next_line())
        assert send(http, listener.url, "order-2", key="not-the-key") == 403
        forged = parse(listener.next_line())
        assert send(http, listener.url, "order-1") == 200  # a resend of the first
        resent = parse(listener.next_line())

        assert listener.terminate() == 0
        assert listener.next_line() == "stopped"
        assert listener.lines.get(timeout=5) is None  # and nothing after it
    assert listener.stderr() == ""

    assert good == {
        "time": good["time"],
        "order_id": "order-1",
        "status": "completed",
        "financial_status": "completed",
        "verdict": "verified",
        "duplicate": None,
    }
    assert seconds_apart(str(good["time"]), datetime.now(timezone.utc)) < 60  # received_at, UTC
    assert forged["order_id"] == "order-2"
    assert str(forged["verdict"]).startswith("REJECTED (signature: ")
    assert (resent["order_id"], resent["verdict"], resent["duplicate"]) == ("order-1", "verified", " duplicate")
    with Journal(path) as journal:
        frame = journal.notifications_frame()
    assert frame["order_id"].tolist() == ["order-1", "order-2", "order-1"]
    assert frame["verified"].tolist() == [True, False, True]
    assert frame["duplicate"].tolist() == [False, False, True]


def test_listen_stores_into_the_journal_named_by_msp_journal(tmp_path: Path, http: requests.Session) -> None:
    path = tmp_path / "from-env" / "journal.sqlite"
    env = {"MSP_JOURNAL": str(path), "MSP_API_KEY": KEY}
    with Listener(env=env, stderr=tmp_path / "stderr") as listener:  # neither --journal nor --api-key
        assert listener.next_line() == f"Storing them in {path}"
        assert send(http, listener.url, "order-1") == 200
        assert parse(listener.next_line())["verdict"] == "verified"
        assert listener.terminate() == 0
    with Journal(path) as journal:
        assert journal.notifications_frame()["order_id"].tolist() == ["order-1"]


def test_listen_receives_the_sandbox_notifications(sandbox: Sandbox, api: requests.Session, tmp_path: Path) -> None:
    # Default flags: the listener checks the 600 s window against its own clock, and a seeded sandbox
    # signs with the real time of sending, so its notifications pass.
    path = tmp_path / "journal.sqlite"
    with Listener(path, api_key=sandbox.api_key, stderr=tmp_path / "stderr") as listener:
        listener.next_line()  # "Storing them in ..."
        order = notifying_order(listener.url)
        assert api.post(f"{api.base}/orders", json=order).status_code == 200  # type: ignore[attr-defined]
        sandbox.pay("my-order-id-1", "completed")
        line = parse(listener.next_line())
        assert listener.terminate() == 0
    assert [d["acknowledged"] for d in sandbox.deliveries] == [True]
    assert (line["order_id"], line["status"], line["financial_status"], line["verdict"]) == (
        "my-order-id-1",
        "completed",
        "completed",
        "verified",
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sandbox_and_listen_side_by_side_with_default_flags(tmp_path: Path, http: requests.Session) -> None:
    """The README's two terminals, as real processes: a seeded `msp-explore sandbox` and `msp-explore listen`."""
    port = free_port()
    command = [sys.executable, "-m", "msp_explore", "sandbox", "--port", str(port), "--api-key", KEY, "--seed", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as sandbox:
        try:
            assert sandbox.stdout is not None
            base = sandbox.stdout.readline().split(" at ", 1)[1].strip()  # "MultiSafepay sandbox at URL"
            with Listener(tmp_path / "journal.sqlite", api_key=KEY, stderr=tmp_path / "stderr") as listener:
                listener.next_line()
                http.headers["api_key"] = KEY
                # The tutorial's curl order, notifying the listener on a path of its own choosing.
                url = listener.url.rsplit("/", 1)[0] + "/shop/notify?type=notification"
                assert http.post(f"{base}/orders", json=notifying_order(url), timeout=10).status_code == 200
                paid = http.post(f"{base}/sandbox/orders/my-order-id-1/pay", json={"scenario": "completed"}, timeout=10)
                assert paid.json()["data"]["status"] == "completed"
                line = parse(listener.next_line())  # printed before the listener answers: wait for the answer
                assert http.post(f"{base}/sandbox/deliveries/wait", json={"timeout": 10}, timeout=20).json()["data"]
                deliveries = http.get(f"{base}/sandbox/deliveries", timeout=10).json()["data"]
                assert listener.terminate() == 0
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=15)
    assert (line["order_id"], line["status"], line["verdict"]) == ("my-order-id-1", "completed", "verified")
    assert [(d["attempt"], d["acknowledged"]) for d in deliveries] == [(1, True)]


def test_listen_rejects_a_stale_notification_by_default(tmp_path: Path, http: requests.Session) -> None:
    # Signed an hour ago: the 600 s window, on the listener's own clock, refuses it.
    with Listener(tmp_path / "journal.sqlite", api_key=KEY, stderr=tmp_path / "stderr") as listener:
        listener.next_line()
        body = encode_body({"order_id": "order-1", "status": "completed", "financial_status": "completed"})
        headers = {"Auth": sign_notification(body, KEY, int(time.time()) - 3600), "Content-Type": "application/json"}
        response = http.post(listener.url, params={"transactionid": "order-1"}, data=body, headers=headers, timeout=10)
        line = parse(listener.next_line())
        assert listener.terminate() == 0
    assert response.status_code == 403
    assert str(line["verdict"]).startswith("REJECTED (stale: ")


@pytest.mark.parametrize("value", ["0", "-5", "soon", "inf"])
def test_listen_refuses_a_tolerance_that_is_not_a_positive_number(value: str) -> None:
    result = run("listen", "--tolerance", value)
    assert result.returncode == 2
    assert "--tolerance" in result.stderr and "Traceback" not in result.stderr


def test_listen_lines_stay_whole_when_notifications_arrive_at_once(tmp_path: Path) -> None:
    threads, per_thread = 16, 50
    with Listener(tmp_path / "journal.sqlite", api_key=KEY, stderr=tmp_path / "stderr") as listener:
        listener.next_line()
        codes: list[int] = []

        def burst(worker: int) -> None:
            with requests.Session() as session:
                session.trust_env = False
                codes.extend(send(session, listener.url, f"order-{worker}-{i}") for i in range(per_thread))

        workers = [threading.Thread(target=burst, args=(w,)) for w in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        lines = [listener.next_line() for _ in range(threads * per_thread)]
        assert listener.terminate() == 0
    assert codes == [200] * (threads * per_thread)
    parsed = [parse(line) for line in lines]
    assert sorted(p["order_id"] for p in parsed) == sorted(
        f"order-{w}-{i}" for w in range(threads) for i in range(per_thread)
    )


def test_listen_exits_with_an_error_when_the_port_is_taken(tmp_path: Path) -> None:
    with Listener(tmp_path / "a.sqlite", api_key=KEY, stderr=tmp_path / "a.err") as first:
        result = subprocess.run(
            [*COMMAND, "--port", str(first.port), "--journal", str(tmp_path / "b.sqlite")],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert first.terminate() == 0
    assert result.returncode != 0
    assert "Address already in use" in result.stderr


def test_listen_started_after_the_sandbox_paid_receives_the_retries(tmp_path: Path, http: requests.Session) -> None:
    with socket.socket() as sock:  # a port nobody listens on, yet
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    order_ids = [f"order-{i}" for i in range(20)]
    with Sandbox(retry_interval=0.05, retries=40) as sandbox:
        http.headers["api_key"] = sandbox.api_key
        for order_id in order_ids:
            order = notifying_order(f"http://127.0.0.1:{port}/webhook", order_id)
            assert http.post(f"{sandbox.url}/orders", json=order).status_code == 200
            sandbox.pay(order_id, "completed")
        path = tmp_path / "journal.sqlite"
        # Retries are knocking while it starts: the URL line still comes first (Listener checks that).
        with Listener(path, api_key=sandbox.api_key, port=port, stderr=tmp_path / "stderr") as listener:
            assert listener.next_line() == f"Storing them in {path}"
            lines = [parse(listener.next_line()) for _ in order_ids]
            assert listener.terminate() == 0
    assert sorted(line["order_id"] for line in lines) == sorted(order_ids)
    assert {line["verdict"] for line in lines} == {"verified"}


# -- sandbox --------------------------------------------------------------------------------------------


def test_sandbox_serves_until_sigterm(tmp_path: Path, http: requests.Session) -> None:
    lines: queue.Queue[str] = queue.Queue()
    with open(tmp_path / "stderr", "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "msp_explore", "sandbox", "--port", "0", "--seed", "1", "--api-key", KEY],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        stdout = process.stdout
        assert stdout is not None

        def read() -> None:
            for line in stdout:
                lines.put(line.rstrip("\n"))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            banner = [lines.get(timeout=20) for _ in range(3)]
            match = re.fullmatch(r"MultiSafepay sandbox at (http://127\.0\.0\.1:\d+/v1/json)", banner[0])
            assert match is not None, banner
            assert banner[1:] == [f"API key: {KEY}", "Press Ctrl-C to stop."]
            response = http.get(f"{match.group(1)}/orders/no-such-order", headers={"api_key": KEY}, timeout=10)
            assert response.status_code == 404 and response.json()["error_code"] == 1006
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
            assert lines.get(timeout=5) == "stopped"
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            reader.join(timeout=5)
            stdout.close()
    assert (tmp_path / "stderr").read_text() == ""
