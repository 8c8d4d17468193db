"""Results at named granularities: tables keyed by name, convertible to pandas/polars/Arrow."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from liqcascade.protocols.base import HF_INF


def _clean(df: pd.DataFrame) -> pd.DataFrame:
    """HF sentinels become inf, so tables say 'no debt' in the standard way."""
    for c in df.columns:
        if c.startswith("hf_") and df[c].dtype.kind == "f":
            df[c] = df[c].where(df[c] < HF_INF * 0.5, np.inf)
    return df


@dataclass(frozen=True)
class Result:
    """A finished run: its kind, its tables and the config it came from.

    ``tables`` maps names (``summary``, ``assets``, ``rounds``, ``accounts``,
    ``curve`` ...) to pandas DataFrames. ``run_id`` is set once the run is stored.
    """

    kind: str
    tables: Mapping[str, pd.DataFrame]
    config: Mapping[str, object] = field(default_factory=dict)
    run_id: str | None = None

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.table(name)

    def table(self, name: str) -> pd.DataFrame:
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError(f"no table {name!r} in this {self.kind} result; tables: {sorted(self.tables)}") from None

    @property
    def summary(self) -> dict[str, object]:
        """The first summary row as a dict."""
        return self.table("summary").iloc[0].to_dict()

    def to_pandas(self, name: str) -> pd.DataFrame:
        return self.table(name).copy()

    def to_arrow(self, name: str):
        import pyarrow as pa

        return pa.Table.from_pandas(self.table(name), preserve_index=False)

    def to_polars(self, name: str):
        import polars as pl

        return pl.from_arrow(self.to_arrow(name))

    def headline(self) -> pd.DataFrame:
        """The run's headline numbers as a table (:func:`liqcascade.engine.display.headline`)."""
        from liqcascade.engine.display import headline

        return headline(self)

    def _repr_html_(self) -> str:
        """Jupyter's display: the headline, then the list of tables."""
        from liqcascade.engine.display import to_html

        return to_html(self)

    def plot(self):
        """The main figure of the run, a plotly ``Figure`` (:func:`liqcascade.engine.display.figure`)."""
        from liqcascade.engine.display import figure

        return figure(self)

    def with_run_id(self, run_id: str) -> "Result":
        return Result(self.kind, self.tables, self.config, run_id)
