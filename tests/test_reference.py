"""The tests run from the repository alone: nothing refers to a path outside it, and tests/reference/README.md
lists exactly the files in tests/reference/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import REFERENCE, reference

ROOT = Path(__file__).resolve().parents[1]
SCANNED = [
    "tests", "benchmarks", "msp_explore", "notebooks", "examples", ".ci", "Makefile", "README.md", "pyproject.toml",
]  # fmt: skip
SKIPPED_DIRS = {"__pycache__", ".ipynb_checkpoints"}  # generated locally, never committed

# Paths that exist only beside this checkout: the workspace's shared folder, or any absolute workspace path.
# Spelled in pieces, so that this file holds no such path itself and is scanned like every other.
SHARED, WORKSPACE = ".." + "/shared", "/" + "work/"
OUTSIDE = re.compile(re.escape(SHARED) + r"\b|(?<![\w.:/])" + re.escape(WORKSPACE))
# Path(__file__) climbed with .parents[n] or .parent.parent...: too far up leaves the repository.
ANCESTOR = re.compile(r"Path\(__file__\)(?:\.resolve\(\)|\.absolute\(\))?(?:\.parents\[(\d+)\]|((?:\.parent\b)+))")


def outside_references(relative: str, text: str) -> list[str]:
    """What in ``text``, the content of the file at ``relative`` (from the repository root), points outside."""
    found = [match.group(0) for match in OUTSIDE.finditer(text)]
    folders = len(Path(relative).parts) - 1  # parents[folders] of the file is the repository root
    for match in ANCESTOR.finditer(text):
        index = int(match.group(1)) if match.group(1) is not None else match.group(2).count(".parent") - 1
        if index > folders:
            found.append(match.group(0))
    return found


def scanned_files() -> list[Path]:
    files = []
    for name in SCANNED:
        top = ROOT / name
        candidates = [top] if top.is_file() else sorted(top.rglob("*"))
        for path in candidates:
            relative = path.relative_to(ROOT)
            if path.is_file() and not SKIPPED_DIRS & set(relative.parts) and path.suffix != ".pyc":
                files.append(path)
    return files


def test_scanner_finds_paths_outside_the_repository() -> None:
    climb = "Path(__file__)" + ".resolve().parents"  # pieces again: the scan below reads this file too
    assert outside_references("tests/conftest.py", climb + '[2] / "elsewhere"')
    assert outside_references("tests/conftest.py", "Path(__file__)" + ".parent.parent.parent")
    assert outside_references("notebooks/x.ipynb", f'"source": ["open(\\"{SHARED}/a.md\\")"]')
    assert outside_references("Makefile", f"cp {WORKSPACE}elsewhere/x .")
    assert not outside_references("tests/conftest.py", "Path(__file__).resolve().parents[1] / 'notebooks'")
    assert not outside_references("tests/conftest.py", "Path(__file__).resolve().parent / 'reference'")
    assert not outside_references("msp_explore/sandbox/app.py", climb + "[2]")  # two folders down: the root
    assert not outside_references("notebooks/x.ipynb", 'journal.export("../data/exports")')
    assert not outside_references("README.md", f"https://example.com{WORKSPACE}elsewhere")


def test_nothing_refers_to_a_path_outside_the_repository() -> None:
    files = scanned_files()
    assert ROOT / "tests" / "conftest.py" in files and ROOT / "Makefile" in files
    offenders = {}
    for path in files:
        found = outside_references(str(path.relative_to(ROOT)), path.read_bytes().decode("utf-8", errors="replace"))
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert not offenders


def listed_files() -> list[str]:
    readme = reference("README.md").read_text(encoding="utf-8")
    _, _, section = readme.partition("\n## Files\n")
    return re.findall(r"^- `([^`]+)`$", section, re.M)


def test_reference_readme_lists_exactly_the_files_there() -> None:
    listed = listed_files()
    assert len(listed) == len(set(listed)), "a file is listed twice"
    present = {str(p.relative_to(REFERENCE)) for p in REFERENCE.rglob("*") if p.is_file()} - {"README.md"}
    assert not set(listed) - present, "listed in tests/reference/README.md but missing"
    assert not present - set(listed), "in tests/reference/ but not listed in its README.md"
    assert "multisafepay-docs/openapi/docsopenapi.yaml" in listed


def test_missing_reference_material_fails_rather_than_skips() -> None:
    with pytest.raises(pytest.fail.Exception, match="no-such-file.json"):
        reference("no-such-file.json")
