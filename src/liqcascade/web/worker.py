"""The worker process of a dashboard run: ``python -m liqcascade.web.worker``.

Reads pickled :class:`~liqcascade.web.scenarios.RunSpec` requests on stdin, one after the
other; for each builds the edited scenario, runs it without a store and writes a pickled
("ok", (run id, kind, config, tables, meta)) or ("error", message) on stdout. The server
saves the tables (see :mod:`liqcascade.web.jobs`).
"""

from __future__ import annotations

import pickle
import struct
import sys
from pathlib import Path

from liqcascade.errors import ConfigError, LiqcascadeError
from liqcascade.web.scenarios import RunSpec


def execute(spec: RunSpec) -> tuple[str, str, dict, dict, dict]:
    """Build the edited scenario (single-market or system) and run it (no store):
    (run id, kind, config, tables, meta)."""
    from liqcascade import api
    from liqcascade.io import scenario as S
    from liqcascade.io.config import parse_scenario

    if spec.kind in ("perps", "perps_montecarlo"):
        return _execute_perps(spec)
    if "markets" in spec.data:  # a system scenario: the cap holds for the sum of its markets' books
        from liqcascade.io.system import build_system, parse_system

        sc = build_system(parse_system(spec.data, spec.source), Path(spec.base_dir), spec.source)
        n, key = sum(m.model.book.n_accounts for m in sc.markets.values()), "markets.positions"
        n += sum(p.book.n_accounts for p in sc.perps)  # perp markets' books count too
    else:
        sc = S.build(parse_scenario(spec.data, spec.source), Path(spec.base_dir), spec.source)
        n, key = sc.model.book.n_accounts, "positions"
    if n > spec.max_accounts:
        raise ConfigError(spec.source, key, f"books of at most {spec.max_accounts:,} accounts (this server's cap)", n)
    res = api.run(sc, store=None) if spec.kind == "static" else api.simulate(sc, store=None)
    meta = {"source": spec.source, "via": "dashboard", "request": spec.request}
    return str(res.run_id), res.kind, dict(res.config), dict(res.tables), meta


def _execute_perps(spec: RunSpec) -> tuple[str, str, dict, dict, dict]:
    """:func:`execute` for a perp scenario: built, held to the account cap, run or its Monte
    Carlo run in this process (no store)."""
    from liqcascade.execution.perp_montecarlo import perp_montecarlo
    from liqcascade.execution.perps import perp_run
    from liqcascade.io.perp_scenario import build_perp_scenario, parse_perp_scenario

    ps = build_perp_scenario(parse_perp_scenario(spec.data, spec.source), Path(spec.base_dir), spec.source)
    n = ps.book.n_accounts
    if n > spec.max_accounts:
        raise ConfigError(spec.source, "perps.book", f"books of at most {spec.max_accounts:,} accounts (this server's cap)", n)
    meta = {"source": spec.source, "via": "dashboard", "request": spec.request}
    if spec.kind == "perps_montecarlo":
        res = perp_montecarlo(ps, spec.paths, spec.seed, store=None, executor="serial")
        meta.update(paths=spec.paths, seed=spec.seed)
    else:
        res = perp_run(ps, store=None)
    return str(res.run_id), res.kind, dict(res.config), dict(res.tables), meta


def answer(spec: RunSpec) -> tuple[str, object]:
    """("ok", result) or ("error", message): a config error's message, or a bug's type only."""
    try:
        return "ok", execute(spec)
    except LiqcascadeError as e:
        return "error", str(e)
    except Exception as e:  # a bug: its traceback to stderr (the server's log), its type to the job page
        import traceback

        traceback.print_exc(file=sys.stderr)
        return "error", f"the run failed ({type(e).__name__}); the server log has the details"


def _read_frame(stream) -> bytes | None:
    head = stream.read(8)
    if len(head) < 8:
        return None
    (n,) = struct.unpack(">Q", head)
    body = stream.read(n)
    return body if len(body) == n else None


def main() -> None:
    """The worker's loop: length-prefixed pickled :class:`RunSpec` requests on stdin, one
    length-prefixed pickled answer each on stdout, until stdin closes. Anything a run prints
    goes to stderr, so stdout carries answers only."""
    from liqcascade.web.jobs import write_frame

    out = sys.stdout.buffer
    sys.stdout = sys.stderr
    _warm()
    while (frame := _read_frame(sys.stdin.buffer)) is not None:
        write_frame(out, pickle.dumps(answer(pickle.loads(frame)), protocol=pickle.HIGHEST_PROTOCOL))


def _warm() -> None:
    """Import what every run needs before the first request arrives."""
    from liqcascade import api  # noqa: F401
    from liqcascade.io import config, scenario  # noqa: F401


if __name__ == "__main__":
    main()
