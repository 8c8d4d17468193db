"""The venue registry (markets/registry.py) and the capabilities venues declare (markets/base.py).

Every registered kind builds from its defaults and quotes both sides consistently; an unknown
kind is refused naming ``venues.N.kind``; a venue kind registered here, in a test, runs through
``liqcascade.io.scenario.build`` and the static engine without any engine or config edit; the
router reads a venue's declared capabilities, not the methods it happens to have.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar, Literal, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field

from liqcascade.engine.run import run_static
from liqcascade.errors import ConfigError
from liqcascade.io import scenario as S
from liqcascade.io.config import parse_scenario
from liqcascade.markets import registry
from liqcascade.markets.base import QuotesBuy, Requotes, Venue, VenueCapabilities
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.markets.impact import PowerLawImpact
from liqcascade.markets.orderbook import OrderBookVenue, shipped_depth, write_depth_file
from liqcascade.markets.router import Router
from liqcascade.markets.univ3 import UniswapV3Venue

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "small_book.toml"

# The keys each shipped kind requires beyond kind and asset (everything else: its defaults).
REQUIRED = {"cpmm": {"reserve_usd": 5e6}, "orderbook": {}, "impact": {"depth_usd": 5e7}, "univ3": {}, "perp_orderbook": {}}


def test_the_builtin_kinds_are_registered_in_order():
    assert registry.kinds()[:4] == ("cpmm", "orderbook", "impact", "univ3")
    for kind in registry.BUILTIN:
        s = registry.spec(kind)
        assert s.kind == kind and s.settings.model_fields["kind"].is_required()


@pytest.mark.parametrize("kind", registry.BUILTIN)
def test_every_kind_requires_only_what_the_table_above_gives(kind):
    model = registry.spec(kind).settings
    required = {k for k, f in model.model_fields.items() if f.is_required()}
    assert required == {"kind", "asset", *REQUIRED[kind]}


@pytest.mark.parametrize("kind", registry.BUILTIN)
def test_every_kind_builds_from_its_defaults_and_quotes_both_sides_consistently(kind):
    price = 2000.0
    settings = registry.spec(kind).settings.model_validate({"kind": kind, "asset": "WETH", **REQUIRED[kind]})
    v = registry.spec(kind).build(registry.VenueContext(settings, price))
    assert isinstance(v, Venue) and v.asset == "WETH"
    mid = v.mid_price()
    # centred at the reference price (a pool's fee may sit between the two)
    assert mid == pytest.approx(price, rel=0.01)
    buy = cast(QuotesBuy, v).buy_price() if v.capabilities.quotes_buy else mid
    assert buy >= mid
    # (not below ~1 token: the v3 pool's integer amounts round a 0.001 WETH quote up by 1e-7)
    for a in (1.0, 10.0, 100.0):
        sold, bought = v.quote_sell(a), v.quote_buy(a)
        # a sale earns at most the marginal price, a purchase costs at least the purchase price,
        # and a round trip never makes money
        assert 0.0 < sold <= a * mid * (1 + 1e-12)
        assert bought >= a * buy * (1 - 1e-12)
        assert bought > sold
        assert v.sell(a)[0] == sold and v.buy(a)[0] == bought
        assert v.sell(a)[1].mid_price() <= mid and v.buy(a)[1].mid_price() >= mid


@pytest.mark.parametrize("got", ["teleport", None, 3])
def test_an_unknown_kind_is_refused_naming_the_key_and_the_known_kinds(got):
    data = tomllib.loads(EXAMPLE.read_text())
    table = {"asset": "WETH"} if got is None else {"kind": got, "asset": "WETH"}
    data["venues"] = [data["venues"][0], table]
    with pytest.raises(ConfigError) as e:
        parse_scenario(data, "s.toml")
    assert e.value.file == "s.toml" and e.value.key == "venues.1.kind"
    for kind in registry.BUILTIN:
        assert repr(kind) in e.value.expected
    assert e.value.got == got


def test_spec_of_an_unknown_kind_names_the_caller_key():
    with pytest.raises(ConfigError) as e:
        registry.spec("teleport", "f.toml", "venues.3.kind")
    assert (e.value.file, e.value.key, e.value.got) == ("f.toml", "venues.3.kind", "teleport")


def test_a_settings_model_without_its_kind_literal_is_refused():
    with pytest.raises(ValueError, match="Literal"):
        registry.VenueSpec("linear", "wrong", LinearImpactConfig, _build_linear)  # its kind is "toy_linear"


def test_a_kind_registered_twice_is_refused():
    with pytest.raises(ValueError, match="twice"):
        registry.register(replace(registry.spec("cpmm"), title="another pool"))


# --------------------------------------------------------------------- a venue of the test's own
@dataclass(frozen=True)
class LinearImpact:
    """Marginal price p0 - k·Q with k = p0² / depth_usd: selling depth_usd of notional at p0
    takes the price to zero (floored at 1e-12·p0). Sale proceeds are the integral of the price."""

    capabilities: ClassVar[VenueCapabilities] = VenueCapabilities()

    asset: str
    p0: float
    depth_usd: float
    sold: float = 0.0

    @property
    def _k(self) -> float:
        return self.p0 * self.p0 / self.depth_usd

    def _cash(self, q: float) -> float:
        q = min(q, (1 - 1e-12) * self.p0 / self._k)  # beyond the floor nothing more is paid
        return self.p0 * q - 0.5 * self._k * q * q

    def mid_price(self) -> float:
        return max(self.p0 - self._k * self.sold, 1e-12 * self.p0)

    def quote_sell(self, amount: float) -> float:
        return self._cash(self.sold + amount) - self._cash(self.sold)

    def sell(self, amount: float):
        return self.quote_sell(amount), replace(self, sold=self.sold + amount)

    def quote_buy(self, amount: float) -> float:
        return self._cash(self.sold) - self._cash(self.sold - amount)

    def buy(self, amount: float):
        return self.quote_buy(amount), replace(self, sold=self.sold - amount)

    def amount_to_price(self, price: float) -> float:
        if price >= self.mid_price():
            return 0.0
        if price <= 1e-12 * self.p0:
            return math.inf
        return (self.mid_price() - price) / self._k

    def with_mid_price(self, price: float):
        return replace(self, p0=float(price), sold=0.0)


class LinearImpactConfig(registry.Settings):
    """A linear price-impact law (a test's venue)."""

    kind: Literal["toy_linear"] = Field(description="Venue kind.")
    asset: str = Field(description="Asset sold into the venue.")
    depth_usd: float = Field(gt=0, description="Notional at the reference price that takes the price to zero.")


def _build_linear(ctx: registry.VenueContext) -> LinearImpact:
    s = cast(LinearImpactConfig, ctx.settings)
    return LinearImpact(s.asset, ctx.price, s.depth_usd)


@pytest.fixture
def toy_linear():
    spec = registry.register(registry.VenueSpec("toy_linear", "linear impact", LinearImpactConfig, _build_linear))
    yield spec
    registry.unregister("toy_linear")


def _small_book(weth_venue: dict) -> dict:
    data = tomllib.loads(EXAMPLE.read_text())
    data["venues"][0] = {"asset": "WETH", **weth_venue}
    return data


def _run(data: dict):
    sc = S.build(parse_scenario(data, str(EXAMPLE)), EXAMPLE.parent, str(EXAMPLE))
    return sc, run_static(sc.model, sc.config.shock, sc.settings)


def test_a_venue_registered_in_a_test_runs_through_build_and_the_static_engine(toy_linear):
    depth = 2e6
    sc, res = _run(_small_book({"kind": "toy_linear", "depth_usd": depth}))
    assert isinstance(sc.model.venues["WETH"], LinearImpact)
    weth = res["assets"].set_index("asset").loc["WETH"]
    assert weth["sold"] > 0.0
    # the venue is re-centred at the shocked price 1500 ($2000, -25 %); after selling Q tokens
    # its marginal price is 1500 - 1500² Q / depth, and proceeds are that line's integral
    p, q = 1500.0, weth["sold"]
    assert weth["price_shocked"] == pytest.approx(p, rel=1e-12)
    assert weth["price_final"] == pytest.approx(p - p * p * q / depth, rel=1e-9)
    assert weth["proceeds"] == pytest.approx(p * q - 0.5 * p * p / depth * q * q, rel=1e-9)


def test_the_test_venue_matches_the_shipped_impact_law_of_exponent_one(toy_linear):
    # I(Q) = (Q·p0/D)^1 with all of it permanent is the same line: two implementations agree
    _, lin = _run(_small_book({"kind": "toy_linear", "depth_usd": 2e6}))
    _, imp = _run(_small_book({"kind": "impact", "depth_usd": 2e6, "exponent": 1.0, "permanent_fraction": 1.0}))
    for k in ("debt_repaid_usd", "collateral_seized_usd", "liquidator_proceeds_usd", "bad_debt_usd", "final_drop"):
        assert lin.summary[k] == pytest.approx(imp.summary[k], rel=1e-9, abs=1e-9)


def test_a_registered_kind_with_a_bad_value_names_its_key(toy_linear):
    with pytest.raises(ConfigError) as e:
        parse_scenario(_small_book({"kind": "toy_linear", "depth_usd": -1.0}), "s.toml")
    assert e.value.key == "venues.0.depth_usd"


def _in(tmp_path: Path, weth_venue: dict):
    data = _small_book(weth_venue)
    data["positions"]["path"] = str(EXAMPLE.parent / "small_book.csv")
    return S.build(parse_scenario(data, "s.toml"), tmp_path, "s.toml")


def test_a_file_a_venue_declares_is_resolved_next_to_the_scenario_and_hashed(tmp_path):
    write_depth_file(tmp_path / "depth.csv", *shipped_depth("calm"))
    sc = _in(tmp_path, {"kind": "orderbook", "calibration": "depth.csv", "scale": 0.01})
    calm = OrderBookVenue.from_calibration("calm", "WETH", 2000.0, 0.01)
    v = sc.model.venues["WETH"]
    assert v.mid_price() == calm.mid_price() and v.quote_sell(10.0) == pytest.approx(calm.quote_sell(10.0), rel=1e-12)
    digest = hashlib.sha256((tmp_path / "depth.csv").read_bytes()).hexdigest()
    assert sc.resolved()["venues"][0]["calibration"] == f"sha256:{digest}"
    # a shipped calibration is no file: the run id keeps its name
    assert _in(tmp_path, {"kind": "orderbook", "calibration": "calm"}).resolved()["venues"][0]["calibration"] == "calm"


def test_a_missing_venue_file_names_its_key(tmp_path):
    with pytest.raises(ConfigError) as e:
        _in(tmp_path, {"kind": "orderbook", "calibration": "nowhere.csv"})
    assert (e.value.file, e.value.key) == ("s.toml", "venues.0.calibration")


def test_an_unregistered_kind_is_gone_after_the_test():
    assert "toy_linear" not in registry.kinds()


# --------------------------------------------------------------------- declared capabilities
DECLARED = {
    ConstantProductPool: VenueCapabilities(quotes_buy=True, arbitraged=True, quotes_many=True),
    UniswapV3Venue: VenueCapabilities(quotes_buy=True, arbitraged=True),
    OrderBookVenue: VenueCapabilities(quotes_buy=True, requotes=True),
    PowerLawImpact: VenueCapabilities(quotes_buy=True, requotes=True, quotes_many=True),
    Router: VenueCapabilities(quotes_buy=True),
}


@pytest.mark.parametrize("cls", list(DECLARED), ids=lambda c: c.__name__)
def test_every_venue_declares_its_capabilities_and_implements_them(cls):
    caps = cls.capabilities
    assert caps == DECLARED[cls]
    # a declared capability is the typed protocol's members, present on the class
    assert not caps.quotes_buy or all(callable(getattr(cls, m, None)) for m in ("buy_price", "amount_to_buy_price"))
    assert not caps.requotes or "net_sold" in {f.name for f in dataclasses.fields(cls)}
    assert not caps.quotes_many or callable(getattr(cls, "quote_sells", None))


def test_contradictory_capabilities_are_refused():
    with pytest.raises(ValueError, match="quotes_buy"):
        VenueCapabilities(arbitraged=True)
    with pytest.raises(ValueError, match="not both"):
        VenueCapabilities(quotes_buy=True, arbitraged=True, requotes=True)


def test_the_typed_protocols_recognise_the_venues_that_declare_them():
    book = OrderBookVenue.from_calibration("calm", "WETH", 2000.0)
    assert isinstance(book, QuotesBuy) and isinstance(book, Requotes)
    assert not isinstance(ConstantProductPool.from_price_depth("WETH", 2000.0, 1e6), Requotes)
    assert not isinstance(LinearImpact("WETH", 2000.0, 1e6), QuotesBuy)


@dataclass(frozen=True)
class _LinearWithAnUndeclaredSpread(LinearImpact):
    def buy_price(self) -> float:
        raise AssertionError("the router asked for a purchase price the venue does not declare")

    def amount_to_buy_price(self, price: float) -> float:
        raise AssertionError("the router asked for a purchase amount the venue does not declare")


@given(st.floats(0.01, 50.0))
def test_the_router_reads_the_declaration_not_the_attributes(amount):
    """Methods present but not declared are not called: the venue is bought by bisection on its
    ``buy``, spread-free, like a venue without those methods at all."""
    plain = Router.of([LinearImpact("WETH", 2000.0, 1e7), LinearImpact("WETH", 2000.0, 3e7)])
    other = Router.of([_LinearWithAnUndeclaredSpread("WETH", 2000.0, 1e7), LinearImpact("WETH", 2000.0, 3e7)])
    assert other.buy_price() == plain.buy_price() == 2000.0
    r, s = plain.route_buy(amount), other.route_buy(amount)
    assert r.total == s.total and r.fills == s.fills
    # equal marginal prices after the purchase: fills in proportion to depth, 1 : 3
    assert r.fills[1] == pytest.approx(3 * r.fills[0], rel=1e-6)


def test_a_router_of_something_that_is_not_a_venue_is_refused():
    with pytest.raises(ConfigError) as e:
        Router.of([LinearImpact("WETH", 2000.0, 1e7), object()])
    assert e.value.key == "Router.venues[1]"
