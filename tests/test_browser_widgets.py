"""The notebooks' widgets in a real page: Voila serves notebooks 1 and 2, Chromium fills them in and clicks.

Voila runs each notebook in a kernel started from this venv's Python (a kernelspec written for the
test, found through JUPYTER_PATH, and checked on the running process). The notebooks call
``msp.connect()`` without MSP_API_KEY, so each kernel starts its own embedded sandbox; the payment
links they show point at it, and Chromium opens them. Screenshots go to build/screenshots/voila-*.png.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from _browser import chromium_path, clear_screenshots, launched, local_context, screenshot
from playwright.sync_api import Browser, BrowserContext, Dialog, Page, expect

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
RENDER_TIMEOUT = 90_000  # ms: Voila answers once the whole notebook has run in a fresh kernel
HOSTILE = "<img src=x onerror=alert('order_id')>"  # a valid order_id: 37 characters, at most 50


@dataclass
class Voila:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def render(self, notebook: str) -> str:
        return f"{self.url}/voila/render/{notebook}"

    def kernels(self) -> list[psutil.Process]:
        children = psutil.Process(self.process.pid).children(recursive=True)
        return [p for p in children if "ipykernel_launcher" in " ".join(p.cmdline())]


def for_voila(source: Path, target: Path, *, drop_tag: str | None = None) -> int:
    """Copy a notebook without outputs or stored widget state, leaving out cells tagged ``drop_tag``."""
    book = json.loads(source.read_text())
    kept = [c for c in book["cells"] if drop_tag not in c.get("metadata", {}).get("tags", [])]
    for cell in kept:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    dropped = len(book["cells"]) - len(kept)
    book["cells"] = kept
    book["metadata"].pop("widgets", None)
    target.write_text(json.dumps(book, indent=1))
    return dropped


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(process: subprocess.Popen[bytes], port: int, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"voila exited with {process.returncode}:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"voila did not listen on port {port} within {timeout} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def voila(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Voila]:
    chromium_path()  # no browser, no point in starting Voila
    root = tmp_path_factory.mktemp("voila")
    served = root / "notebooks"
    served.mkdir()
    assert for_voila(NOTEBOOKS / "01_create_order.ipynb", served / "01_create_order.ipynb") == 0
    # A person at the page pays and watches; the cells an unattended run needs (paying by itself,
    # waiting, stopping the receiver) would take the page away from them.
    assert for_voila(NOTEBOOKS / "02_pay_and_track.ipynb", served / "02_pay_and_track.ipynb", drop_tag="batch") > 0
    assert "receiver.stop()" not in (served / "02_pay_and_track.ipynb").read_text()

    # The notebooks' kernel is this venv's Python, whatever kernelspecs the machine has: JUPYTER_PATH
    # comes first when Jupyter looks for the notebooks' "python3" kernel.
    kernel = root / "jupyter" / "kernels" / "python3"
    kernel.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (kernel / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "msp_explore venv", "language": "python"})
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MSP_", "JUPYTER"))}
    env.update(
        JUPYTER_PATH=str(root / "jupyter"),
        JUPYTER_DATA_DIR=str(root / "data"),
        JUPYTER_CONFIG_DIR=str(root / "config"),  # no user configuration
        JUPYTER_RUNTIME_DIR=str(root / "runtime"),
        JUPYTER_PLATFORM_DIRS="1",
        IPYTHONDIR=str(root / "ipython"),  # no user startup files in the kernel
        TQDM_DISABLE="1",
    )
    port = free_port()
    log = root / "voila.log"
    command = [sys.executable, "-m", "voila", str(served), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"]
    command += ["--VoilaConfiguration.default_pool_size=0", "--show_tracebacks=True"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Voila(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_for_port(process, port, log)
        yield server
    finally:
        stop(server)


def stop(server: Voila) -> None:
    """Stop Voila (it shuts its kernels down), then any kernel it left behind: only processes it started."""
    try:
        left = server.kernels()
    except psutil.NoSuchProcess:
        left = []
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()
    for kernel in left:
        if kernel.is_running():
            kernel.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    clear_screenshots("voila-")
    with launched() as browser:
        yield browser


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = local_context(browser, viewport={"width": 1100, "height": 900})
    yield context
    context.close()
    # Voila's page asks a CDN for an icon font, refused here (the widgets do not need it); anything
    # else it needed from the internet would not work offline.
    outside: list[str] = context.outside  # type: ignore[attr-defined]
    assert [url for url in outside if "fontawesome" not in url and "example.com" not in url] == []


@pytest.fixture
def dialogs(context: BrowserContext) -> list[str]:
    opened: list[str] = []

    def record(dialog: Dialog) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    context.on("dialog", record)
    return opened


def open_notebook(context: BrowserContext, voila: Voila, notebook: str) -> Page:
    page = context.new_page()
    page.goto(voila.render(notebook), timeout=RENDER_TIMEOUT)
    return page


def test_order_form_creates_an_order(voila: Voila, context: BrowserContext, dialogs: list[str]) -> None:
    page = open_notebook(context, voila, "01_create_order.ipynb")
    create = page.get_by_role("button", name="Create order")
    expect(create).to_be_visible(timeout=RENDER_TIMEOUT)
    form = page.locator(".widget-vbox").filter(has=create)
    card = form.locator(".msp-order")
    expect(card.locator("strong")).to_have_text("my-order-id-3")  # the notebook pressed it once itself
    expect(card).to_contain_text("EUR 25.00")  # a redirect order's card: the amount and status, not only its ID
    expect(card.locator("span[title=status]")).to_have_text("initialized")
    expect(form.get_by_label("order_id")).to_have_value("my-order-id-4")  # the next free ID, proposed
    # the link looks like one (a widget's HTML gets no link colour of its own)
    assert card.get_by_role("link").evaluate("a => getComputedStyle(a).color") == "rgb(9, 105, 218)"
    # the gateway dropdown shows its longest option whole
    room, needed = form.get_by_label("gateway").evaluate(
        """select => {
            const style = getComputedStyle(select), context = document.createElement("canvas").getContext("2d");
            context.font = `${style.fontSize} ${style.fontFamily}`;
            const widest = Math.max(...[...select.options].map(o => context.measureText(o.text).width));
            return [select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight), widest];
        }"""
    )
    assert needed <= room, f"gateway labels need {needed:.0f} px, the dropdown has {room:.0f}"
    screenshot(form, "voila-01-1-form")

    kernels = voila.kernels()
    assert kernels, f"no kernel running:\n{voila.log.read_text()}"
    assert {k.cmdline()[0] for k in kernels} == {sys.executable}, "the notebook must run in this venv's Python"

    # Bad input first: the error is shown in the form
    form.get_by_label("currency").fill("euro")
    create.click()
    error = form.locator(".msp-error")
    expect(error).to_contain_text("ApiError")  # MultiSafepay's own rule, as the API names it
    expect(error).to_contain_text("currency: must be a 3-letter ISO 4217 code")
    screenshot(form, "voila-01-2-error")

    # Markup in an order_id is shown as text, in the card and on the payment page
    form.get_by_label("currency").fill("EUR")
    form.get_by_label("order_id").fill(HOSTILE)
    create.click()
    expect(card.locator("strong")).to_have_text(HOSTILE)
    assert page.locator("img[src=x], [onerror]").count() == 0
    screenshot(form, "voila-01-3-markup-as-text")
    payer = context.new_page()
    payer.goto(card.get_by_role("link").get_attribute("href") or "")
    expect(payer.locator("#order-id")).to_have_text(HOSTILE)
    assert payer.locator("img[src=x], [onerror]").count() == 0

    form.get_by_label("order_id").fill("voila-order-1")
    amount = form.get_by_label("amount (cents)")
    amount.fill("4250")
    amount.press("Tab")  # an IntText sends its value when it loses focus
    form.get_by_label("gateway").select_option(label="iDEAL (IDEAL)")
    form.get_by_label("description").fill("Ordered from a Voila page")
    screenshot(form, "voila-01-4-filled")
    create.click()
    expect(card.locator("strong")).to_have_text("voila-order-1")
    link = card.get_by_role("link")
    expect(link).to_be_visible()
    payment_url = link.get_attribute("href") or ""
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/connect/\w+/\?lang=nl_NL", payment_url), payment_url
    expect(link).to_have_text(payment_url)
    screenshot(form, "voila-01-5-created")

    # the link leads to the kernel's sandbox, with what was typed
    payer.goto(payment_url)
    expect(payer.locator("#order-id")).to_have_text("voila-order-1")
    expect(payer.locator("#amount")).to_have_text("EUR 42.50")
    expect(payer.locator("#description")).to_have_text("Ordered from a Voila page")
    expect(payer.locator("#method")).to_have_text("iDEAL")
    screenshot(payer, "voila-01-6-payment-page")

    expect(form.get_by_label("order_id")).to_have_value("voila-order-2")
    form.get_by_label("order_id").fill("voila-order-1")  # the same order_id again, typed by hand
    create.click()
    expect(error).to_contain_text("1006")
    screenshot(form, "voila-01-7-used-order-id")
    assert dialogs == []


def test_status_tracker_follows_a_payment_made_in_the_browser(voila: Voila, context: BrowserContext) -> None:
    page = open_notebook(context, voila, "02_pay_and_track.ipynb")
    refresh = page.get_by_role("button", name="Refresh (GET)")
    expect(refresh).to_be_visible(timeout=RENDER_TIMEOUT)
    tracker = page.locator(".widget-vbox").filter(has=refresh)
    status = tracker.locator("span[title=status]")
    expect(tracker.locator("strong")).to_have_text("my-order-id-1")
    expect(status).to_have_count(0)  # nothing has happened to the order yet
    links = page.locator(".msp-order a")
    expect(links.first).to_be_visible()
    payment_url = links.first.get_attribute("href") or ""
    assert {a.get_attribute("href") for a in links.all()} == {payment_url}  # created order and panel agree
    tracker.scroll_into_view_if_needed()
    screenshot(page, "voila-02-1-waiting")

    payer = context.new_page()
    payer.goto(payment_url)
    screenshot(payer, "voila-02-2-methods")
    payer.get_by_role("link", name="iDEAL", exact=True).click()
    payer.locator("label:has(input[value=success])").click()
    screenshot(payer, "voila-02-3-ideal")
    payer.get_by_role("button", name="Test").click()
    payer.wait_for_url("https://www.example.com/client/notification?type=redirect&transactionid=my-order-id-1")

    expect(status).to_have_text("completed")  # the webhook reached the kernel's receiver
    expect(tracker.locator("span[title=financial_status]")).to_have_text("completed")
    # the timeline: the sandbox's attempt, joined with what the receiver made of it
    attempt = tracker.locator(".msp-timeline tr").nth(1)
    expect(attempt.locator("td")).to_have_text(
        [re.compile(r"2026-01-01T12:00:\d\d"), "#1 attempt 1", "completed / completed", "200", "✓", "✓", "–", "–"]
    )
    expect(tracker.locator(".msp-timeline")).to_contain_text("no retries due")
    # paid on the page, not with a button: the panel's buttons are off all the same, and say why
    for outcome in ("completed", "declined", "uncleared"):
        expect(page.get_by_role("button", name=f"pay: {outcome}")).to_be_disabled()
    expect(page.get_by_text("my-order-id-1 is completed, final: nothing is left to pay")).to_be_visible()
    panel_card = page.locator(".msp-order").nth(1)  # the panel's card, below the created order's
    expect(panel_card.locator("span[title=status]")).to_have_text("completed")
    tracker.scroll_into_view_if_needed()
    screenshot(page, "voila-02-4-completed")
    screenshot(tracker, "voila-02-5-timeline")
