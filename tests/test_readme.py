"""The README's commands and Python snippets run as written (with the store in a temp dir)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from liqcascade.cli import main

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_readme_opens_with_the_two_commands():
    head = "\n".join(README.splitlines()[:20])
    assert "make demo" in head and "make test" in head


def test_readme_cli_commands_run(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    store = tmp_path / "store"
    lines = [ln.split("#")[0].strip() for b in _blocks("console") for ln in b.splitlines()]
    commands = [ln for ln in lines if ln.startswith("liqcascade ")]
    assert len(commands) >= 6
    last_run = None
    runner = CliRunner()
    for cmd in commands:
        args = shlex.split(cmd)[1:]
        if "RUN_ID" in args:
            assert last_run, "a README command needs a run id before any run"
            args = [last_run if a == "RUN_ID" else a for a in args]
        # every command that stores results writes into the temp store, never the checkout
        if any(p.name == "out" for p in main.commands[args[0]].params) and "--out" not in args:
            args += ["--out", str(store)]
        res = runner.invoke(main, args)
        assert res.exit_code == 0, f"{cmd}\n{res.output[-1500:]}"
        m = re.search(r"^run ([0-9a-f]{16})", res.output, flags=re.M)
        if m and args[0] == "run":
            last_run = m.group(1)


def test_readme_python_snippets_run(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    blocks = _blocks("python")
    assert blocks
    for code in blocks:
        code = code.replace('"liqcascade-results"', repr(str(tmp_path / "store")))
        exec(compile(code, "README.md", "exec"), {})
