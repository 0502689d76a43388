"""Rules for the committed notebooks; nbval itself runs them (`make test` passes --nbval).

Also here: every notebook runs top to bottom twice in one kernel (Run All, then Run All again), as
people re-run notebooks, and says the same the second time; and what each make target pins.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from msp_explore.sandbox import DEFAULT_API_KEY

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MARKERS = ("NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP")
# Anything that could be an API key: a long run of letters and digits (MultiSafepay's keys are 40),
# a Bearer token, or an api_key given a value. Hex digests and base64 blobs are told apart below.
KEY_LIKE = re.compile(r"(?:api_key[\"']?\s*[:=]\s*[\"']?|Bearer\s+)([A-Za-z0-9_-]{8,})|\b([A-Za-z0-9]{32,48})\b")


def code_cells(path: Path) -> list[dict]:
    return [cell for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "code"]


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 4


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_few_cells_are_exempt_from_output_checks(path: Path) -> None:
    cells = code_cells(path)
    exempt = [cell for cell in cells if any(marker in "".join(cell["source"]) for marker in MARKERS)]
    assert len(exempt) * 5 <= len(cells), f"{len(exempt)} of {len(cells)} code cells are exempted"
    for cell in exempt:  # each exemption says why, in a comment on the marker's line
        line = next(line for line in "".join(cell["source"]).splitlines() if any(m in line for m in MARKERS))
        assert len(line.split(None, 2)) > 2, f"exempted without a reason: {line!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_were_run_and_stored_with_outputs(path: Path) -> None:
    cells = code_cells(path)
    assert all(cell["execution_count"] is not None for cell in cells), "run `make notebooks` to store outputs"


def key_like(text: str) -> set[str]:
    found = set()
    for match in KEY_LIKE.finditer(text):
        value = match.group(1) or match.group(2)
        if value == DEFAULT_API_KEY or re.fullmatch(r"[0-9a-f]+|[0-9]+|[A-Z0-9]+", value):
            continue  # the sandbox's own key; digests, IDs and upper-case codes are not keys
        found.add(value)
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_key_in_committed_notebooks(path: Path) -> None:
    # the whole file: sources, outputs, and widget state in the metadata; only images are left out,
    # as base64 noise matches anything
    book = json.loads(path.read_text())
    for cell in book["cells"]:
        for output in cell.get("outputs", []):
            for mime in [m for m in output.get("data", {}) if m.startswith("image/")]:
                del output["data"][mime]
    text = json.dumps(book, indent=1)
    allowed = {
        # session IDs in the sandbox's payment URLs: 35 characters of the seeded generator
        value for value in key_like(text) if re.search(rf"/connect/{value}/|\"session_id\": \"{value}\"", text)
    }  # fmt: skip
    assert key_like(text) - allowed == set()


def test_the_key_scan_finds_keys() -> None:
    assert key_like('client = Client(api_key="8HHhGgRWrA3O7NswjmgwyH7buPPCGnR5AkwAQyqI")')
    assert key_like("Authorization: Bearer s3cr3tTokenValue")
    assert not key_like(f'"api_key": "{DEFAULT_API_KEY}"')


# -- re-running -----------------------------------------------------------------------------------------------
def sanitized(text: str) -> str:
    """``text`` with nbval's sanitizing patterns applied (what cannot repeat: ports, real times)."""
    config = (ROOT / "notebooks" / "sanitize.cfg").read_text()
    for regex, replace in re.findall(r"^regex: (.*)$\n^replace: (.*)$", config, re.M):
        text = re.sub(regex, replace, text)
    return text


def said(cells: list[dict]) -> list[list[str]]:
    """What each code cell printed or returned, as text (widgets' views and images left out)."""
    shown = []
    for cell in cells:
        texts = []
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                texts.append(output["text"])
            elif "data" in output:
                texts.append(output["data"].get("text/plain", ""))
        shown.append([sanitized(text) for text in texts])
    return shown


