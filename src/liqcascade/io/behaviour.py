"""The owners' behaviour of a scenario (``[simulation.behaviour]``, docs/behaviour.md): the
shipped fit to ETH-B owners (``data/behaviour/ethb_fit.json``, written by
``liqcascade fit-behaviour --write``) with the scenario's own keys on top."""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path

from liqcascade.errors import ConfigError, DataError
from liqcascade.model.behaviour import BehaviourParams, OpenParams

FIT_FILE = "behaviour/ethb_fit.json"
"""The shipped fit, under the package's ``data/``; the tests check it against a fresh fit."""
BOOKS_FILE = "behaviour/ethb_hf_presets.json"
"""The HF mixtures fitted to rebuilt ETH-B books, per date (``positions.hf_preset``)."""


def fit_path() -> Path:
    return Path(str(resources.files("liqcascade") / "data")) / FIT_FILE


def shipped_params(seed: int = 0, path: Path | None = None, react_to_return: bool = True) -> BehaviourParams:
    """The forward model's parameters of the shipped ETH-B fit: per bin the hourly
    probabilities at a zero 24-hour return with their return slopes, or (``react_to_return``
    false) the bins' unconditional probabilities without slopes."""
    f = path if path is not None else fit_path()
    try:
        d = json.loads(f.read_text())
        p = d["params"]
        o = p["opening"]
        opening = OpenParams(float(o["per_account_day"]), float(o["return_slope"]), tuple(o["hf_quantiles"]),
                             tuple(o["size_quantiles"]), tuple(o["return_range"]))
        if not react_to_return:
            nz = lambda x: 0.0 if math.isnan(float(x)) else float(x)  # noqa: E731
            return BehaviourParams(tuple(p["edges"]), tuple(nz(b["p_protect"]) for b in d["bins"]),
                                   tuple(nz(b["p_lever"]) for b in d["bins"]), float(p["restore_hf"]),
                                   float(p["lever_hf"]), float(p["repay_share"]), seed, opening)
        return BehaviourParams(tuple(p["edges"]), tuple(p["protect_per_hour"]), tuple(p["lever_per_hour"]),
                               float(p["restore_hf"]), float(p["lever_hf"]), float(p["repay_share"]), seed, opening,
                               tuple(p["protect_return_slope"]), tuple(p["lever_return_slope"]),
                               tuple(p["return_range"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(str(f), None, f"the behaviour fit could not be read ({exc}); expected the JSON "
                        "written by `liqcascade fit-behaviour --write`") from exc


def books_path() -> Path:
    return Path(str(resources.files("liqcascade") / "data")) / BOOKS_FILE


def hf_preset_knobs(name: str, source: str) -> dict[str, object]:
    """``positions.hf_preset = "ethb-DATE"`` as ``synthetic_book``'s ``hf_*`` keyword arguments."""
    f = books_path()
    try:
        books = json.loads(f.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(str(f), None, f"the HF presets could not be read ({exc}); expected the JSON written "
                        "by `liqcascade fit-behaviour --write-books`") from exc
    date = name.removeprefix("ethb-")
    if date not in books:
        raise ConfigError(source, "positions.hf_preset", f"one of {['ethb-' + d for d in books]}", name)
    k = dict(books[date]["knobs"])
    k["hf_near_shape"] = tuple(k["hf_near_shape"])
    return k


def market_behaviour(cfg, source: str, model, key: str = "simulation.behaviour") -> BehaviourParams | None:
    """:func:`behaviour_params` for a built market ``model`` (its assets; new accounts need
    rules without soft liquidation: a new loan's LLAMMA bands are not modelled)."""
    p = behaviour_params(cfg, source, tuple(model.assets), key)
    if p is not None and p.opening is not None and model.rules.capabilities.soft_liquidation:
        raise ConfigError(source, f"{key}.open_pair", "a protocol without soft liquidation (a new loan's bands are "
                          "not modelled): leave open_pair out", list(p.opening.pair or ()))
    return p


def behaviour_params(cfg, source: str, assets: tuple[str, ...] | None = None,
                     key: str = "simulation.behaviour") -> BehaviourParams | None:
    """A ``[simulation.behaviour]`` table (:class:`~liqcascade.io.config.BehaviourConfig`) as the
    engine's parameters; None without one. ``fit = "ethb"`` starts from the shipped fit, and
    every key the table gives replaces the fit's; ``fit = "none"`` needs every key. The
    ``*_scale`` keys multiply the hourly probabilities (capped at 1). ``assets``: the market's,
    which ``open_pair`` must name; ``key``: where the table is (errors name it)."""
    try:
        return _behaviour_params(cfg, source, assets)
    except ConfigError as e:
        if key == "simulation.behaviour" or not e.key.startswith("simulation.behaviour"):
            raise
        raise ConfigError(source, key + e.key.removeprefix("simulation.behaviour"), e.expected, e.got) from None


def _behaviour_params(cfg, source: str, assets: tuple[str, ...] | None) -> BehaviourParams | None:
    if cfg is None:
        return None
    keys = ("edges", "protect_per_hour", "lever_per_hour", "restore_hf", "lever_hf", "repay_share")
    given = {k: getattr(cfg, k) for k in keys + tuple(RETURN_KEYS) if getattr(cfg, k) is not None}
    if cfg.fit == "none":
        missing = [k for k in keys if k not in given]
        if missing:
            raise ConfigError(source, f"simulation.behaviour.{missing[0]}", "a value (fit = \"none\": every key "
                              "is given; the return keys may be left out)")
        base = {}
    else:
        b = shipped_params(react_to_return=cfg.react_to_return)
        base = {k: getattr(b, RETURN_KEYS.get(k, k)) for k in keys + tuple(RETURN_KEYS)}
    if not cfg.react_to_return:
        bad = [k for k in RETURN_KEYS if k in given]
        if bad:
            raise ConfigError(source, f"simulation.behaviour.{bad[0]}", "no return key with react_to_return = false",
                              given[bad[0]])
        for k in RETURN_KEYS:
            base.pop(k, None)
    if "edges" in given:
        if not all(k in given for k in ("protect_per_hour", "lever_per_hour")):
            raise ConfigError(source, "simulation.behaviour.edges", "protect_per_hour and lever_per_hour given with "
                              "edges (one probability per bin)")
        for k in ("protect_return_slope", "lever_return_slope"):  # the fit's are per its own bins
            base[k] = ()
    v = {**base, **{k: (tuple(x) if isinstance(x, list) else x) for k, x in given.items()}}
    v["return_range"] = v.pop("react_return_range", (0.0, 0.0))
    v["protect_per_hour"] = tuple(min(1.0, x * cfg.protect_scale) for x in v["protect_per_hour"])
    v["lever_per_hour"] = tuple(min(1.0, x * cfg.lever_scale) for x in v["lever_per_hour"])
    try:
        return BehaviourParams(seed=cfg.seed, opening=_opening(cfg, source, assets), **v)
    except ConfigError as e:
        if not e.key.startswith("behaviour."):  # already named in the table
            raise
        raise ConfigError(source, "simulation." + e.key, e.expected, e.got) from None


RETURN_KEYS = {"protect_return_slope": "protect_return_slope", "lever_return_slope": "lever_return_slope",
               "react_return_range": "return_range"}
"""The table's keys of the reactions' return response -> :class:`BehaviourParams` fields."""
OPEN_KEYS = {"open_per_account_day": "per_account_day", "open_return_slope": "return_slope",
             "open_return_range": "return_range", "open_hf_quantiles": "hf_quantiles",
             "open_size_quantiles": "size_quantiles"}
"""The table's opening keys -> :class:`OpenParams` fields."""


def _opening(cfg, source: str, assets: tuple[str, ...] | None) -> OpenParams | None:
    """New accounts: None without ``open_pair``; else the fit's process (``fit = "none"``:
    every ``open_*`` key given) with the table's keys on top."""
    given = {f: getattr(cfg, k) for k, f in OPEN_KEYS.items() if getattr(cfg, k) is not None}
    if cfg.open_pair is None:
        if given:
            raise ConfigError(source, "simulation.behaviour.open_pair", "[collateral, debt] with the open_* keys "
                              "(the pair new accounts open on)")
        return None
    if cfg.fit == "none":
        missing = [k for k, f in OPEN_KEYS.items() if f not in given]
        if missing:
            raise ConfigError(source, f"simulation.behaviour.{missing[0]}", "a value (fit = \"none\": every key "
                              "is given)")
        base: dict[str, object] = {}
    else:
        o = shipped_params().opening
        base = {f: getattr(o, f) for f in OPEN_KEYS.values()}
    v = {**base, **{k: tuple(x) if isinstance(x, list) else x for k, x in given.items()}}
    pair = tuple(cfg.open_pair)
    if assets is not None and (len(pair) != 2 or any(a not in assets for a in pair) or pair[0] == pair[1]):
        raise ConfigError(source, "simulation.behaviour.open_pair", f"[collateral, debt]: two different assets of the "
                          f"market {list(assets)}", cfg.open_pair)
    return OpenParams(pair=pair, scale=cfg.open_scale, **v)


__all__ = ["BOOKS_FILE", "FIT_FILE", "behaviour_params", "market_behaviour", "books_path", "fit_path", "hf_preset_knobs", "shipped_params"]
