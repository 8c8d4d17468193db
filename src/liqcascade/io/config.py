"""Scenario files: TOML validated by pydantic (unknown keys are errors; every field described).

A scenario names one lending market (protocol, rule version, parameters), a position
book, reference prices, the venues liquidators sell into, an initial shock, and how
liquidators and the engine behave. Relative paths are relative to the scenario file.
``builtin:NAME`` names data shipped inside the package (see ``liqcascade.data``).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WrapValidator, create_model, field_validator

from liqcascade.errors import ConfigError
from liqcascade.markets import registry as venue_registry
from liqcascade.protocols import registry as protocol_registry
from liqcascade.io.montecarlo_config import MonteCarloConfig


class _Model(BaseModel):
    # strict: a quoted "1.0" is text, not a number, and "true" is not a boolean -- a scenario
    # file says what it means (integers are still accepted where a float is expected)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


class AssetOverride(_Model):
    """Changes to one asset's risk parameters (fractions; caps in tokens)."""

    ltv: float | None = Field(None, description="Loan-to-value as a fraction (0.805 = 80.5 %).")
    liquidation_threshold: float | None = Field(None, description="Liquidation threshold as a fraction.")
    liquidation_bonus: float | None = Field(None, description="Liquidation bonus above par (0.05 = 5 %).")
    protocol_fee: float | None = Field(None, description="Protocol's share of the bonus (0.1 = 10 %).")
    supply_cap: float | None = Field(None, description="Supply cap in tokens (inf = none).")
    borrow_cap: float | None = Field(None, description="Borrow cap in tokens (inf = none).")


class _MarketFields(_Model):
    """The lending market whose positions are liquidated."""

    version: Literal[
        "2", "3.0-3.2", "3.3-3.4", "3.5-3.6", "3.5", "3.6", "3.7", "liquidations-2.0", "liquidations-1.2"
    ] | None = Field(
        None, description="Aave rule set (required for aave_v3: close factor, dust and bad-debt rules differ by "
        "version). '2' is Aave v2 (50 % close factor at any HF < 1, no protocol fee, no e-mode; its parameters: "
        "'builtin:aave_v2_ethereum_2021-05-18'). '3.5-3.6' is refused for parameters with an asset of LT 0 in an e-mode (collateral there from "
        "v3.6 only): name '3.5' or '3.6' then. Maker: 'liquidations-2.0' (Dog and Clipper, the default) or "
        "'liquidations-1.2' (Cat and Flipper with keepers, [market.maker.flip])."
    )
    params: str = Field(
        "builtin:aave_v3_ethereum_2023-10-31",
        description="Risk parameters: a shipped snapshot 'builtin:aave_v3_<chain>_<date>' (today "
        "'builtin:aave_v3_ethereum_2023-10-31'; Aave v2: 'builtin:aave_v2_ethereum_2021-05-18') or a path to your own Aave reserve-config JSON/CSV (docs/positions.md).",
    )
    assets: list[str] | None = Field(
        None, description="Keep only these assets of the parameter file (all when omitted)."
    )
    overrides: dict[str, AssetOverride] = Field(
        default_factory=dict, description="Per-asset parameter changes, keyed by asset symbol."
    )
    pair_policy: Literal["largest", "max_bonus"] = Field(
        "largest",
        description="Which (collateral, debt) pair a liquidator takes first: 'largest' = most valuable of each; "
        "'max_bonus' = the collateral with the highest bonus.",
    )


def _market_config() -> type[_Model]:
    """``[market]``: the protocol names and each protocol's settings table come from the
    protocol registry (:mod:`liqcascade.protocols.registry`); the rest is :class:`_MarketFields`."""
    fields: dict[str, Any] = {
        "protocol": (Literal[protocol_registry.names()], Field(  # type: ignore[valid-type]
            description="Protocol whose liquidation rules apply. Every protocol reads the same per-asset parameters "
            "(liquidation_threshold, liquidation_bonus) in its own meaning: see the protocol's table.")),
    }
    own = _MarketFields.model_fields
    fields["version"] = (own["version"].annotation, own["version"])
    for key, (model, help_text) in protocol_registry.settings_tables().items():
        fields[key] = (model | None, Field(None, description=help_text))
    fields.update({k: (f.annotation, f) for k, f in own.items() if k != "version"})
    return create_model("MarketConfig", __base__=_Model, __doc__=_MarketFields.__doc__, **fields)


MarketConfig = _market_config()
PROTOCOLS = protocol_registry.names()