@pytest.fixture
def venv_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A "python3" kernel that is this venv's Python, whatever kernels the machine has: JUPYTER_PATH
    comes first when Jupyter looks for one."""
    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "venv", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    return "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_notebook_runs_twice_in_one_kernel(path: Path, venv_kernel: str) -> None:
    book = nbformat.read(path, as_version=4)
    code = [cell for cell in book.cells if cell.cell_type == "code"]
    for cell in code:
        cell.outputs, cell.execution_count = [], None
    again = [copy.deepcopy(cell) for cell in book.cells]
    book.cells = book.cells + again  # Run All, then Run All again, without restarting the kernel
    client = NotebookClient(book, kernel_name=venv_kernel, timeout=300, allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}})  # fmt: skip
    client.execute()  # raises CellExecutionError, naming the cell, at the first error

    first = said([c for c in book.cells[: len(book.cells) // 2] if c.cell_type == "code"])
    second = said([c for c in book.cells[len(book.cells) // 2 :] if c.cell_type == "code"])
    assert first == second, "the second run said something else than the first"


# -- make -------------------------------------------------------------------------------------------------------
def make_dry_run(target: str) -> list[str]:
    """The command lines ``make -n target`` would run, with a key in the environment as a user would have."""
    env = {**os.environ, "MSP_API_KEY": "a-users-own-test-key-0000", "MSP_BASE_URL": "https://testapi.example"}
    done = subprocess.run(["make", "-n", target], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def test_make_lab_keeps_the_users_environment() -> None:
    [lab] = [line for line in make_dry_run("lab") if "jupyter lab" in line]
    words = shlex.split(lab)
    assert words[0].endswith("jupyter") and words[1:] == ["lab", "notebooks/"], lab
    assert "MSP_API_KEY" not in lab and "TQDM_DISABLE" not in lab  # the key reaches the notebooks; tqdm draws


@pytest.mark.parametrize(("target", "tool"), [("demo", "nbconvert"), ("notebooks", "nbconvert"), ("test", "pytest")])
def test_the_other_targets_pin_the_sandbox(target: str, tool: str) -> None:
    [line] = [line for line in make_dry_run(target) if tool in line and "pip" not in line][:1]
    pins = "env -u MSP_API_KEY -u MSP_BASE_URL -u MSP_JOURNAL TQDM_DISABLE=1"
    assert pins in line, line
    readme = (ROOT / "README.md").read_text()
    assert f"`make {target}`" in readme  # described, with what it pins (see the README's make table)


# -- waiting in a kernel, as a person does ---------------------------------------------------------------------
WAITING = [
    """import os, signal, threading
import msp_explore as msp
from msp_explore import widgets
client = msp.connect()
client.sandbox.reset()
receiver = msp.WebhookReceiver(client=client).start()
order = msp.tutorial_order(order_id="waited-1", gateway="VISA")
order["payment_options"]["notification_url"] = receiver.url
client.create_order(order)
tracker = widgets.status_tracker("waited-1", receiver=receiver, client=client)
client.sandbox.pay("waited-1", "4462000000000003")  # a Visa test card: uncleared, completed 3 minutes later""",
    "tracker.wait(timeout=1)",
    # what Jupyter's interrupt button does to a local kernel: SIGINT, while the cell waits
    """threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()
tracker.wait(timeout=600)""",
    "client.sandbox.advance(180)\ntracker.wait(timeout=10)['status']",  # by its webhook
    "receiver.stop()",
]


def test_waiting_in_a_kernel_says_where_the_order_stands_in_a_short_traceback(venv_kernel: str) -> None:
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell(source) for source in WAITING]
    NotebookClient(book, kernel_name=venv_kernel, timeout=120, allow_errors=True).execute()
    setup, timed_out, interrupted, decided, stopped = (cell.outputs for cell in book.cells)

    plain = re.compile(r"\x1b\[[0-9;]*m")
    errors = {}
    for outputs in (timed_out, interrupted):
        [error] = [o for o in outputs if o.output_type == "error"]
        trace = plain.sub("", "\n".join(error.traceback))
        assert trace.count("\nFile ") + trace.count("\nCell ") <= 2, trace  # the cell's line and wait(), no deeper
        assert "threading.py" not in trace, trace
        errors[error.ename] = error.evalue
    assert errors["TimeoutError"].startswith("waited-1 is still uncleared / uncleared after 1 s: pay it on")
    assert errors["KeyboardInterrupt"] == "stopped waiting for waited-1, which is uncleared / uncleared"
    # each wait showed the tracker in its own cell, saying what it waits for
    shown = [o for o in timed_out if o.output_type == "display_data"]
    assert shown and "waiting up to 1 s for a final status (completed, shipped, declined" in shown[0].data["text/html"]
    assert decided[-1].data["text/plain"] == "'completed'"
    # no server, thread or log line wrote into any cell
    streams = [o for cell in book.cells for o in cell.outputs if o.output_type == "stream"]
    assert streams == [], streams
