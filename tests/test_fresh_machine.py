"""A new user's first command, on a fresh clone: `make demo` sets everything up and runs every notebook."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WANTED = bool(os.environ.get("CI") or os.environ.get("MSP_SLOW"))
LAST_LINE = "Executed notebooks: build/notebooks/   HTML copies: build/html/"
STATUSES = {"initialized", "completed", "uncleared", "declined", "void", "expired", "cancelled"}


def fresh_environment() -> dict[str, str]:
    """This environment without what a fresh shell lacks: this venv, a parent make, MSP_* and Jupyter settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MSP_", "JUPYTER", "PYTEST_", "MAKE"))
        and k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "MFLAGS", "IPYTHONDIR"}
    }
    if sys.prefix != sys.base_prefix:  # running from a venv: take its bin/ off PATH
        venv_bin = str(Path(sys.prefix) / "bin")
        env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return env


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.slow
@pytest.mark.skipif(not WANTED, reason="slow (clones the repo, installs a venv, runs every notebook): set MSP_SLOW=1")
def test_make_demo_on_a_fresh_clone(tmp_path: Path) -> None:
    """Clone the repository's committed HEAD and run `make demo` in the clone, as a new user would.

    It checks what is committed: uncommitted work is not in the clone. `make demo` creates the clone's
    own .venv (pip reaches the package registry), so this takes minutes. It always runs in CI (CI set);
    elsewhere it is skipped unless MSP_SLOW=1.
    """
    for tool in ("git", "make"):
        if shutil.which(tool) is None:
            pytest.fail(f"`{tool}` is needed to check a fresh clone")
    head = run(["git", "rev-parse", "HEAD"], ROOT).strip()
    clone = tmp_path / "msp_explore"
    run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(clone)], tmp_path)
    run(["git", "checkout", "--quiet", "--detach", head], clone)

    check_make_demo(clone)


def tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


def check_make_demo(checkout: Path) -> None:
    """Run `make demo` in a checkout with no .venv yet; check its output and the files it writes."""
    try:
        demo = subprocess.run(
            ["make", "demo"], cwd=checkout, env=fresh_environment(), capture_output=True, text=True, timeout=600
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`make demo` took more than {exc.timeout} s:\n{tail(str(exc.stdout))}\n{tail(str(exc.stderr))}")
    assert demo.returncode == 0, f"`make demo` exited {demo.returncode}:\n{tail(demo.stdout)}\n{tail(demo.stderr)}"

    # The output ends with the method x scenario table, then the line saying where the notebooks went.
    lines = demo.stdout.rstrip().splitlines()
    assert lines[-1] == LAST_LINE
    assert lines[-2] == ""
    heading = next(i for i, line in enumerate(lines) if line.startswith("Every test scenario of "))
    assert lines[heading + 1].split() == ["label", "status", "financial_status"]
    assert lines[heading + 2].split() == ["method", "scenario"]
    rows = lines[heading + 3 : -2]
    methods = {line.split()[0] for line in rows if not line.startswith(" ")}
    for row in rows:
        assert set(row.split()[-2:]) <= STATUSES, row
    # every method and scenario in the checkout's own catalog; run_scenarios leaves out the
    # generic CREDITCARD, whose cards the brands' rows already cover
    offered = run([str(checkout / ".venv" / "bin" / "python"), "-c", _COUNT_SCENARIOS], checkout).split()
    assert methods == set(offered[1:])
    assert len(rows) == int(offered[0])
    count = int(re.match(r"Every test scenario of (\d+) payment methods", lines[heading]).group(1))  # type: ignore[union-attr]
    assert count == len(methods)

    notebooks = sorted(p.stem for p in (checkout / "notebooks").glob("*.ipynb"))
    assert sorted(p.stem for p in (checkout / "build" / "notebooks").glob("*.ipynb")) == notebooks
    assert sorted(p.stem for p in (checkout / "build" / "html").glob("*.html")) == notebooks


_COUNT_SCENARIOS = """
from msp_explore.sandbox.catalog import GATEWAYS
runs = {g.id: len(g.scenarios) + (g.fallback is not None) for g in GATEWAYS.values() if g.id != "CREDITCARD"}
print(sum(runs.values()), *runs)
"""