HF_KEYS = ("hf_near_weight", "hf_near_width", "hf_mid_weight", "hf_mid_median", "hf_mid_sigma",
           "hf_tail_start", "hf_tail_alpha")


class PositionsConfig(_Model):
    """The position book: a file, or a seeded synthetic book."""

    source: Literal["synthetic", "file"] = Field(description="'file' reads `path`; 'synthetic' generates a book.")
    path: str | None = Field(None, description="CSV or Parquet in long format (account, asset, collateral, "
                             "debt[, emode]), or an export read with `columns`, `aliases`, `decimals` and `raw` (docs/positions.md).")
    columns: dict[str, str] = Field(
        default_factory=dict, description="File: our column -> the file's column, e.g. {account = \"user\", asset = "
        "\"symbol\", collateral = \"supplied_amount\", debt = \"borrowed_amount\"}; other columns are then ignored.")
    aliases: dict[str, str] = Field(
        default_factory=dict, description="File: the file's symbol -> a market symbol (case-insensitive; ETH -> WETH "
        "unless set otherwise). Symbols also match the market's regardless of case.")
    raw: bool = Field(False, description="File: amounts are raw integers in the token's smallest unit (wei), "
                      "divided exactly by 10**decimals.")
    decimals: dict[str, int] = Field(
        default_factory=dict, description="File with raw = true: decimals per market symbol (default: the reserve "
        "configuration's).")
    n_accounts: int = Field(100_000, gt=0, le=20_000_000, description="Accounts in a synthetic book.")
    seed: int = Field(0, ge=0, description="Seed of the synthetic book.")
    hf_preset: Literal["ethb-2021-04-05", "ethb-2021-09-01", "ethb-2022-05-01", "ethb-2022-11-01"] | None = Field(
        None, description="Synthetic: the health-factor mixture fitted to the MakerDAO ETH-B book rebuilt on that "
        "date (docs/behaviour.md); hf_* keys given replace the preset's. Default: the synthetic book's own mixture.")
    pair: list[str] | None = Field(
        None, min_length=2, max_length=2,
        description="Synthetic: [collateral, debt]: every account holds only this collateral and owes only this "
        "asset (one-collateral protocols: Maker vaults, Liquity troves, Morpho markets).",
    )
    debt_usd: float | None = Field(
        None, gt=0, allow_inf_nan=False,
        description="Synthetic: scale the book so its total debt at the reference prices is this many USD (every "
        "account's collateral and debt by one factor, so health factors are unchanged); default: as drawn.",
    )
    # The synthetic generator's health-factor mixture (model/synthetic.py); none = its default.
    hf_near_weight: float | None = Field(
        None, ge=0, le=1, allow_inf_nan=False,
        description="Synthetic: share of borrowers with health factor in [1, 1 + hf_near_width] (default 0.5).")
    hf_near_width: float | None = Field(
        None, gt=0, le=10, allow_inf_nan=False, description="Synthetic: width of that band above 1 (default 0.3).")
    hf_mid_weight: float | None = Field(
        None, ge=0, le=1, allow_inf_nan=False,
        description="Synthetic: share of borrowers lognormal around hf_mid_median (default 0.35); the rest "
        "(1 - near - mid) are a Pareto tail above hf_tail_start.")
    hf_mid_median: float | None = Field(
        None, gt=1, le=100, allow_inf_nan=False, description="Synthetic: median health factor of the mid group (default 1.7).")
    hf_mid_sigma: float | None = Field(
        None, ge=0, le=5, allow_inf_nan=False,
        description="Synthetic: lognormal sigma of the mid group's health factor above 1 (default 0.5).")
    hf_tail_start: float | None = Field(
        None, gt=1, le=100, allow_inf_nan=False,
        description="Synthetic: lowest health factor of the Pareto tail (default 2.5).")
    hf_tail_alpha: float | None = Field(
        None, gt=0, le=100, allow_inf_nan=False,
        description="Synthetic: Pareto index of the tail (default 1.5; larger = closer to hf_tail_start).")

    def health_knobs(self) -> dict[str, float]:
        """The ``hf_*`` keys that are set, as keyword arguments of ``synthetic_book``."""
        return {k: v for k, v in self.model_dump(include=set(HF_KEYS)).items() if v is not None}


class PricesConfig(_Model):
    """Reference (pre-shock) USD prices."""

    source: Literal["snapshot"] = Field(
        "snapshot", description="'snapshot': the oracle answers stored with the parameter file."
    )
    overrides: dict[str, float] = Field(default_factory=dict, description="USD price per asset symbol, replacing the snapshot's.")


