"""The worker process of a dashboard run: ``python -m liqcascade.web.worker``.

Reads a pickled :class:`~liqcascade.web.scenarios.RunSpec` on stdin, builds the edited
scenario, runs it without a store and writes a pickled ("ok", (run id, kind, config, tables,
meta)) or ("error", message) on stdout. The server saves the tables (see
:mod:`liqcascade.web.jobs`).
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

from liqcascade.errors import ConfigError, LiqcascadeError
from liqcascade.web.scenarios import RunSpec


def execute(spec: RunSpec) -> tuple[str, str, dict, dict, dict]:
    """Build the edited scenario and run it (no store): (run id, kind, config, tables, meta)."""
    from liqcascade import api
    from liqcascade.io import scenario as S
    from liqcascade.io.config import parse_scenario

    sc = S.build(parse_scenario(spec.data, spec.source), Path(spec.base_dir), spec.source)
    n = sc.model.book.n_accounts
    if n > spec.max_accounts:
        raise ConfigError(spec.source, "positions", f"a book of at most {spec.max_accounts:,} accounts (this server's cap)", n)
    res = api.run(sc, store=None) if spec.kind == "static" else api.simulate(sc, store=None)
    meta = {"source": spec.source, "via": "dashboard", "request": spec.request}
    return str(res.run_id), res.kind, dict(res.config), dict(res.tables), meta


def main() -> None:
    """The worker's entry point: a pickled :class:`RunSpec` on stdin,
    a pickled ("ok", result) or ("error", message) on stdout. Anything else the run prints
    goes to stderr, so stdout carries the answer only."""
    out = sys.stdout.buffer
    sys.stdout = sys.stderr
    spec = pickle.load(sys.stdin.buffer)
    try:
        answer = ("ok", execute(spec))
    except LiqcascadeError as e:
        answer = ("error", str(e))
    except Exception as e:  # a bug: its type and message, for the job page
        answer = ("error", f"the run failed: {type(e).__name__}: {e}")
    pickle.dump(answer, out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


if __name__ == "__main__":
    main()
