"""Conformance handlers for protocol ``maker`` (Liquidations 2.0 and 1.2), for :mod:`liqcascade.protocols.conformance`.

The runner imports this module the first time a ``maker`` vector needs a handler. Inputs use
dss's names and units (see :mod:`liqcascade.protocols.maker.exact`); integers are strings.

Functions:

- ``rpow``: ``x``, ``n``, ``base`` (default ray) -> ``z``.
- ``price_linear`` (``tau``), ``price_stairstep`` (``cut``, ``step``), ``price_exponential``
  (``cut``): ``top`` and ``dur`` -> ``price``, or ``durs`` (a list) -> ``prices`` keyed by the
  duration as a string.
- ``kick``: ``clip``, ``tab``, ``lot``, ``val`` [wad] (``par`` default ray) -> ``top``, ``coin``.
- ``bark``: ``ilk``, ``vault``, ``dog``, ``clip``, ``val`` -> the bark outcome.
- ``auction``: the ``bark`` inputs plus ``steps``, run in order from ``now`` 0; each step may
  ``wait`` seconds first and is one of ``take`` (``amt``, ``max``), ``redo``, ``status``,
  ``file`` (Clipper fields to set), ``upchost`` (a new ilk ``dust``; chost = wmul(dust, chop)),
  ``poke`` (a new feed ``val``). Outputs ``bark``, ``steps.step<i>`` and the ``final`` state.
- ``cat_bite`` (Liquidations 1.2): ``ilk``, ``vault``, ``cat`` -> the bite outcome.
- ``flip`` (Liquidations 1.2): a Flipper session of ``kick``/``bite``/``tend``/``dent``/``deal``/
  ``tick``/``yank`` steps with dai and gem balances (see ``_flip``).

``ilk.spot`` may be given directly or as ``mat`` (with the ilk's own ``val``: ``spot_val``,
default the feed ``val``), as Spotter.poke computes it. ``clip.chost`` defaults to
``wmul(ilk.dust, ilk.chop)``, as ``upchost`` right after setup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from liqcascade.protocols.conformance import VectorContext, as_int, register
from liqcascade.protocols.maker import exact as mk

_CLIP_FIELDS = ("buf", "tail", "cusp", "chip", "tip", "chost", "stopped")


def _int(m: Mapping[str, Any], key: str, ctx: VectorContext, where: str, default: int | None = None) -> int:
    if not isinstance(m, Mapping) or key not in m:
        if default is None:
            raise ctx.error(f"{where}: missing key {key!r}")
        return default
    return as_int(m[key], f"{where}.{key}", ctx)


def _map(m: Mapping[str, Any], key: str, ctx: VectorContext, where: str) -> Mapping[str, Any]:
    v = m.get(key) if isinstance(m, Mapping) else None
    if not isinstance(v, Mapping):
        raise ctx.error(f"{where}: {key!r} must be a mapping")
    return v


def _calc(c: Mapping[str, Any], ctx: VectorContext, where: str) -> mk.Abacus:
    curve = c.get("curve")
    if curve == "linear":
        return mk.LinearDecrease(_int(c, "tau", ctx, where))
    if curve == "stairstep":
        return mk.StairstepExponentialDecrease(_int(c, "cut", ctx, where), _int(c, "step", ctx, where))
    if curve == "exponential":
        return mk.ExponentialDecrease(_int(c, "cut", ctx, where))
    raise ctx.error(f"{where}.curve: expected linear, stairstep or exponential, got {curve!r}")


def _ilk(inputs: Mapping[str, Any], ctx: VectorContext) -> mk.Ilk:
    i = _map(inputs, "ilk", ctx, "inputs")
    par = _int(inputs, "par", ctx, "inputs", mk.RAY)
    if "spot" in i:
        spot = _int(i, "spot", ctx, "inputs.ilk")
    else:
        val = _int(i, "spot_val", ctx, "inputs.ilk", _int(inputs, "val", ctx, "inputs"))
        spot = mk.spot_price(val, _int(i, "mat", ctx, "inputs.ilk"), par)
    return mk.Ilk(
        rate=_int(i, "rate", ctx, "inputs.ilk", mk.RAY),
        spot=spot,
        dust=_int(i, "dust", ctx, "inputs.ilk", 0),
        chop=_int(i, "chop", ctx, "inputs.ilk"),
        hole=_int(i, "hole", ctx, "inputs.ilk"),
        dirt=_int(i, "dirt", ctx, "inputs.ilk", 0),
    )


def _clip(inputs: Mapping[str, Any], ilk: mk.Ilk | None, ctx: VectorContext) -> mk.Clipper:
    c = _map(inputs, "clip", ctx, "inputs")
    kw = {k: _int(c, k, ctx, "inputs.clip") for k in _CLIP_FIELDS if k in c}
    if "chost" not in kw and ilk is not None:
        kw["chost"] = mk.upchost(ilk.dust, ilk.chop)
    calc = _calc(c["calc"], ctx, "inputs.clip.calc") if "calc" in c else mk.LinearDecrease(0)
    return mk.Clipper(calc=calc, **kw)


def _feed(inputs: Mapping[str, Any], ctx: VectorContext) -> int:
    return mk.feed_price(_int(inputs, "val", ctx, "inputs"), _int(inputs, "par", ctx, "inputs", mk.RAY))


def _sale_out(sale: mk.Sale | None) -> dict[str, Any]:
    if sale is None:
        return {"active": False, "tab": 0, "lot": 0, "tic": 0, "top": 0}
    return {"active": True, "tab": sale.tab, "lot": sale.lot, "tic": sale.tic, "top": sale.top}


def _bark_out(b: mk.BarkResult) -> dict[str, Any]:
    return {
        "dart": b.dart,
        "dink": b.dink,
        "due": b.due,
        "tab": b.tab,
        "lot": b.sale.lot,
        "top": b.sale.top,
        "tic": b.sale.tic,
        "coin": b.coin,
        "vault": {"ink": b.vault.ink, "art": b.vault.art},
        "Dirt": b.dog.Dirt,
        "dirt": b.ilk.dirt,
    }


def _bark(inputs: Mapping[str, Any], ctx: VectorContext) -> tuple[mk.BarkResult, mk.Clipper]:
    ilk = _ilk(inputs, ctx)
    v = _map(inputs, "vault", ctx, "inputs")
    vault = mk.Vault(_int(v, "ink", ctx, "inputs.vault"), _int(v, "art", ctx, "inputs.vault"))
    d = _map(inputs, "dog", ctx, "inputs")
    dog = mk.Dog(_int(d, "Hole", ctx, "inputs.dog"), _int(d, "Dirt", ctx, "inputs.dog", 0))
    clip = _clip(inputs, ilk, ctx)
    return mk.bark(ilk, vault, dog, clip, _feed(inputs, ctx), _int(inputs, "now", ctx, "inputs", 0)), clip


@register("maker", "rpow")
def _rpow(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    x = _int(inputs, "x", ctx, "inputs")
    n = _int(inputs, "n", ctx, "inputs")
    return {"z": mk.rpow(x, n, _int(inputs, "base", ctx, "inputs", mk.RAY))}


def _prices(calc: mk.Abacus, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    top = _int(inputs, "top", ctx, "inputs")
    if "durs" in inputs:
        durs = inputs["durs"]
        if not isinstance(durs, list):
            raise ctx.error("inputs.durs: expected a list")
        ds = [as_int(d, "inputs.durs", ctx) for d in durs]
        return {"prices": {str(d): calc.price(top, d) for d in ds}}
    return {"price": calc.price(top, _int(inputs, "dur", ctx, "inputs"))}


@register("maker", "price_linear")
def _price_linear(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    return _prices(mk.LinearDecrease(_int(inputs, "tau", ctx, "inputs")), inputs, ctx)


@register("maker", "price_stairstep")
def _price_stairstep(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    cut, step = _int(inputs, "cut", ctx, "inputs"), _int(inputs, "step", ctx, "inputs")
    calc = mk.StairstepExponentialDecrease(cut, step)
    return _prices(calc, inputs, ctx)


@register("maker", "price_exponential")
def _price_exponential(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    return _prices(mk.ExponentialDecrease(_int(inputs, "cut", ctx, "inputs")), inputs, ctx)


@register("maker", "kick")
def _kick(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    clip = _clip(inputs, None, ctx)
    k = mk.kick(
        clip,
        _int(inputs, "tab", ctx, "inputs"),
        _int(inputs, "lot", ctx, "inputs"),
        _feed(inputs, ctx),
        _int(inputs, "now", ctx, "inputs", 0),
    )
    return {"top": k.sale.top, "coin": k.coin, "tab": k.sale.tab, "lot": k.sale.lot}


@register("maker", "bark")
def _bark_handler(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    b, _ = _bark(inputs, ctx)
    return _bark_out(b)


@register("maker", "auction")
def _auction(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    b, clip = _bark(inputs, ctx)
    dog, ilk, sale = b.dog, b.ilk, b.sale
    feed = _feed(inputs, ctx)
    now = b.sale.tic
    par = _int(inputs, "par", ctx, "inputs", mk.RAY)
    steps = inputs.get("steps", [])
    if not isinstance(steps, list):
        raise ctx.error("inputs.steps: expected a list")
    out_steps: dict[str, Any] = {}
    bought = paid = returned = 0
    for i, s in enumerate(steps, start=1):
        where = f"inputs.steps[{i}]"
        if not isinstance(s, Mapping) or "op" not in s:
            raise ctx.error(f"{where}: expected a mapping with 'op'")
        now += _int(s, "wait", ctx, where, 0)
        op = s["op"]
        if op in ("take", "redo", "status") and sale is None:
            raise mk.NotRunningAuction(f"step {i}")
        if op == "take":
            assert sale is not None
            t = mk.take(clip, sale, _int(s, "amt", ctx, where), _int(s, "max", ctx, where), now, dog, ilk)
            sale, dog, ilk = t.sale, t.dog, t.ilk
            bought, paid, returned = bought + t.slice, paid + t.owe, returned + t.returned
            out = {"price": t.price, "owe": t.owe, "slice": t.slice, "returned": t.returned, "digs": t.digs}
            out.update(_sale_out(sale))
        elif op == "redo":
            assert sale is not None
            r = mk.redo(clip, sale, feed, now)
            sale = r.sale
            out = {"coin": r.coin, **_sale_out(sale)}
        elif op == "status":
            assert sale is not None
            done, price = mk.status(clip, sale, now)
            out = {"needs_redo": done, "price": price}
        elif op == "file":
            clip = replace(clip, **{k: _int(s, k, ctx, where) for k in _CLIP_FIELDS if k in s})
            out = {"chost": clip.chost}
        elif op == "upchost":
            ilk = replace(ilk, dust=_int(s, "dust", ctx, where))
            clip = replace(clip, chost=mk.upchost(ilk.dust, ilk.chop))
            out = {"chost": clip.chost}
        elif op == "poke":
            feed = mk.feed_price(_int(s, "val", ctx, where), par)
            out = {"feed_price": feed}
        else:
            raise ctx.error(f"{where}.op: expected take, redo, status, file, upchost or poke, got {op!r}")
        out_steps[f"step{i}"] = out
    final = {"now": now, "Dirt": dog.Dirt, "dirt": ilk.dirt}
    final.update({"bought": bought, "paid": paid, "returned": returned})
    final.update(_sale_out(sale))
    return {"bark": _bark_out(b), "steps": out_steps, "final": final}


# --- Liquidations 1.2 (Cat.bite) ---------------------------------------------------------------


@register("maker", "cat_bite")
def _cat_bite(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    """``ilk`` (``rate`` default ray, ``spot`` or ``mat`` + ``val``, ``dust`` default 0, ``chop``,
    ``dunk``), ``vault``, ``cat`` (``box``, ``litter`` default 0) -> the bite outcome."""
    i = _map(inputs, "ilk", ctx, "inputs")
    if "spot" in i:
        spot = _int(i, "spot", ctx, "inputs.ilk")
    else:
        spot = mk.spot_price(_int(i, "val", ctx, "inputs.ilk"), _int(i, "mat", ctx, "inputs.ilk"))
    ilk = mk.CatIlk(
        rate=_int(i, "rate", ctx, "inputs.ilk", mk.RAY),
        spot=spot,
        dust=_int(i, "dust", ctx, "inputs.ilk", 0),
        chop=_int(i, "chop", ctx, "inputs.ilk"),
        dunk=_int(i, "dunk", ctx, "inputs.ilk"),
    )
    v = _map(inputs, "vault", ctx, "inputs")
    c = _map(inputs, "cat", ctx, "inputs")
    b = mk.bite(
        ilk,
        mk.Vault(_int(v, "ink", ctx, "inputs.vault"), _int(v, "art", ctx, "inputs.vault")),
        mk.Cat(_int(c, "box", ctx, "inputs.cat"), _int(c, "litter", ctx, "inputs.cat", 0)),
    )
    return {"dart": b.dart, "dink": b.dink, "due": b.due, "tab": b.tab, "litter": b.cat.litter,
            "vault": {"ink": b.vault.ink, "art": b.vault.art}}


# --- Liquidations 1.2 (Flipper auctions) -------------------------------------------------------


def _flipper(inputs: Mapping[str, Any], ctx: VectorContext) -> Any:
    from liqcascade.protocols.maker import flipper as fl

    f = inputs.get("flip", {})
    if not isinstance(f, Mapping):
        raise ctx.error("inputs.flip: expected a mapping of beg, ttl, tau")
    d = fl.Flipper()
    return fl.Flipper(beg=_int(f, "beg", ctx, "inputs.flip", d.beg), ttl=_int(f, "ttl", ctx, "inputs.flip", d.ttl),
                      tau=_int(f, "tau", ctx, "inputs.flip", d.tau))


def _balances(inputs: Mapping[str, Any], what: str, ctx: VectorContext) -> dict[str, int]:
    m = inputs.get(what, {})
    if not isinstance(m, Mapping):
        raise ctx.error(f"inputs.{what}: expected a mapping of address -> integer")
    return {str(k): as_int(v, f"inputs.{what}.{k}", ctx) for k, v in m.items()}


def _flip_step(s: Mapping[str, Any], w: dict[str, Any], ctx: VectorContext, where: str) -> dict[str, Any]:
    """One Flipper (or Cat) call on the world ``w``; returns the step's outputs."""
    from liqcascade.protocols.maker import flipper as fl

    op, flip, bids, now = s["op"], w["flip"], w["bids"], w["now"]
    moves: list[fl.Transfer] = []
    out: dict[str, Any] = {}
    if op == "kick":
        w["kicks"] += 1
        bid, moves = fl.kick(flip, str(s.get("by", "kicker")), str(s.get("usr", "usr")), str(s.get("gal", "gal")),
                             _int(s, "tab", ctx, where), _int(s, "lot", ctx, where), _int(s, "bid", ctx, where, 0), now)
        bids[w["kicks"]] = bid
        out["id"] = w["kicks"]
    elif op == "bite":
        cat = mk.Cat(w["cat"].box, w["litter"])
        b = mk.bite(w["ilk"], w["vault"], cat)
        w["vault"], w["litter"] = b.vault, b.cat.litter
        w["kicks"] += 1
        bids[w["kicks"]], moves = fl.kick(flip, "cat", str(s.get("usr", "usr")), "vow", b.tab, b.dink, 0, now)
        moves = []  # the lot comes out of the vault (grab), not a gem balance
        out.update({"id": w["kicks"], "tab": b.tab, "lot": b.dink, "litter": w["litter"]})
    elif op in ("tend", "dent"):
        i = _int(s, "id", ctx, where)
        fn = fl.tend if op == "tend" else fl.dent
        bids[i], moves = fn(flip, bids.get(i), str(s["who"]), _int(s, "lot", ctx, where), _int(s, "bid", ctx, where), now)
    elif op == "deal":
        i = _int(s, "id", ctx, where)
        w["litter"], moves = fl.deal(bids.get(i), w["litter"], now)
        del bids[i]
    elif op == "tick":
        i = _int(s, "id", ctx, where)
        bids[i] = fl.tick(flip, bids.get(i), now)
    elif op == "yank":
        i = _int(s, "id", ctx, where)
        w["litter"], moves = fl.yank(bids.get(i), w["litter"], str(s.get("by", "kicker")))
        del bids[i]
    else:
        raise ctx.error(f"{where}.op: expected kick, bite, tend, dent, deal, tick, yank or wait, got {op!r}")
    for m in moves:
        book = w[m.what]
        if book.get(m.src, 0) < m.amount and m.src != "flip":
            raise fl.BalanceTooLow(f"{m.what} balance of {m.src} below {m.amount}")
        book[m.src] = book.get(m.src, 0) - m.amount
        book[m.dst] = book.get(m.dst, 0) + m.amount
    return out


