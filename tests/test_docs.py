"""Every command and Python snippet of README.md and docs/*.md runs, as written, in the suite.

What is run: every line starting with ``liqcascade `` in a ```console or ```sh block (a line
ending in ``\\`` continues on the next), and every ```python block (the blocks of one page run in
order in one namespace, like a notebook). ```toml blocks are loaded as scenarios (a block without
``name`` is a fragment: its tables replace those of ``examples/small_book.toml``). Illustrative
output, formulas and usage synopses are ```text (or unlabelled) blocks and are not run; ``make``
targets are not run here (``make test`` is this suite; ``make demo`` runs the default scenario,
which ``liqcascade run`` of the embedded default covers in tests/test_cli.py).

Where they run: in a fresh temporary folder holding a copy of ``examples/`` (and a link to
``src/``), so the default store ``liqcascade-results`` and every file a command writes land
there, never in the checkout.

At small size -- the documented mechanism (README, "Docs are tested"): in that copy every
``n_accounts`` above :data:`MAX_ACCOUNTS` and every ``blocks`` above :data:`MAX_BLOCKS` is set
to it, and in the commands and snippets
``--paths N`` / ``paths=N`` become :data:`PATHS` and ``range(400)`` (a coverage loop) becomes
``range(10)``. Each rewrite must apply somewhere, so a stale one fails. ``PATH/`` (the shared
data folder, ``$LIQCASCADE_SHARED_DATA``) is substituted; a command needing an absent shared
file is skipped, saying so. ``RUN_ID`` is the id the page's last ``liqcascade run`` printed.
"""

from __future__ import annotations

import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from liqcascade.cli import main
from liqcascade.io import schema_doc

from .conftest import REPO, SHARED_DATA

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
MAX_ACCOUNTS = 500
MAX_BLOCKS = 300
PATHS = 4
REWRITES = (  # (pattern, replacement) applied to commands and snippets: the small-size mechanism
    (r"--paths \d+", f"--paths {PATHS}"),
    (r"\bpaths=\d+", f"paths={PATHS}"),
    (r"range\(400\)", "range(10)"),
)
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", flags=re.S | re.M)


def _blocks(page: Path, langs: tuple[str, ...]) -> list[str]:
    return [body for lang, body in _BLOCK.findall(page.read_text()) if lang in langs]


def _commands(page: Path) -> list[str]:
    out = []
    for body in _blocks(page, ("console", "sh", "bash", "shell")):
        text = re.sub(r"\\\n\s*", " ", body)
        for line in text.splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("liqcascade "):
                out.append(line)
    return out


def _small(text: str) -> str:
    for pattern, repl in REWRITES:
        text = re.sub(pattern, repl, text)
    return text


