"""The README opens with the two commands a newcomer needs. Its commands and snippets (and those
of docs/*.md) are run by tests/test_docs.py."""

from __future__ import annotations

from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_opens_with_the_two_commands():
    head = "\n".join(README.splitlines()[:20])
    assert "make demo" in head and "make test" in head


def test_the_command_list_runs_a_perp_scenario_with_run_montecarlo_and_calibrate():
    # tests/test_docs.py runs each of them (at small size)
    perp = [line.split()[1] for line in README.splitlines()
            if line.startswith("liqcascade ") and "examples/replay_2025_10_10_perps.toml" in line]
    assert {"run", "montecarlo", "calibrate"} <= set(perp)
    mc = next(line for line in README.splitlines() if line.startswith("liqcascade montecarlo examples/replay_2025_10_10_perps"))
    assert "--executor local" in mc