def _venue_table(value: Any, handler: Any) -> Any:
    """One ``[[venues]]`` table, validated by the settings model its ``kind`` names in the
    venue registry (:mod:`liqcascade.markets.registry`) -- also a kind registered after this
    module was imported; an unknown or missing kind names ``venues.N.kind`` and the known kinds."""
    if isinstance(value, venue_registry.Settings):  # already validated (a copy of a built config)
        return value
    if not isinstance(value, dict):
        return handler(value)  # pydantic's own "a valid dictionary" error
    kinds = venue_registry.kinds()
    if value.get("kind") not in kinds:
        raise _FieldError(f"a venue kind, one of {list(kinds)}", value.get("kind"), "kind")
    return venue_registry.spec(value["kind"]).settings.model_validate(value)


def _venue_config() -> Any:
    """``[[venues]]``: a union over the registered venue kinds' settings models, keyed by
    ``kind`` (the JSON schema lists the kinds registered when this module is imported)."""
    return Annotated[
        Union[venue_registry.settings_models()],  # type: ignore[valid-type]
        Field(discriminator="kind"),
        WrapValidator(_venue_table),
    ]


VenueConfig = _venue_config()
CpmmVenueConfig = venue_registry.spec("cpmm").settings
OrderBookVenueConfig = venue_registry.spec("orderbook").settings
ImpactVenueConfig = venue_registry.spec("impact").settings
Univ3VenueConfig = venue_registry.spec("univ3").settings


class LiquidatorConfig(_Model):
    """How liquidators behave in the static cascade (unbounded in number)."""

    sell_fraction: float = Field(1.0, ge=0, le=1, description="Share of received collateral sold at once into the venues.")
    buy_debt: bool = Field(False, description="Buy the repaid debt asset through its venue (moves its price up).")
    max_calls_per_account: int = Field(64, gt=0, le=10_000, description="Liquidation calls per account per round, at most.")
    min_repay_usd: float = Field(0.0, ge=0, description="Calls repaying less than this (USD) are not made.")
    strategy: Literal["max_close", "two_step", "profit_max"] = Field(
        "max_close", description="How much each liquidation repays in a round: max_close the most the protocol "
        "allows, until the account is healthy; two_step and profit_max plan each account's calls at the round's "
        "prices (docs/liquidators.md). They need a protocol where the liquidator chooses the amount: aave_v3, "
        "compound_v2, morpho_blue, euler_v2, crvusd.",
    )


class EngineConfig(_Model):
    """Static solver settings."""

    max_rounds: int = Field(1000, gt=0, le=100_000, description="Rounds (price updates) at most before giving up.")
    impact: bool = Field(True, description="False ignores venues: prices stay at the shocked level (no feedback).")


class CurveConfig(_Model):
    """Defaults for `liqcascade curve`."""

    asset: str = Field(description="Asset whose initial shock is swept.")
    shocks: str = Field("0:0.8:0.01", description="start:stop:step (fractions, stop inclusive) or a comma list.")

    @field_validator("shocks")
    @classmethod
    def _grid(cls, v: str) -> str:
        from liqcascade.engine.run import parse_shock_range
        from liqcascade.errors import ConfigError as _CE

        try:
            parse_shock_range(v)
        except _CE as e:
            raise _FieldError(e.expected, e.got) from None
        return v

    co_move: list[str] = Field(
        default_factory=list, description="Assets that take the same initial shock as `asset` at every point (e.g. LSTs with ETH)."
    )


