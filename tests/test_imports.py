"""The package's modules keep to each other's public names, and to other packages' public names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "msp_explore"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def private_imports(path: Path) -> list[str]:
    """``from X import _name`` where X is another package, or a module of ours outside this one's subpackage."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, *(node.module.split(".") if node.module else [])])
            else:
                source = node.module or ""
            names = [alias.name for alias in node.names]
            ours = source == "msp_explore" or source.startswith("msp_explore.")
            # a module's own subpackage: msp_explore.sandbox.* for msp_explore/sandbox/*.py
            home = package if package != "msp_explore" else None
            inside = ours and home is not None and (source == home or source.startswith(home + "."))
            for name in names:
                if name.startswith("_") and not name.startswith("__") and not inside:
                    found.append(f"{module}: from {source} import {name} (line {node.lineno})")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            if isinstance(node.value, ast.Name) and node.value.id in {"requests", "urllib3", "werkzeug", "flask"}:
                found.append(f"{module}: {node.value.id}.{node.attr} (line {node.lineno})")
    return found


def test_no_module_imports_another_ones_private_names() -> None:
    found = [line for path in sorted(PACKAGE.rglob("*.py")) for line in private_imports(path)]
    assert found == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from requests.models import _copy_cookie_jar\n", ["from requests.models import _copy_cookie_jar"]),
        ("from ..client import _segment\n", ["from msp_explore.client import _segment"]),
        ("from .catalog import _IDEAL\n", []),  # within msp_explore.sandbox: its own subpackage
        ("from .. import _server\n", ["from msp_explore import _server"]),
        ("x = requests._internal\n", ["requests._internal"]),
        ("from .notify import Notifier\n", []),
    ],
)
def test_the_check_can_fail(tmp_path: Path, source: str, expected: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "msp_explore" / "sandbox"
    folder.mkdir(parents=True)
    path = folder / "store.py"
    path.write_text(source, encoding="utf-8")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", tmp_path / "msp_explore")
    found = private_imports(path)
    assert [f.split(": ", 1)[1].rsplit(" (line", 1)[0] for f in found] == expected
