"""A dashboard run of a system with perp markets (web/worker.py): its perp books count toward the
server's account cap, and under the cap it is the run `liqcascade simulate` makes."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from liqcascade import api
from liqcascade.errors import ConfigError
from liqcascade.web.scenarios import RunSpec
from liqcascade.web.worker import execute

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "system_perps_lending.toml"


def _data() -> dict:
    data = tomllib.loads(EXAMPLE.read_text())
    data["markets"][0]["positions"]["n_accounts"] = 200
    data["simulation"]["blocks"] = 20
    for side in ("long", "short"):
        data["perp_markets"][0]["book"]["synthetic"][side]["n_accounts"] = 150
    return data


def _spec(cap: int) -> RunSpec:
    return RunSpec("simulation", _data(), str(EXAMPLE.parent), str(EXAMPLE), {}, cap)


def test_the_perp_books_count_toward_the_account_cap():
    # 200 lending accounts + 2 x 150 perp accounts = 500
    with pytest.raises(ConfigError, match="this server's cap"):
        execute(_spec(499))
    rid, kind, _, tables, _ = execute(_spec(500))
    assert kind == "system_perps" and "perp_steps" in tables
    from liqcascade.io.system import build_system, parse_system

    ss = build_system(parse_system(_data(), str(EXAMPLE)), EXAMPLE.parent, str(EXAMPLE))
    assert api.simulate(ss, store=None).run_id == rid
