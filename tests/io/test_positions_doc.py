"""docs/positions.md: its TOML tables are the shipped examples' and its Python snippets run."""

from __future__ import annotations

import re
from pathlib import Path

from liqcascade.io.aave_config import load_aave_reserve_config

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "positions.md").read_text()


def test_toml_tables_are_in_the_shipped_examples():
    blocks = re.findall(r"```toml\n(.*?)```", DOC, flags=re.S)
    assert len(blocks) == 2
    assert blocks[0] in (REPO / "examples" / "small_book.toml").read_text()
    assert blocks[1] in (REPO / "examples" / "dune_export.toml").read_text()


def test_python_snippets_run(monkeypatch):
    monkeypatch.chdir(REPO)
    blocks = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)
    assert len(blocks) == 2
    for code in blocks:
        exec(compile(code, "docs/positions.md", "exec"), {})


def test_default_decimals_the_doc_states():
    p = load_aave_reserve_config().params
    dec = {s: int(d) for s, d in zip(p.symbols, p.decimals)}
    assert (dec["USDC"], dec["USDT"], dec["WBTC"]) == (6, 6, 8)
    assert {d for s, d in dec.items() if s not in ("USDC", "USDT", "WBTC")} == {18}
