"""One root exception for everything liqcascade raises on purpose.

Messages say what was wrong, where (file, key or row) and what was expected, so a
user can fix the input without reading our code.
"""

from __future__ import annotations


class LiqcascadeError(Exception):
    """Root of every error liqcascade raises deliberately."""


class ConfigError(LiqcascadeError):
    """A configuration value is missing or wrong.

    ``file`` is the path (or a label such as ``<python>``), ``key`` the dotted key,
    ``expected`` what would have been accepted.
    """

    def __init__(self, file: str, key: str, expected: str, got: object = None) -> None:
        self.file = str(file)
        self.key = key
        self.expected = expected
        self.got = got
        where = f"{self.file}: {key}" if key else self.file
        msg = f"{where}: expected {expected}"
        if got is not None:
            msg += f", got {got!r}"
        super().__init__(msg)


class DataError(LiqcascadeError):
    """A data file (positions, prices, depth) holds a bad row or column.

    ``row`` is 1-based in the data rows (the header is not counted), or ``None``
    when the problem is the file as a whole (missing column, unreadable file).
    """

    def __init__(self, file: str, row: int | None, why: str) -> None:
        self.file = str(file)
        self.row = row
        self.why = why
        where = self.file if row is None else f"{self.file}: row {row}"
        super().__init__(f"{where}: {why}")


class ConvergenceError(LiqcascadeError):
    """An iterative solver did not reach its tolerance within its budget."""