def _cases():
    for page in PAGES:
        cmds = _commands(page)
        if cmds:
            yield pytest.param(page, cmds, id=f"{page.name}-commands")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A copy of examples/ with books at most MAX_ACCOUNTS accounts, and src/ linked."""
    root = tmp_path_factory.mktemp("docs")
    shutil.copytree(REPO / "examples", root / "examples")
    for toml in (root / "examples").glob("*.toml"):
        text = re.sub(r"(?m)^n_accounts = (\d+)",
                      lambda m: f"n_accounts = {min(int(m.group(1)), MAX_ACCOUNTS)}", toml.read_text())
        toml.write_text(re.sub(r"(?m)^blocks = (\d+)", lambda m: f"blocks = {min(int(m.group(1)), MAX_BLOCKS)}", text))
    (root / "src").symlink_to(REPO / "src")
    return root


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(args: list[str], cwd: Path) -> None:
    """A server command: started for real on a free port, until its first page answers."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "liqcascade.cli", *args, "--port", str(port)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read()[-2000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    assert r.status == 200
                    return
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"liqcascade {' '.join(args)}: no answer on port {port} within 120 s")
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.mark.slow
@pytest.mark.parametrize(("page", "commands"), list(_cases()))
def test_every_documented_command_runs(page, commands, workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    runner = CliRunner()
    last_run, skipped = None, []
    for cmd in commands:
        cmd = _small(cmd)
        if "PATH/" in cmd:
            name = re.search(r"PATH/(\S+)", cmd).group(1)
            if not (SHARED_DATA / name).is_file():
                skipped.append(cmd)
                continue
            cmd = cmd.replace("PATH/", f"{SHARED_DATA}/")
        args = shlex.split(cmd)[1:]
        if "RUN_ID" in args:
            assert last_run, f"{page.name}: `{cmd}` needs a run id: no `liqcascade run` before it"
            args = [last_run if a == "RUN_ID" else a for a in args]
        if args[0] == "serve":
            _serve(args, workdir)
            continue
        res = runner.invoke(main, args)
        assert res.exit_code == 0, f"{page.name}: {cmd}\n{res.output[-2000:]}"
        m = re.search(r"^run ([0-9a-f]{16})", res.output, flags=re.M)
        if m and args[0] == "run":
            last_run = m.group(1)
    if skipped:
        pytest.skip(f"shared data absent (set LIQCASCADE_SHARED_DATA) for: {skipped}")


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if _blocks(p, ("python",))], ids=lambda p: p.name)
def test_every_python_snippet_runs(page, workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    namespace: dict = {"__name__": "docs_snippet"}
    for i, code in enumerate(_blocks(page, ("python",))):
        exec(compile(_small(code), f"{page.name} python block {i + 1}", "exec"), namespace)


def test_the_small_size_rewrites_are_all_used():
    """A rewrite that no page needs any more is stale: drop it (and its line in the README)."""
    text = "\n".join("\n".join(_blocks(p, ("console", "sh", "python"))) for p in PAGES)
    unused = [pat for pat, _ in REWRITES if not re.search(pat, text)]
    assert not unused


def test_toml_blocks_are_scenarios_that_load(workdir):
    """Each ```toml block loads: a whole scenario (system or single market), or a fragment
    whose tables replace those of examples/small_book.toml (written beside the examples, so
    its relative paths are the examples')."""
    from liqcascade.api import load_scenario, load_system
    from liqcascade.io.config import parse_scenario

    blocks = [(p, b) for p in PAGES for b in _blocks(p, ("toml",))]
    assert blocks
    base = tomllib.loads((REPO / "examples" / "small_book.toml").read_text())
    for i, (page, body) in enumerate(blocks):
        data = tomllib.loads(body)
        f = workdir / "examples" / f"doc_{page.stem}_{i}.toml"
        f.write_text(body)
        if "markets" in data:
            load_system(f)
        elif "name" in data:
            load_scenario(f)
        else:
            parse_scenario({**base, **data}, str(f))


def test_scenario_reference_is_the_schemas():
    """docs/scenarios.md holds exactly what the schema generates: a key added, renamed or
    redescribed without regenerating the page fails here."""
    page = (REPO / "docs" / "scenarios.md").read_text()
    start, end = page.index(schema_doc.BEGIN), page.index(schema_doc.END) + len(schema_doc.END)
    assert page[start:end] + "\n" == schema_doc.markdown()


def test_scenario_reference_lists_every_key():
    """Independently of the generator's formatting: every property of every model appears as a
    key row of its table."""
    from liqcascade.io.config import config_json_schema

    schema = config_json_schema()
    page = (REPO / "docs" / "scenarios.md").read_text()
    models = [schema, *schema["$defs"].values()]
    for model in models:
        for key in model.get("properties", {}):
            assert f"| `{key}` |" in page, f"key {key} of {model.get('title')} is not in docs/scenarios.md"


def test_scenario_reference_lists_every_perp_key():
    """The perp scenario file's keys (`liqcascade schema --perps`) are in the reference too:
    every property of every perp model appears as a key row under a `[perps...]` heading."""
    from liqcascade.io.perp_scenario import PerpScenarioConfig

    schema = PerpScenarioConfig.model_json_schema()
    page = (REPO / "docs" / "scenarios.md").read_text()
    perp_part = page[page.index("### `[perps]`"):page.index(schema_doc.END)]
    for model in [schema["$defs"]["PerpsConfig"], *schema["$defs"].values()]:
        for key in model.get("properties", {}):
            assert f"| `{key}` |" in perp_part, f"perp key {key} of {model.get('title')} is not in docs/scenarios.md"
    for table in ("[perps]", "[perps.book]", "[perps.book.synthetic]", "[perps.venue]", "[perps.path]",
                  "[perps.liquidation_map]"):
        assert f"### `{table}`" in perp_part


def test_links_between_pages_resolve():
    """Every relative link of README.md and docs/*.md, and every docs/*.md a --help names, exists."""
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).is_file(), f"{page.name} links to missing {target}"
    runner = CliRunner()
    for name, cmd in main.commands.items():
        help_text = runner.invoke(main, [name, "--help"]).output
        for doc in re.findall(r"docs/[\w.-]+\.md", help_text):
            assert (REPO / doc).is_file(), f"`liqcascade {name} --help` names missing {doc}"


