"""The perp registry: an unknown engine is a ConfigError naming the key; a name registered
twice is refused."""

from __future__ import annotations

import pytest

from liqcascade.errors import ConfigError
from liqcascade.protocols import perps_registry
from liqcascade.protocols.perps_base import MarginEngine


def test_an_unknown_engine_names_the_key_and_the_known_ones():
    with pytest.raises(ConfigError) as err:
        perps_registry.spec("ftx", "scen.toml", "perps.markets[0].engine")
    assert "scen.toml: perps.markets[0].engine: expected one of" in str(err.value)
    assert "'ftx'" in str(err.value)


def test_every_builtin_engine_is_registered_and_builds_a_margin_engine():
    assert perps_registry.names() == perps_registry.BUILTIN_PERPS
    for name in perps_registry.names():
        engine = perps_registry.spec(name).build(None)
        assert isinstance(engine, MarginEngine) and engine.name == name


def test_a_name_registered_twice_is_refused():
    a = perps_registry.PerpSpec("twice", "A", lambda s: None)
    perps_registry.register(a)
    try:
        with pytest.raises(ValueError, match="registered twice"):
            perps_registry.register(perps_registry.PerpSpec("twice", "B", lambda s: None))
    finally:
        perps_registry.unregister("twice")