class OracleConfig(_Model):
    """The oracle the protocol reads in a simulation."""

    kind: Literal["instant", "chainlink", "twap", "osm"] = Field(
        "chainlink", description="instant (= market), chainlink (push on deviation or heartbeat), twap, osm (Maker, 1 hop delay)."
    )
    deviation: float = Field(0.005, gt=0, description="Chainlink deviation threshold (0.005 = 0.5 %).")
    heartbeat_s: float = Field(3600, gt=0, description="Chainlink heartbeat in seconds.")
    delay_blocks: int = Field(0, ge=0, description="Blocks between a Chainlink round and the protocol seeing it.")
    window_s: float = Field(1800, gt=0, description="TWAP window in seconds.")
    twap_kind: Literal["geometric", "arithmetic"] = Field("geometric", description="TWAP average (Uniswap v3: geometric).")
    hop_s: float = Field(3600, gt=0, description="OSM hop in seconds.")
    median_spread: float | None = Field(
        None, gt=0, description="osm: its source is Maker's Median, poked when the market moved this much from its "
        "last value (0.01 = 1 %, the ETH/USD Median's relay spread) or after median_expiration_s; none: the market.")
    median_expiration_s: float = Field(86400, gt=0, description="osm: the Median is poked at least this often.")
    source: Literal["market", "pool"] = Field(
        "market",
        description="What the oracle reads: 'market' (the venues' price, driven by the path) or 'pool' (the replay's "
        "on-chain pool price, e.g. the Uniswap v3 USDe/USDT pool in the USDe replay).",
    )
    floor: str | None = Field(
        None, description="osm: CSV (time UTC, asset, price; relative to the scenario) of lower bounds on the "
        "OSM's price: the price it returns during the hop containing `time` is at least `price` (the source's "
        "value it read at that hop's poke is raised to it; docs/backtests.md, 'The oracle the chain revealed').")


class SimLiquidatorsConfig(_Model):
    """The liquidator population in a simulation."""

    liquidations_per_block: float = Field(50, gt=0, description="Accounts liquidated per block at most (inf = unbounded).")
    calls_per_account: int = Field(1, ge=1, description="Calls on one account per block at most.")
    gas_per_call: float = Field(500_000, ge=0, description="Gas units per liquidation (call plus the collateral swap).")
    gas_asset: str | None = Field("WETH", description="Asset pricing gas in USD (none: gas is free).")
    gas_gwei: float = Field(20.0, ge=0, description="Gas price when the path carries none (replays with gas data use theirs).")
    min_profit_usd: float = Field(0.0, description="Smallest profit after slippage and gas a liquidator acts on.")
    capital_usd: float = Field(1e300, gt=0, description="Debt (USD) repayable per block (1e300: flash loans).")
    latency_blocks: int = Field(0, ge=0, description="Blocks an account must have been eligible before liquidators act.")
    spread_blocks: int = Field(1, ge=1, description="Liquidators sell 1/spread_blocks of their inventory each block.")
    min_repay_usd: float = Field(0.0, ge=0, description="Calls repaying less than this are not made.")
    strategy: Literal["max_close", "two_step", "profit_max"] = Field(
        "max_close", description="How much each liquidation repays: max_close the most the protocol allows (in "
        "calls_per_account calls); two_step two calls in one block, the first leaving the account just liquidatable "
        "(Qin et al. 2021); profit_max one call sized to maximise profit after the collateral's venue and gas. "
        "two_step and profit_max need a protocol where the liquidator chooses the amount: aave_v3, compound_v2, "
        "morpho_blue, euler_v2 (docs/liquidators.md).",
    )
    calls_per_round: int | None = Field(
        None, ge=1, description="System scenarios: liquidation calls per round of the static cascade (`run`, "
        "`curve`) at most (unset: unbounded); capital_usd there is the balance, recycled after each round's sale. "
        "Not read by `simulate`.",
    )


class DynamicsConfig(_Model):
    """How venues recover from liquidation selling."""

    recovery_half_life_s: float = Field(600, ge=0, description="Half-life of transient impact in seconds (0 instant; 1e300 never).")
    permanent_fraction: float = Field(0.5, ge=0, le=1, description="Share of each sale's price move that stays in the reference price.")
    depth_half_life_s: float | None = Field(
        None, gt=0, description="Order books and impact laws: half-life of consumed depth in seconds (unset: they are "
        "re-centred at full depth and recover with recovery_half_life_s; 1e300: never refills)."
    )
    arb_capital_usd: float = Field(
        1e300, gt=0, description="USD arbitrageurs can put into each AMM pool per block (1e300: unlimited, the pool "
        "follows the half-life); finite: pools are traded toward the reference with at most this much."
    )


class EventsConfig(_Model):
    """Owners' actions applied between blocks (docs/positions.md, "Owners' actions")."""

    path: str = Field(description="CSV or Parquet of owners' actions: time (or block), account, action, asset, amount; "
                      "relative to this file.")
    accrual: dict[str, str] = Field(
        default_factory=dict, description="Debt asset -> CSV of its fee history (time, annual_fee): the asset's debt "
        "grows by (1 + annual_fee) ** (seconds / 31536000), compounded per second like Maker's rate.")
    dust: dict[str, float] = Field(
        default_factory=dict, description="Debt asset -> least debt (tokens) a repayment may leave, like Maker's dust: "
        "a recorded repayment leaving less repays the rest too (the simulated debt's error).")


