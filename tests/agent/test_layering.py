"""The agent's leaves import nothing of the agent: its exceptions and its settings can be
used (by the CLI, bench, the server's demo writer) without the pipeline, numpy or GStreamer."""

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
