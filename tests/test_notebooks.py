"""Rules for the committed notebooks; nbval itself runs them (`make test` passes --nbval)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from msp_explore.sandbox import DEFAULT_API_KEY

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
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
