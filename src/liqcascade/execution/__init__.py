"""Where runs happen: executors (serial, local processes, Dask) and the Monte Carlo runner that
cuts a run into chunks, runs them anywhere and lands them in the results store, resumably.

The executor decides where a chunk runs, never what it computes: a chunk is (scenario config,
root seed, path indexes), and :func:`evaluate_paths` is a pure function of it.
"""

from liqcascade.execution.executors import (
    EXECUTORS,
    DaskExecutor,
    Executor,
    ProcessExecutor,
    SerialExecutor,
    open_executor,
    parse_executor,
)
from liqcascade.execution.montecarlo import (
    PATH_COLUMNS,
    Chunk,
    ChunkFailed,
    Prepared,
    ScenarioSpec,
    chunks,
    evaluate_paths,
    prepared,
    run_chunk,
    run_chunks,
)

__all__ = [
    "EXECUTORS",
    "PATH_COLUMNS",
    "Chunk",
    "ChunkFailed",
    "DaskExecutor",
    "Executor",
    "Prepared",
    "ProcessExecutor",
    "ScenarioSpec",
    "SerialExecutor",
    "chunks",
    "evaluate_paths",
    "open_executor",
    "parse_executor",
    "prepared",
    "run_chunk",
    "run_chunks",
]
