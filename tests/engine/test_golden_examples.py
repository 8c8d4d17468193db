"""Refactoring invariance: every shipped example's stored tables are what they were.

The goldens in ``golden/examples.json`` were recorded by running the UNCHANGED engine
(``python -m tests.engine.golden_examples``) before the block-by-block engine was split
into steps (issue 11). They are not hand-calculated expectations: this test only holds
that a restructuring changes no number. Floats are compared bit for bit (a SHA-256 of
each column's bytes); a change of behaviour that is meant must re-record the goldens and
say why in its commit.
"""

from __future__ import annotations

import json

import pytest

from tests.engine.golden_examples import CASES, GOLDEN, digest, run_case

_GOLDENS = json.loads(GOLDEN.read_text())


def test_every_case_has_a_golden_and_the_goldens_stay_small():
    assert sorted(_GOLDENS) == sorted(c.name for c in CASES)
    assert GOLDEN.stat().st_size < 2_000_000


def _differences(want: dict, got: dict) -> list[str]:
    out = []
    for table in sorted(set(want) | set(got)):
        w, g = want.get(table), got.get(table)
        if w is None or g is None:
            out.append(f"{table}: {'missing' if g is None else 'new'} table")
            continue
        if w["shape"] != g["shape"]:
            out.append(f"{table}: shape {g['shape']} != {w['shape']}")
        if w["order"] != g["order"]:
            out.append(f"{table}: columns {g['order']} != {w['order']}")
        for col in sorted(set(w["columns"]) | set(g["columns"])):
            wc, gc = w["columns"].get(col), g["columns"].get(col)
            if wc != gc:
                out.append(f"{table}.{col}: {gc} != golden {wc}")
    return out


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c.name, marks=[pytest.mark.slow] if c.slow else []) for c in CASES]
)
def test_example_tables_are_unchanged(case):
    got = json.loads(json.dumps(digest(run_case(case))))  # the same JSON round trip as the goldens
    diffs = _differences(_GOLDENS[case.name], got)
    assert not diffs, f"{case.name}: " + "; ".join(diffs[:12])


def test_the_cases_exercise_the_engine():
    """Each simulated case liquidates something (a golden of an idle run guards nothing),
    except the USDe replay as written, whose oracle reads the pool that hardly moved."""
    for case in CASES:
        values = _GOLDENS[case.name]["summary"]["values"]
        if case.name != "replay_2025_10_10_usde":
            assert values["accounts_liquidated"] > 0, case.name
