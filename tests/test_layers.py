"""The import contracts of docs/architecture.md hold: layers, no cycles, nothing private shared.

import-linter reads ``[tool.importlinter]`` in pyproject.toml and counts imports inside
functions too, so a cycle cannot hide behind a function-level import. ``make lint`` and CI run
the same check as ``lint-imports``; this test keeps it in ``pytest`` as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "tuneforge"


def test_import_contracts_are_kept(monkeypatch):
    cli = pytest.importorskip("importlinter.cli", reason="import-linter is a dev dependency")
    monkeypatch.chdir(ROOT)
    assert cli.lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def _owner(module: str) -> str:
    """The package whose private names ``module``'s are (a package's own, or its parent's)."""
    return module if (SOURCE.parent / module.replace(".", "/")).is_dir() else module.rsplit(".", 1)[0]


def private_imports(source: str, importer: str) -> list[str]:
    """``from tuneforge.x import _name`` in ``source`` where ``_name`` belongs to a package
    other than ``importer``'s (or one above it)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tuneforge."):
            for alias in node.names:
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                if private and not importer.startswith(_owner(node.module) + "."):
                    found.append(f"{importer}: from {node.module} import {alias.name}")
    return found


def test_no_module_imports_another_packages_private_names():
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        importer = ".".join(path.relative_to(SOURCE.parent).with_suffix("").parts)
        found += private_imports(path.read_text(), importer)
    assert found == []


def test_the_private_name_check_sees_private_imports():
    source = ("from tuneforge.config.messages import _UNION_TAGS\n"
              "from tuneforge.tuning import _x\n"
              "from tuneforge.tuning.plan import _y, public\n")  # fmt: skip
    assert private_imports(source, "tuneforge.tuning.space") == [
        "tuneforge.tuning.space: from tuneforge.config.messages import _UNION_TAGS"]
    assert len(private_imports(source, "tuneforge.report.study")) == 3
