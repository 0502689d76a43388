"""The ``msp-explore`` command line."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from . import checks
from .errors import ValidationError


def _sandbox(args: argparse.Namespace) -> int:
    from .sandbox import Sandbox

    sandbox = Sandbox(api_key=args.api_key, seed=args.seed, retry_interval=args.retry_interval, port=args.port)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    for rule in args.fault or ():  # before serving: no request may slip in ahead of its faults
        sandbox.fault_rules.add(rule)
    signal.signal(signal.SIGTERM, stop)
    sandbox.start()
    print(f"MultiSafepay sandbox at {sandbox.url}", flush=True)
    print(f"API key: {sandbox.api_key}", flush=True)
    for added in sandbox.fault_rules.list():
        print(f"Fault {added['id']}: {added['rule']}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
        print("stopped", flush=True)
    return 0


def _seconds(text: str) -> float:
    """A positive number of seconds (``checks.seconds``), for argparse: anything else is a usage error."""
    try:
        return checks.seconds("seconds", float(text))
    except (ValueError, ValidationError):  # ValueError: not a number at all
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}") from None


def _fault(text: str) -> str:
    """A fault rule (``msp_explore.sandbox.faults``), for argparse: a bad one is a usage error naming the problem."""
    from .errors import ValidationError
    from .sandbox.faults import parse_rule

    try:
        parse_rule(text)
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(exc.rule) from None
    return text


def format_notification(record: dict[str, Any]) -> str:
    """One line per notification, like a tail: time, order_id, status, financial_status, verified."""
    stamp = str(record.get("received_at") or "")[11:19]
    verdict = "verified" if record["verified"] else f"REJECTED ({record.get('reason')})"
    flag = " duplicate" if record.get("duplicate") else ""
    return (
        f"{stamp}  {record.get('order_id') or '-'}  {record.get('status') or '-'}  "
        f"{record.get('financial_status') or '-'}  {verdict}{flag}"
    )


def _listen(args: argparse.Namespace) -> int:
    from .journal import Journal
    from .receiver import WebhookReceiver

    journal = Journal(args.journal)
    receiver = WebhookReceiver(args.api_key, journal=journal, port=args.port, tolerance=args.tolerance)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    # Notifications arrive on several server threads at once; print writes a line and its newline
    # separately, so without the lock two lines can come out glued together.
    printing = threading.Lock()

    def show(record: dict[str, Any]) -> None:
        line = format_notification(record)
        with printing:
            print(line, flush=True)

    signal.signal(signal.SIGTERM, stop)
    receiver.on_notification(show)
    try:  # from here on a SIGTERM (KeyboardInterrupt) always ends in the clean stop below
        with printing:  # retries may be waiting for us: their lines come after the URL line, not before
            receiver.start()
            print(f"Listening for notifications at {receiver.url}", flush=True)
            print(f"Storing them in {journal.path}", flush=True)
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        receiver.stop()
        journal.close()
        print("stopped", flush=True)
    return 0


def _scenarios(args: argparse.Namespace) -> int:
    from .client import connect
    from .errors import MspError
    from .scenarios import run_scenarios

    client = connect()
    if client.sandbox is None:
        raise MspError(
            "this command pays through the embedded sandbox; unset MSP_API_KEY, or in a notebook use "
            "run_scenarios(client) to create orders and pay each payment_url on MultiSafepay's test page"
        )
    results = run_scenarios(client, progress=False)
    table = results.set_index(["method", "scenario"])[["label", "status", "financial_status"]]
    print(f"Every test scenario of {results['method'].nunique()} payment methods, on {client!r}:")
    print(table.to_string())
    return 0


def _tour(args: argparse.Namespace) -> int:
    from .tutorial import run_tour

    return run_tour()


def _check_webhook(args: argparse.Namespace) -> int:
    from .webhook_check import check_webhook

    report = check_webhook(
        args.url, args.api_key, method=args.method, sandbox=args.sandbox, probe=args.probe, timeout=args.timeout
    )
    if args.json:
        print(report.to_json())
    if not report.reachable:  # one plain line, not a table of cases that were never sent
        print(f"msp-explore check-webhook: cannot reach the endpoint: {report.problem}", file=sys.stderr)
        return 2
    if not args.json:
        print(report.to_text())
    return 0 if report.passed else 1


def build_parser() -> argparse.ArgumentParser:
    from .sandbox import DEFAULT_API_KEY

    parser = argparse.ArgumentParser(prog="msp-explore", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    sandbox = commands.add_parser("sandbox", help="serve the offline MultiSafepay test API on 127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8765, help="port to listen on (0: any free port)")
    sandbox.add_argument("--api-key", default=DEFAULT_API_KEY, help="the API key the sandbox accepts")
    sandbox.add_argument(
        "--seed", type=int, default=None,
        help="repeatable orders: their clock stands still but for POST /sandbox/advance (webhooks are signed "
        "with the real time all the same)",
    )  # fmt: skip
    sandbox.add_argument(
        "--retry-interval", type=float, default=900.0,
        help="seconds of sandbox time between webhook retries (with --seed they fall due as the clock is advanced)",
    )  # fmt: skip
    sandbox.add_argument(
        "--fault", action="append", type=_fault, metavar="RULE",
        help='a fault rule, repeatable: "POST /orders status=503 x2", "GET /orders/* latency=0.5", '
        '"webhook * duplicate" (see msp_explore.sandbox.faults)',
    )  # fmt: skip
    sandbox.set_defaults(run=_sandbox)
    listen = commands.add_parser("listen", help="receive, verify and store webhook notifications")
    listen.add_argument("--port", type=int, default=8766, help="port to listen on (0: any free port)")
    listen.add_argument("--api-key", default=None, help="key notifications are signed with (default: MSP_API_KEY)")
    listen.add_argument("--journal", default=None, help="SQLite journal (default: MSP_JOURNAL or data/journal.sqlite)")
    listen.add_argument(
        "--tolerance", type=_seconds, default=600, help="how old a notification's timestamp may be, in seconds"
    )
    listen.set_defaults(run=_listen)
    scenarios = commands.add_parser("scenarios", help="run every method's test scenarios; print the outcomes")
    scenarios.set_defaults(run=_scenarios)
    tour = commands.add_parser("tour", help="a short scripted tour of the tutorial against the sandbox")
    tour.set_defaults(run=_tour)
    check = commands.add_parser("check-webhook", help="grade your webhook endpoint as MultiSafepay would test it")
    check.add_argument("url", help="the endpoint's notification URL, e.g. http://127.0.0.1:5000/webhook")
    check.add_argument("--api-key", required=True, help="the website API key the endpoint verifies with")
    check.add_argument("--method", choices=("POST", "GET"), default="POST", help="GET: also check GET notifications")
    check.add_argument("--sandbox", default=None, help="API base of the sandbox the endpoint uses (default: embedded)")
    check.add_argument("--probe", default=None, help='URL answering {"status": ...} for ?order_id= (adds final_state)')
    check.add_argument("--json", action="store_true", help="print the cases as one JSON array")
    check.add_argument("--timeout", type=_seconds, default=10.0, help="seconds an answer may take (default 10)")
    check.set_defaults(run=_check_webhook)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .errors import MspError

    try:
        return int(args.run(args))
    except MspError as exc:  # a clear one-line message, not a traceback
        print(f"msp-explore {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
