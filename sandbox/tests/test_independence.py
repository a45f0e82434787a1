"""SPEC §12: the sandbox is WeChat, written from SPEC on its own — it imports nothing
from the portal's apps (its tests may use the portal's conftest fixtures, which
drive it over HTTP, but its code may not). A guard on every module, at any depth
of the file (an import inside a function counts too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SANDBOX = Path(__file__).resolve().parent.parent
PORTAL_PACKAGES = {"portal", "cards", "coins", "redemption", "distribution", "wechat"}


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def _modules():
    return sorted(
        p for p in SANDBOX.rglob("*.py") if "tests" not in p.relative_to(SANDBOX).parts
    )


def test_the_guard_sees_the_sandbox():
    names = {p.relative_to(SANDBOX).as_posix() for p in _modules()}
    assert {"views/codes.py", "backends/codes.py", "urls.py"} <= names


@pytest.mark.parametrize(
    "path", _modules(), ids=lambda p: p.relative_to(SANDBOX).as_posix()
)
def test_imports_nothing_from_the_portal(path):
    wrong = [
        f"{path.relative_to(SANDBOX)}:{line} imports {name}"
        for line, name in _imports(path)
        if name.split(".")[0] in PORTAL_PACKAGES
    ]
    assert not wrong, wrong


def test_the_guard_catches_a_nested_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from cards.rules import title\n", encoding="utf-8")
    assert (2, "cards.rules") in _imports(probe)
