"""The import contract of docs/architecture.md: dependencies point down the layers, peers of
one layer do not import each other, and no private name is imported across packages.

Read from the source text (ast), every import of every module under src/liqcascade,
including imports inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "liqcascade"

LAYERS: dict[str, int] = {
    "__init__": 0, "_typing": 0, "_jit": 0, "_registry": 0, "errors": 0,
    "model": 1,
    "protocols": 2, "markets": 2, "scenarios": 2,
    "engine": 3,
    "risk": 4,
    "io": 5,
    "execution": 6,
    "api": 7,
    "report": 8,
    "web": 9, "cli_system": 9,
    "cli": 10,
}
"""Top-level package or module -> layer; a module may import only from lower layers (and its
own package). Layer 2's packages are peers: the rules know nothing of venues or price paths."""


def _imports(path: Path):
    """(imported module, names, line) for every ``liqcascade`` import in the file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "liqcascade":
            if node.module == "liqcascade":
                for a in node.names:
                    yield f"liqcascade.{a.name}", [], node.lineno
            else:
                yield node.module, [a.name for a in node.names], node.lineno
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "liqcascade":
                    yield a.name, [], node.lineno


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _owner(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) == 1 else rel.parts[0]


FILES = sorted(p for p in SRC.rglob("*.py"))


def test_every_top_level_name_has_a_layer():
    tops = {_owner(p) for p in FILES}
    assert tops <= set(LAYERS), sorted(tops - set(LAYERS))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_dependencies_point_down(path):
    me = _owner(path)
    bad = []
    for module, names, line in _imports(path):
        other = "__init__" if module == "liqcascade.__version__" else _top(module)
        if other == me or other == "__version__":
            continue
        if LAYERS[other] >= LAYERS[me] and LAYERS[me] > 0:  # layer 0 (errors, typing, jit) is one base
            bad.append(f"line {line}: {me} (layer {LAYERS[me]}) imports {module} (layer {LAYERS[other]})")
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        if private:
            bad.append(f"line {line}: private {private} imported from another package ({module})")
    assert not bad, "\n".join(bad)


def test_the_contract_catches_an_upward_import(tmp_path):
    """The check itself fails on a file that imports upward or a private name."""
    f = SRC / "engine" / "static.py"
    text = "from liqcascade.io.store import ResultsStore\nfrom liqcascade.model.book import _check_amounts\n"
    fake = tmp_path / "static.py"
    fake.write_text(text)
    found = list(_imports(fake))
    assert [(m, LAYERS[_top(m)]) for m, _, _ in found] == [("liqcascade.io.store", 5), ("liqcascade.model.book", 1)]
    assert LAYERS[_top(found[0][0])] >= LAYERS[_owner(f)]
    assert any(n.startswith("_") for n in found[1][1])
