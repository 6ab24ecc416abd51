"""Rules of the agent's shape, checked on its source: the leaves import nothing of the agent
(its exceptions and settings are usable without the pipeline, numpy or GStreamer), and no
`asyncio.wait_for` (on Python 3.11 it can drop a cancellation)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import agent

AGENT = Path(agent.__file__).parent
LEAVES = ["errors.py", "config.py"]


def imported_modules(path: Path) -> set[str]:
    """Every module an `import` or `from ... import` names, lazy and TYPE_CHECKING ones too."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            found.add("." * node.level + node.module)
    return found


@pytest.mark.parametrize("leaf", LEAVES)
def test_a_leaf_imports_nothing_of_the_agent(leaf: str) -> None:
    internal = {
        name for name in imported_modules(AGENT / leaf) if name.split(".")[0] in {"agent", ""}
    }
    assert internal == set()


def test_the_import_scan_sees_internal_imports() -> None:
    # The check above must be able to fail: the app imports half the agent.
    assert "agent.config" in imported_modules(AGENT / "app.py")


def wait_for_calls(path: Path) -> list[int]:
    """Lines that use `asyncio.wait_for` (as an attribute, or imported by name)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr == "wait_for":
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "asyncio":
            lines += [node.lineno for alias in node.names if alias.name == "wait_for"]
    return sorted(lines)


def test_the_agent_never_uses_asyncio_wait_for(tmp_path: Path) -> None:
    found = {p.name: lines for p in AGENT.glob("*.py") if (lines := wait_for_calls(p))}
    assert found == {}
    # ...and the scan finds one where there is one.
    sample = tmp_path / "sample.py"
    sample.write_text("import asyncio\nfrom asyncio import wait_for\nasyncio.wait_for(x, 1)\n")
    assert wait_for_calls(sample) == [2, 3]
