"""One root exception for everything liqcascade raises on purpose.

Messages say what was wrong, where (file, key or row) and what was expected, so a
user can fix the input without reading our code.
"""

from __future__ import annotations

import re
from typing import Any

# numpy 2 reprs such as np.float64(-10.0) or np.str_('x'): the value inside is what a user wrote
_NP_REPR = re.compile(r"\bnp\.(?:float|int|uint|complex|bool|str|bytes)_?\d*\(((?:[^()]|\([^()]*\))*)\)")


def plain(value: Any) -> Any:
    """``value`` as plain Python for a message: numpy scalars unwrapped, arrays as lists."""
    item = getattr(value, "item", None)
    if item is not None and getattr(value, "ndim", None) == 0:
        return item()
    tolist = getattr(value, "tolist", None)
    if tolist is not None and getattr(value, "ndim", 0) > 0:
        return tolist()
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    return value


class LiqcascadeError(Exception):
    """Root of every error liqcascade raises deliberately.

    Its text never shows numpy reprs: ``np.float64(-10.0)`` reads ``-10.0`` (a safety net
    for messages built with ``!r`` of a numpy scalar; :func:`plain` is the direct way).
    """

    def __str__(self) -> str:
        return _NP_REPR.sub(r"\1", super().__str__())


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
            msg += f", got {plain(got)!r}"
        super().__init__(msg)

    def renamed(self, file: str, names: dict[str, str]) -> ConfigError:
        """This error in the words of another interface: ``file`` for a ``<python>`` label and
        argument names as its options, e.g. ``{"price_file": "--price-file"}`` for the CLI."""
        if self.file != "<python>":
            return self
        key = self.key
        for part in re.split(r"[/.]", key):
            if part in names:
                key = key.replace(part, names[part])
        expected = self.expected
        for name, option in names.items():
            expected = re.sub(rf"\b{re.escape(name)}\b", option, expected)
        return ConfigError(file, key, expected, self.got)


def rehint(message: str, hint: str) -> str:
    """``message`` with its closing advice (the text after the last ``"; "``) replaced by
    ``hint``, so each interface says what to do in its own words (a CLI command, an HTTP path)."""
    head = message.rsplit("; ", 1)[0] if "; " in message else message
    return f"{head}; {hint}"


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
