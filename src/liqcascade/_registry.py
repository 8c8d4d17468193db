"""A name -> spec registry filled from built-in plugin modules on first use.

The package has three (lending protocols, venue kinds, perp margin engines); each is one
:class:`Registry` whose built-in names are modules to import, so adding one is adding a folder
or module and naming it in its tuple.
"""

from __future__ import annotations

import importlib
from typing import Callable, Generic, TypeVar

from liqcascade.errors import ConfigError

S = TypeVar("S")


class Registry(Generic[S]):
    """Specs by name. ``module_of(name)`` is the module whose attribute ``attr`` is a built-in
    name's spec; ``name_of(spec)`` the name a spec registers under; ``what`` names a spec in
    errors ("venue kind")."""

    def __init__(self, what: str, builtin: tuple[str, ...], module_of: Callable[[str], str], attr: str,
                 name_of: Callable[[S], str]) -> None:
        self.what = what
        self.builtin = builtin
        self._module_of = module_of
        self._attr = attr
        self._name_of = name_of
        self._specs: dict[str, S] = {}

    def register(self, spec: S) -> S:
        """Add ``spec`` (another spec under the same name is an error)."""
        name = self._name_of(spec)
        if name in self._specs and self._specs[name] is not spec:
            raise ValueError(f"{self.what} {name!r} is registered twice")
        self._specs[name] = spec
        return spec

    def unregister(self, name: str) -> None:
        """Remove a name added with :meth:`register` (tests; a built-in name cannot go)."""
        if name in self.builtin:
            raise ValueError(f"{self.what} {name!r} is built in")
        self._specs.pop(name, None)

    def specs(self) -> dict[str, S]:
        """Every registered spec by name, the built-in ones first (imported on first use)."""
        for name in self.builtin:
            if name not in self._specs:
                self.register(getattr(importlib.import_module(self._module_of(name)), self._attr))
        return self._specs

    def names(self) -> tuple[str, ...]:
        return tuple(self.specs())

    def get(self, name: object, source: str, key: str, expected: str = "one of") -> S:
        """The spec of ``name``; a ConfigError naming ``source``, ``key`` and the known names otherwise."""
        specs = self.specs()
        if not isinstance(name, str) or name not in specs:
            raise ConfigError(source, key, f"{expected} {list(specs)}", name)
        return specs[name]
