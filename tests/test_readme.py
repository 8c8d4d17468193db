"""The README opens with the two commands a newcomer needs. Its commands and snippets (and those
of docs/*.md) are run by tests/test_docs.py."""

from __future__ import annotations

from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_opens_with_the_two_commands():
    head = "\n".join(README.splitlines()[:20])
    assert "make demo" in head and "make test" in head
