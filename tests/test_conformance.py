"""The conformance runner: every bundled vector passes, and bad files fail loudly."""

from __future__ import annotations

from pathlib import Path

import pytest

from liqcascade.protocols.conformance import (
    REGISTRY,
    bundled_vector_files,
    format_results,
    load_vector_file,
    run_paths,
    run_vector,
    run_vector_file,
)
from liqcascade.errors import DataError

FILES = bundled_vector_files()
CASES = [(f, v) for f in FILES for v in load_vector_file(f).vectors]


def test_bundled_files_are_found():
    names = {f.name for f in FILES}
    assert {"math.yaml", "v3_0_sparklend.yaml", "v3_3.yaml", "v3_5.yaml", "v3_6.yaml", "v3_7.yaml"} <= names
    ids = {v.id for _, v in CASES}
    for required in ("A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "A9", "A10-mul", "A10-div"):
        assert required in ids
    assert any(i.startswith("A11") for i in ids)


@pytest.mark.parametrize("path,vector", CASES, ids=[f"{f.stem}::{v.id}" for f, v in CASES])
def test_bundled_vector_passes(path, vector):
    vf = load_vector_file(path)
    result = run_vector(vf, vector)
    assert result.passed, result.detail


def test_every_vector_cites_source_and_kind():
    for _, v in CASES:
        repo_commit, _, rest = v.source.partition(":")
        assert "@" in repo_commit and rest, v.source
        assert v.kind in ("src", "re", "der")


def test_run_paths_none_runs_everything():
    results = run_paths(None)
    assert len(results) == len(CASES) and all(r.passed for r in results)
    text = format_results(results)
    assert text.splitlines()[-1] == f"{len(CASES)} passed, 0 failed, {len(CASES)} vectors"


def test_wrong_expectation_is_reported(tmp_path: Path):
    f = tmp_path / "bad_expect.yaml"
    f.write_text(
        'protocol: aave_v3\nversion: "3.7"\nvectors:\n'
        "  - id: wrong\n    source: a/b@c:d::e\n    kind: der\n    function: percent_mul\n"
        '    inputs: {value: "100", percentage: "5000"}\n    expected: {result: "51"}\n'
        "  - id: no-revert\n    source: a/b@c:d::e\n    kind: der\n    function: percent_mul\n"
        '    inputs: {value: "100", percentage: "5000"}\n    expected: {revert: FixedPointRevert}\n'
    )
    res = run_vector_file(f)
    assert [r.passed for r in res] == [False, False]
    assert "expected 51, got 50" in res[0].detail
    out = format_results(res)
    assert "FAIL  bad_expect.yaml::wrong" in out and "0 passed, 2 failed" in out
    assert run_paths([tmp_path])[0].id == "wrong"


@pytest.mark.parametrize(
    "body,needle",
    [
        ("protocol: aave_v3\nversion: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "top level"),
        ('protocol: aave_v3\nversion: "3.7"\n', "missing key 'vectors'"),
        (
            'protocol: aave_v3\nversion: "3.7"\nvectors:\n  - id: v1\n    source: a/b@c:d::e\n'
            "    kind: guess\n    function: percent_mul\n    inputs: {}\n    expected: {result: '1'}\n",
            "vector 'v1': kind must be one of",
        ),
        (
            'protocol: aave_v3\nversion: "3.7"\nvectors:\n  - id: v2\n    kind: src\n',
            "vector 'v2': missing key 'source'",
        ),
    ],
)
def test_malformed_file_raises_data_error_naming_file(tmp_path: Path, body, needle):
    f = tmp_path / "malformed.yaml"
    f.write_text(body)
    with pytest.raises(DataError) as exc:
        run_vector_file(f)
    assert exc.value.file == str(f)
    assert "malformed.yaml" in str(exc.value) and needle in str(exc.value)


def test_bad_inputs_name_the_vector_and_key(tmp_path: Path):
    f = tmp_path / "badinput.yaml"
    f.write_text(
        'protocol: aave_v3\nversion: "3.7"\nvectors:\n  - id: float-in\n    source: a/b@c:d::e\n'
        "    kind: der\n    function: percent_mul\n    inputs: {value: 1.5e18, percentage: '1'}\n"
        "    expected: {result: '1'}\n"
    )
    with pytest.raises(DataError, match=r"badinput.yaml.*'float-in'.*inputs.value"):
        run_vector_file(f)
    f.write_text(f.read_text().replace("percent_mul", "no_such_rule"))
    with pytest.raises(DataError, match="no rule registered"):
        run_vector_file(f)


def test_registry_is_keyed_by_protocol_and_function():
    assert ("aave_v3", "liquidation_call") in REGISTRY
    assert ("aave_v3", "health_factor") in REGISTRY
    assert ("aave_v3", "percent_mul") in REGISTRY


def test_missing_file_is_data_error(tmp_path: Path):
    with pytest.raises(DataError, match="cannot read"):
        load_vector_file(tmp_path / "nope.yaml")


def test_docs_state_the_shipped_vector_counts():
    """docs/protocols.md and the README say how many vectors ship, per protocol folder."""
    import re
    from collections import Counter

    root = Path(__file__).resolve().parents[1]
    per_dir = Counter(f.parent.name for f, _ in CASES)
    per_file = Counter(f"{f.parent.name}/{f.name}" for f, _ in CASES)
    doc = " ".join((root / "docs" / "protocols.md").read_text().split())
    assert f"{len(CASES)} vectors ship today" in doc
    assert f"checked against {len(CASES)} vectors" in " ".join((root / "README.md").read_text().split())
    aave = per_dir["aave_v3"]
    named = {
        "math": per_file["aave_v3/math.yaml"], "v3.0/SparkLend": per_file["aave_v3/v3_0_sparklend.yaml"],
        "v3.3": per_file["aave_v3/v3_3.yaml"], "v3.5": per_file["aave_v3/v3_5.yaml"],
        "v3.6": per_file["aave_v3/v3_6.yaml"], "v3.7": per_file["aave_v3/v3_7.yaml"],
        "Aave v2": per_file["aave_v3/v2.yaml"],
        "Compound v2 seize": per_dir["compound_v2"], "Comet": per_dir["compound_v3"],
        "Maker Liquidations 2.0": per_file["maker/liquidations2.yaml"],
        "the Cat of Liquidations 1.2": per_file["maker/liquidations12_cat.yaml"],
        "and its Flipper": per_file["maker/liquidations12_flip.yaml"],
        "Liquity v1": per_dir["liquity_v1"], "and v2": per_dir["liquity_v2"],
        "Morpho Blue": per_dir["morpho_blue"], "Euler v2": per_dir["euler_v2"],
        "crvUSD": per_dir["crvusd"], "dYdX v4": per_dir["dydx_v4"],
    }
    assert sum(named[k] for k in ("math", "v3.0/SparkLend", "v3.3", "v3.5", "v3.6", "v3.7", "Aave v2")) == aave
    for name, n in named.items():
        assert re.search(rf"{re.escape(name)} {n}\b", doc), (name, n)


def test_unknown_aave_version_is_a_data_error_naming_the_vector(tmp_path: Path):
    # The handler turns a version the rules do not know into the file's own error (it once
    # raised NameError: the except clause named an exception it had not imported).
    f = tmp_path / "badversion.yaml"
    f.write_text(
        'protocol: aave_v3\nversion: "9.9"\nvectors:\n  - id: v-bad\n    source: a/b@c:d::e\n'
        "    kind: der\n    function: liquidation_call\n    inputs: {}\n    expected: {result: '1'}\n"
    )
    with pytest.raises(DataError, match=r"badversion.yaml.*'v-bad'.*9\.9"):
        run_vector_file(f)
