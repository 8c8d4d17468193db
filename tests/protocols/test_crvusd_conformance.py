"""crvUSD vector handlers: bad inputs name the vector and the key; a wrong expectation fails."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from liqcascade.protocols.conformance import REGISTRY, run_vector_file
from liqcascade.errors import DataError

HEAD = 'protocol: crvusd\nversion: "2.0.0"\nvectors:\n'
SRC = "curvefi/curve-stablecoin@cf1d05fb:curve_stablecoin/controller.vy::liquidate"


def _file(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "v.yaml"
    p.write_text(HEAD + body)
    return p


@pytest.mark.parametrize(
    "vid,function,inputs,needle",
    [
        ("X1", "f_remove", {"frac": 0.5, "health_limit": "0"}, "inputs.frac"),
        ("X2", "user_value",
         {"A": "100", "base_price": "1", "p_o": "1", "active_band": 0, "n1": 0, "bands": []}, "inputs.bands"),
        ("X3", "band_prices", {"A": "100", "n": 0}, "base_price"),
    ],
)  # fmt: skip
def test_bad_inputs_name_vector_and_key(tmp_path, vid, function, inputs, needle):
    vector = {
        "id": vid,
        "source": SRC,
        "kind": "der",
        "function": function,
        "inputs": inputs,
        "expected": {"r": "0"},
    }
    p = tmp_path / "v.yaml"
    p.write_text(yaml.safe_dump({"protocol": "crvusd", "version": "2.0.0", "vectors": [vector]}))
    with pytest.raises(DataError) as exc:
        run_vector_file(p)
    assert needle in str(exc.value) and vid in str(exc.value)


def test_handlers_registered_and_a_wrong_expectation_fails(tmp_path):
    body = (
        f"  - {{id: W1, source: '{SRC}', kind: der, function: f_remove, "
        "inputs: {frac: '500000000000000000', health_limit: '60000000000000000'}, "
        "expected: {f_remove: '492924528301886793'}}\n"
    )
    [r] = run_vector_file(_file(tmp_path, body))
    assert not r.passed and "492924528301886792" in r.detail
    assert ("crvusd", "liquidate") in REGISTRY and ("crvusd", "calculate_debt_n1") in REGISTRY