def test_readme_default_book_size():
    """The README's "a seeded synthetic book of 200,000 accounts" is the embedded default's (the
    list of examples is checked by tests/test_store_cli.py)."""
    readme = re.sub(r"\s+", " ", (REPO / "README.md").read_text())
    default = tomllib.loads((REPO / "src/liqcascade/data/scenarios/default.toml").read_text())
    assert default["positions"]["n_accounts"] == 200_000 and "synthetic book of 200,000 accounts" in readme


@pytest.mark.slow
def test_calibration_examples_of_calibration_md():
    """The two static examples of docs/calibration.md give what the page shows: a threshold of
    0.859193 (current 0.83) in 15 evaluations; a supply cap of 1,834.27 WETH (current 1,077) on a
    curve that is not monotone, and bad debt of $4.88k there and $144k at 1,842.68."""
    from liqcascade.execution.calibrate import calibrate

    page = re.sub(r"\s+", " ", (REPO / "docs" / "calibration.md").read_text())
    book = REPO / "examples" / "small_book.toml"
    lt = calibrate(book, "liquidation_threshold", "WETH", 5000, kind="static", store=None).summary
    assert round(lt["chosen"], 6) == 0.859193 and lt["current"] == pytest.approx(0.83) and lt["evaluations"] == 15
    assert "chosen liquidation_threshold: 0.859193 (current 0.83; found; 15 evaluations" in page
    cap = calibrate(book, "supply_cap", "WETH", 50000, kind="static", store=None)
    s, cand = cap.summary, cap["candidates"].set_index("value")["estimate"]
    assert f"{s['chosen']:,.2f}" == "1,834.27" and f"{s['current']:,.0f}" == "1,077" and not s["monotone"]
    assert "chosen supply_cap: 1,834.27 (current 1,077; found; the explored curve is not monotone" in page
    near = cand[(cand.index > 1834.0) & (cand.index < 1834.5)]
    jump = cand[(cand.index > 1842.5) & (cand.index < 1843.0)]
    assert round(near.iloc[0] / 1e3, 2) == 4.88 and round(jump.iloc[0] / 1e3) == 144


def test_console_blocks_hold_only_commands_the_suite_runs():
    """A console/sh line is a `liqcascade` command (run above) or a `make` target (named in the
    module docstring); anything else (output, another tool) belongs in a ```text block."""
    strays = []
    for page in PAGES:
        for body in _blocks(page, ("console", "sh", "bash", "shell")):
            for line in re.sub(r"\\\n\s*", " ", body).splitlines():
                line = line.split(" #")[0].strip()
                if line and not line.startswith("#") and not line.startswith(("liqcascade ", "make ")):
                    strays.append(f"{page.name}: {line}")
    assert not strays, strays