class BehaviourConfig(_Model):
    """Owners who react between blocks (docs/behaviour.md): top-ups and repayments as HF nears 1,
    draws when it is high. Off unless the table is given."""

    fit: Literal["ethb", "none"] = Field(
        "ethb", description="ethb: start from the shipped fit to MakerDAO ETH-B owners (2021-04 to 2022-12, the "
        "held-aside fortnight excluded); keys given below replace the fit's. none: give every key.")
    edges: list[float] | None = Field(
        None, description="Lower edges of the distance bins, d = HF - 1, and the last bin's upper edge (one more "
        "value than the probabilities).")
    protect_per_hour: list[float] | None = Field(
        None, description="Per bin: probability per hour that an owner tops up or repays to restore_hf.")
    lever_per_hour: list[float] | None = Field(
        None, description="Per bin: probability per hour that an owner draws more debt down to lever_hf.")
    restore_hf: float | None = Field(None, description="HF a protecting owner restores (> 1).")
    lever_hf: float | None = Field(None, description="HF a levering owner draws down to (>= 1).")
    repay_share: float | None = Field(None, description="Share of protections made by repaying debt (the rest "
                                      "top up collateral).")
    react_to_return: bool = Field(
        True, description="false: the probabilities do not depend on the market (with fit = \"ethb\": the bins' "
        "unconditional probabilities, the model before the return slopes were fitted).")
    protect_return_slope: list[float] | None = Field(
        None, description="Per bin: log-rate slope of the protect probability on the collateral's path log return over "
        "the 24 hours before (negative: more protection after a fall); the bin's probabilities are then those at a "
        "zero return. [] turns the dependence off.")
    lever_return_slope: list[float] | None = Field(
        None, description="Per bin: likewise for the lever probability.")
    react_return_range: list[float] | None = Field(
        None, description="[least, greatest] 24-hour log return the reaction slopes apply to (beyond it the return is "
        "clipped: the returns they were fitted on).")
    protect_scale: float = Field(1.0, ge=0, description="Multiplier on every protect probability (capped at 1); "
                                 "0 turns protection off.")
    lever_scale: float = Field(1.0, ge=0, description="Multiplier on every lever probability (capped at 1); 0 turns "
                               "levering off.")
    seed: int = Field(0, ge=0, description="Seed of the owners' random draws (Monte Carlo paths get independent "
                      "streams of it).")
    open_pair: list[str] | None = Field(
        None, description="[collateral, debt]: new accounts open on this pair of market assets during the run, at the "
        "fitted rate, HF and size (docs/behaviour.md). Default: no new accounts.")
    open_per_account_day: float | None = Field(
        None, description="New accounts per day per account owing at the run's start, when the collateral's 24-hour "
        "log return is 0.")
    open_return_slope: float | None = Field(
        None, description="Slope of the log opening rate on the collateral's path log return over the 24 hours "
        "before (negative: more openings after a fall).")
    open_return_range: list[float] | None = Field(
        None, description="[least, greatest] 24-hour log return the slope applies to (beyond it the return is "
        "clipped: the returns the slope was fitted on).")
    open_hf_quantiles: list[float] | None = Field(
        None, description="Opening health factor at 0, 5, ..., 100 % (21 non-decreasing values, the first > 1); "
        "drawn linearly between them.")
    open_size_quantiles: list[float] | None = Field(
        None, description="Opening debt over the book's mean debt per owing account at the start, at 0, 5, ..., "
        "100 % (21 non-decreasing values > 0).")
    open_scale: float = Field(1.0, ge=0, description="Multiplier on the opening rate; 0 opens none.")


class KeepersConfig(_Model):
    """Keeper-managed owners (docs/backtests.md): bots that repay on the OSM's next price."""

    path: str = Field(description="CSV of keeper-managed owners: account, trigger_hf (HF at the OSM's next price "
                      "below which the bot repays), target_hf (HF it restores), max_repay (most debt tokens it "
                      "repays in one block), optionally active_from (UTC time from which the bot acts; empty: from the "
                      "start) and idle_move (the oracle's log-price movement since the owner's last recorded "
                      "action, at the start); relative to this file. Needs an osm oracle.")
    max_idle_move: float | None = Field(
        None, gt=0, description="A bot counts as stopped while the oracle's price has moved more than this (sum "
        "of absolute log changes) since its owner's last recorded action (idle_move, then the run's own "
        "actions); none: bots never stop.")