@register("maker", "flip")
def _flip(version: str, inputs: Mapping[str, Any], ctx: VectorContext) -> dict[str, Any]:
    """A Flipper session: ``flip`` (``beg``, ``ttl``, ``tau``; flip.sol defaults), ``now``, ``dai``
    and ``gem`` balances (address -> integer), ``litter``; for ``bite`` steps also ``ilk``, ``vault``
    and ``cat`` as ``cat_bite``. ``steps`` run in order, each after ``wait`` seconds: ``kick``
    (``tab``, ``lot``, ``bid``, ``by``, ``usr``, ``gal``), ``bite`` (``usr``), ``tend``/``dent``
    (``id``, ``who``, ``lot``, ``bid``), ``deal``/``tick`` (``id``), ``yank`` (``id``, ``by``).
    With ``try: true`` a revert is recorded as ``ok: false`` (the state unchanged) instead of
    ending the vector, as dss's ``try_*`` helpers do. Outputs: ``steps.step<i>`` (``ok``, the
    auction after it), ``final`` balances and ``litter``."""
    from liqcascade.protocols.maker.flipper import FlipRevert

    w: dict[str, Any] = {
        "flip": _flipper(inputs, ctx), "bids": {}, "kicks": 0, "now": _int(inputs, "now", ctx, "inputs", 0),
        "dai": _balances(inputs, "dai", ctx), "gem": _balances(inputs, "gem", ctx),
        "litter": _int(inputs, "litter", ctx, "inputs", 0),
    }
    if "cat" in inputs:
        i, v, c = (_map(inputs, k, ctx, "inputs") for k in ("ilk", "vault", "cat"))
        w["ilk"] = mk.CatIlk(rate=_int(i, "rate", ctx, "inputs.ilk", mk.RAY), spot=_int(i, "spot", ctx, "inputs.ilk"),
                             dust=_int(i, "dust", ctx, "inputs.ilk", 0), chop=_int(i, "chop", ctx, "inputs.ilk"),
                             dunk=_int(i, "dunk", ctx, "inputs.ilk"))
        w["vault"] = mk.Vault(_int(v, "ink", ctx, "inputs.vault"), _int(v, "art", ctx, "inputs.vault"))
        w["cat"] = mk.Cat(_int(c, "box", ctx, "inputs.cat"), 0)
    steps = inputs.get("steps", [])
    if not isinstance(steps, list):
        raise ctx.error("inputs.steps: expected a list")
    out_steps: dict[str, Any] = {}
    for n, s in enumerate(steps, start=1):
        where = f"inputs.steps[{n}]"
        if not isinstance(s, Mapping) or "op" not in s:
            raise ctx.error(f"{where}: expected a mapping with 'op'")
        w["now"] += _int(s, "wait", ctx, where, 0)
        if s["op"] == "wait":
            out_steps[f"step{n}"] = {"now": w["now"]}
            continue
        saved = {k: (dict(v) if isinstance(v, dict) else v) for k, v in w.items()}
        try:
            out = {"ok": True, **_flip_step(s, w, ctx, where)}
        except FlipRevert as exc:
            if not s.get("try", False):
                raise
            w.update(saved)
            out = {"ok": False, "revert": type(exc).__name__}
        i = out.get("id", s.get("id"))
        b = w["bids"].get(as_int(i, f"{where}.id", ctx)) if i is not None else None
        if b is not None:
            out.update({"bid": b.bid, "lot": b.lot, "guy": b.guy, "tic": b.tic, "end": b.end})
        out_steps[f"step{n}"] = out
    final = {"now": w["now"], "litter": w["litter"], "dai": w["dai"], "gem": w["gem"]}
    if "vault" in w:
        final["vault"] = {"ink": w["vault"].ink, "art": w["vault"].art}
    return {"steps": out_steps, "final": final}
