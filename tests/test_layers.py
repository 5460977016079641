"""Data flows one way (docs/design.md §1): no module imports one above it.

core < outputs < notify < serve < build < cli: the server sends the email sign-up's
confirmations with notify's modules, and notify never needs the server; only the
faces and the CLI know Flask, and only outputs/ical.py imports icalendar.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "calfeed"
LAYERS = {"core": 0, "outputs": 1, "notify": 2, "serve": 3, "build": 4}
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE)


def imports(path: Path) -> list[str]:
    """Every module a file imports, at any depth (lazy imports in functions too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_one_above_it(path):
    layer = path.relative_to(PACKAGE).parts[0]
    for name in imports(path):
        parts = name.split(".")
        if parts[0] == "calfeed" and len(parts) > 1:
            target = parts[1]
            assert target not in ("cli", "settings"), f"{name}: the top imports the layers"
            if target in LAYERS and target != layer:
                assert LAYERS[target] < LAYERS[layer], f"{name} is above {layer}"
        if parts[0] == "flask":
            assert layer in ("serve", "build"), f"{name}: only the faces know Flask"
        if parts[0] == "icalendar":
            assert path == PACKAGE / "outputs" / "ical.py", f"{name}: only ical.py writes iCalendar"


def test_every_layer_has_modules():
    # The test above looks at something: each layer's folder holds modules.
    assert {p.relative_to(PACKAGE).parts[0] for p in MODULES} == set(LAYERS)