class BacktestConfig(_Model):
    """What a replay is scored against (`liqcascade backtest`, docs/backtests.md)."""

    recorded: str = Field(description="CSV of the liquidations that happened: time (UTC), account, collateral "
                          "(tokens of collateral_asset), debt (tokens repaid); relative to this file.")
    collateral_asset: str = Field(description="The market asset the recorded collateral is in.")
    quote: str | None = Field(None, description="The currency the path's prices are quoted in (e.g. USDT, USD): "
                              "printed with the score.")
    ledger_errors: str | None = Field(None, description="CSV of accounts whose recorded actions the protocol "
                                      "would refuse (account, time, collateral, debt, reason): left out of the "
                                      "scoring and stored as table ledger_errors; relative to this file.")


class SimulationConfig(_Model):
    """A block-by-block simulation (`liqcascade simulate`)."""

    path: Literal["shock", "linear", "gbm", "replay", "candles"] = Field(
        description="shock: the [shock] drops at block 1; linear: over duration_blocks; gbm: correlated GBM; "
        "replay: a shipped crash; candles: your own candle files (`candles`)."
    )
    candles: dict[str, str] = Field(
        default_factory=dict,
        description="candles: path asset -> candle CSV (Binance kline layouts or date,open,high,low,close,volume), "
        "relative to this file; all on one interval.",
    )
    fill: Literal["none", "ffill", "linear"] = Field(
        "none", description="candles: what to do with missing candles: none (an error naming the row), ffill or linear."
    )
    blocks: int = Field(300, gt=1, le=1_000_000, description="Blocks to simulate (shock, linear, gbm).")
    block_seconds: int = Field(12, gt=0, description="Seconds per block.")
    duration_blocks: int = Field(1, ge=1, description="Blocks over which a linear shock unfolds.")
    vol: dict[str, float] = Field(default_factory=dict, description="GBM: annualised volatility per asset.")
    corr: list[list[float]] | None = Field(None, description="GBM: correlation matrix in the order of `vol` (identity if omitted).")
    drift: float = Field(0.0, description="GBM: annualised drift of the log price.")
    seed: int = Field(0, ge=0, description="GBM: seed.")
    replay: Literal[
        "2021-05-19", "2021-05-19-spot", "2021-05-week", "2020-03-12", "2022-05-luna", "2022-11-ftx",
        "2023-03-usdc", "2024-08-05", "2025-10-10-usde",
    ] | None = Field(
        None, description="replay: which shipped crash (candles resampled to blocks; 2021-05-19 is the 1-minute "
        "perpetual, 2021-05-19-spot the hourly spot candles of the same day)."
    )
    leg: int = Field(
        0, ge=-1, description="replay: which leg (Black Thursday has two); -1 joins all legs in one run, bridging the "
        "gap between them log-linearly block by block."
    )
    pool_depth: bool = Field(
        False,
        description="replay: the driven asset sells into the replay's real pool (2021-05-19: Uniswap v2 ETH/DAI, "
        "reserves every 10 minutes) as a constant-product venue whose depth follows the data.",
    )
    pool_depth_scale: float = Field(1.0, gt=0, description="Multiplier on the replay pool's depth.")
    start: str | None = Field(None, description="replay: first block's UTC time ('2025-10-10 16:00'); default the path's start.")
    end: str | None = Field(None, description="replay: UTC time to stop before; default the path's end.")
    drive: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Path asset -> market assets it moves by the same relative path (e.g. ETH = [WETH, wstETH]); "
        "default: the market asset of the same name.",
    )
    oracle: OracleConfig = Field(default_factory=OracleConfig, description="The protocol's oracle.")
    liquidators: SimLiquidatorsConfig = Field(default_factory=SimLiquidatorsConfig, description="Liquidator population.")
    dynamics: DynamicsConfig = Field(default_factory=DynamicsConfig, description="Venue recovery.")
    check_conservation: bool = Field(False, description="Check conservation every block (slower; for debugging).")
    events: EventsConfig | None = Field(None, description="Owners' actions between blocks and debt accrual.")
    behaviour: BehaviourConfig | None = Field(None, description="Owners who react between blocks (off without "
                                              "this table).")
    keepers: KeepersConfig | None = Field(None, description="Keeper-managed owners who repay on the OSM's next price "
                                          "(off without this table).")
    impact_on_path: Literal["full", "none", "excess"] | None = Field(
        None, description="Whether liquidators' sales move the price: full (permanent and transient impact, the "
        "default on synthetic paths), none (sales get their slippage, the path stays the market: the default on "
        "replay and candles paths, whose prices already contain the real liquidations) or excess (only the sales "
        "beyond impact_baseline move it).")
    impact_baseline: str | None = Field(
        None, description="excess: CSV of what the path's own liquidations sold (time, asset, amount in tokens), "
        "relative to this file.")


class ScenarioConfig(_Model):
    """A complete static-cascade scenario."""

    name: str = Field(description="Short name of the scenario.")
    description: str = Field("", description="What the scenario is for.")
    market: MarketConfig = Field(description="The lending market.")
    positions: PositionsConfig = Field(description="The position book.")
    prices: PricesConfig = Field(default_factory=PricesConfig, description="Reference prices.")
    venues: list[VenueConfig] = Field(default_factory=list, description="Where liquidators sell; several per asset are routed.")
    shock: dict[str, float] = Field(default_factory=dict, description="Initial fractional drop per asset (0.3 = -30 %).")
    liquidators: LiquidatorConfig = Field(default_factory=LiquidatorConfig, description="Liquidator behaviour.")
    engine: EngineConfig = Field(default_factory=EngineConfig, description="Solver settings.")
    backtest: BacktestConfig | None = Field(None, description="Recorded liquidations a replay is scored against.")
    curve: CurveConfig | None = Field(None, description="Defaults for the cascade curve command.")
    simulation: SimulationConfig | None = Field(None, description="Settings of the block-by-block simulation.")
    montecarlo: MonteCarloConfig | None = Field(None, description="Monte Carlo price paths (`liqcascade montecarlo`).")

    @field_validator("shock")
    @classmethod
    def _shock_range(cls, v: dict[str, float]) -> dict[str, float]:
        for a, x in v.items():
            if not (x == x) or not (-10.0 < x < 1.0):
                raise _FieldError("a fractional drop below 1 and above -10 (0.3 = -30 %; negative = rise)", x, a)
        return v


class _FieldError(ValueError):
    """A validator's complaint: what was expected, the bad value and, for a mapping, the key
    inside the field (``parse_scenario`` turns it into ``shock.WETH: expected ..., got 1.5``)."""

    def __init__(self, expected: str, got: Any, sub: str = "") -> None:
        super().__init__(f"{expected}, got {got!r}")
        self.expected, self.got, self.sub = expected, got, sub


def _loc(loc: tuple[Any, ...]) -> str:
    """pydantic's location as a dotted key (``venues.0.fee``: a venue table is validated by its
    kind's model directly, see :func:`_venue_table`, so no union tag sits after the index)."""
    return ".".join(str(p) for p in loc)


def _expected(msg: str) -> str:
    """pydantic's message, phrased as what was expected."""
    if msg.startswith("Input should be "):
        return msg[len("Input should be "):]
    if msg == "Extra inputs are not permitted":
        return "no such key (it is not a scenario field; check the spelling)"
    if msg == "Field required":
        return "this key to be present"
    if msg.startswith("Value error, "):
        return msg[len("Value error, "):]
    return msg


def parse_scenario(data: dict[str, Any], source: str = "<python>") -> ScenarioConfig:
    """Validate a scenario mapping; a ConfigError names the first bad key."""
    if "markets" in data:
        raise ConfigError(source, "markets", "a single-market scenario for this command (a system scenario, with "
                          "[[markets]], runs with `run`, `curve`, `simulate`, `network`, `montecarlo`, `calibrate`, "
                          "`sweep`, `report` and `serve`; `compare` runs one market)")
    return validate(ScenarioConfig, data, source)


def validate(model: type[BaseModel], data: dict[str, Any], source: str) -> Any:
    """``model`` validated from ``data``; the first error becomes a ConfigError naming
    ``source`` and the dotted key (our validators' sub-key and bad value said once)."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        fe = (err.get("ctx") or {}).get("error")
        if isinstance(fe, _FieldError):
            key = _loc(err["loc"]) + (f".{fe.sub}" if fe.sub else "")
            raise ConfigError(source, key, fe.expected, fe.got) from None
        raise ConfigError(source, _loc(err["loc"]), _expected(err["msg"]), err.get("input")) from None


def read_toml(path: str | Path) -> dict[str, Any]:
    """The TOML file at ``path`` as a mapping; a missing file or bad TOML is a ConfigError
    naming it. A UTF-8 byte-order mark (Windows editors save one) is accepted."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(str(p), "", "an existing scenario TOML file")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(str(p), "", f"valid TOML ({e})") from None


def load_scenario(path: str | Path) -> tuple[ScenarioConfig, Path]:
    """Read and validate a scenario TOML file. Returns the config and its directory."""
    p = Path(path)
    return parse_scenario(read_toml(p), str(p)), p.resolve().parent


def resolve_path(text: str, base_dir: Path, file: str, key: str) -> Path:
    """A config path relative to the scenario file's directory; must exist."""
    p = Path(text)
    if not p.is_absolute():
        p = base_dir / p
    if not p.exists():
        raise ConfigError(file, key, "an existing file", str(p))
    return p


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def resolved_config(cfg: ScenarioConfig, base_dir: Path, source: str = "<config>") -> dict[str, Any]:
    """The config as a plain dict, with each referenced file replaced by its content hash,
    so the run id changes when an input file changes and not when it moves (a file gone
    since the build is an error naming ``source``, the scenario file)."""
    d = json.loads(cfg.model_dump_json())
    for key in HF_KEYS:  # left out when unset, so a scenario without them keeps its run id
        if d["positions"].get(key) is None:
            d["positions"].pop(key, None)
    drop_unset_calls_per_round(d.get("simulation"))
    if cfg.positions.source == "file" and cfg.positions.path:
        p = resolve_path(cfg.positions.path, base_dir, source, "positions.path")
        d["positions"]["path"] = f"sha256:{file_digest(p)}"
    if not cfg.market.params.startswith("builtin:"):
        p = resolve_path(cfg.market.params, base_dir, source, "market.params")
        d["market"]["params"] = f"sha256:{file_digest(p)}"
    hash_shared_inputs(d, cfg.venues, base_dir, source)
    return d


def drop_unset_calls_per_round(sim: dict[str, Any] | None) -> None:
    """In a ``[simulation]`` dump: ``liquidators.calls_per_round`` left out when unset (a key of
    the static system cascade, added later), so a scenario without it keeps its run id."""
    liq = (sim or {}).get("liquidators")
    if liq is not None and liq.get("calls_per_round") is None:
        liq.pop("calls_per_round", None)


def hash_shared_inputs(d: dict[str, Any], venues: list[Any], base_dir: Path, source: str) -> None:
    """In a config dump ``d``: the candle files of ``[simulation]`` and the files each venue kind
    declares (``venues``: the validated venue tables), replaced by their content hashes."""
    sim = d.get("simulation")
    if sim and sim.get("candles"):
        sim["candles"] = {
            a: f"sha256:{file_digest(resolve_path(f, base_dir, source, f'simulation.candles.{a}'))}"
            for a, f in sim["candles"].items()
        }
    if d.get("backtest"):
        bt = d["backtest"]
        bt["recorded"] = f"sha256:{file_digest(resolve_path(bt['recorded'], base_dir, source, 'backtest.recorded'))}"
    if sim and sim.get("impact_baseline"):
        sim["impact_baseline"] = f"sha256:{file_digest(resolve_path(sim['impact_baseline'], base_dir, source, 'simulation.impact_baseline'))}"
    if sim and sim.get("events"):
        ev = sim["events"]
        ev["path"] = f"sha256:{file_digest(resolve_path(ev['path'], base_dir, source, 'simulation.events.path'))}"
        ev["accrual"] = {a: f"sha256:{file_digest(resolve_path(f, base_dir, source, f'simulation.events.accrual.{a}'))}"
                         for a, f in ev.get("accrual", {}).items()}
    if sim and (sim.get("oracle") or {}).get("floor"):
        o = sim["oracle"]
        o["floor"] = f"sha256:{file_digest(resolve_path(o['floor'], base_dir, source, 'simulation.oracle.floor'))}"
    if sim and sim.get("keepers"):
        kp = sim["keepers"]
        kp["path"] = f"sha256:{file_digest(resolve_path(kp['path'], base_dir, source, 'simulation.keepers.path'))}"
    for i, (vc, v) in enumerate(zip(venues, d.get("venues", []))):
        for key, text in venue_registry.spec(vc.kind).files(vc).items():  # what the venue kind declares
            v[key] = f"sha256:{file_digest(resolve_path(text, base_dir, source, f'venues.{i}.{key}'))}"


def config_json_schema() -> dict[str, Any]:
    return ScenarioConfig.model_json_schema()
