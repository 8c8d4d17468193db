"""Impossible ledgers: vaults whose recorded actions reach a state the protocol refuses at any price.

A Maker vault's owner changes its collateral (``ink``) and normalised debt (``art``) through the
Vat's ``frob``, which refuses a change that leaves the vault unsafe unless it makes the vault
safer: withdrawing the last collateral while debt remains is refused whatever the price, and
neither ``ink`` nor ``art`` can go below zero. So when an owner's recorded actions, summed,
reach such a state, the record is wrong (a repayment or deposit is missing from the files, as
for vault 28283 in June 2022: all its collateral withdrawn with 200,424 DAI still owed), and
nothing in the files says when the missing action happened.

The policy (docs/backtests.md, "Impossible ledgers"): such a vault is **left out** of the
replay's book and its actions, and of the scoring (its recorded liquidations are not counted
on either side), and listed in a ``ledger_errors`` table with the first refused state: placing
the missing action would be a guess, scoring a vault whose debt is wrong would be noise.

A state is read at the end of each block (within a block the Vat sees the actions in order, and
the files do not always keep it: a deposit and a withdrawal of one block may come in either
order). Debt left below the protocol's least debt (``dust``) after the last collateral goes is
the fee accumulator's rounding in the files (a full repayment that leaves a few hundred DAI), not
a refused state: the replay's dust rule on repayments already clears it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from liqcascade.errors import ConfigError

LEDGER_COLUMNS = ("account", "block", "time", "collateral_change", "debt_change")
"""One row per recorded action: ``collateral_change`` in tokens, ``debt_change`` in debt tokens
(at the action's rate), both signed (a withdrawal or a repayment is negative); ``time`` Unix s.
An optional ``rate`` column makes ``debt_change`` normalised debt (Maker's ``art``): the debt
after an action is the running sum times the rate then (the fee accumulator)."""
ERROR_COLUMNS = ("account", "time", "collateral", "debt", "reason")
NEGATIVE_TOLERANCE = 1e-6
"""Collateral or debt below minus this (tokens) is negative; above it, rounding in the files."""


def ledger_errors(ledger: pd.DataFrame, dust: float, start: pd.DataFrame | None = None) -> pd.DataFrame:
    """The accounts of ``ledger`` (:data:`LEDGER_COLUMNS`, in time order) whose running totals
    reach, at the end of some block, a state the protocol refuses at any price: collateral or
    debt below zero, or debt above ``dust`` with no collateral (module docstring). ``start``
    (account, collateral, debt): the totals before the ledger's first row (default 0). One
    row per such account (:data:`ERROR_COLUMNS`): its first refused state."""
    missing = [c for c in LEDGER_COLUMNS if c not in ledger.columns]
    if missing:
        raise ConfigError("<python>", "ledger", f"columns {list(LEDGER_COLUMNS)}", missing)
    if not (dust >= 0 and np.isfinite(dust)):
        raise ConfigError("<python>", "dust", "the least debt, a number >= 0", dust)
    if ledger.empty:
        return pd.DataFrame({c: [] for c in ERROR_COLUMNS})
    led = ledger.reset_index(drop=True).assign(account=lambda d: d["account"].astype(str))
    base = {"collateral": {}, "debt": {}} if start is None else \
        start.assign(account=start["account"].astype(str)).set_index("account")[["collateral", "debt"]].to_dict()
    c0 = led["account"].map(base["collateral"]).fillna(0.0).to_numpy(float)
    d0 = led["account"].map(base["debt"]).fillna(0.0).to_numpy(float)
    g = led.groupby("account", sort=False)
    rate = led["rate"].to_numpy(float) if "rate" in led.columns else np.ones(len(led))
    led = led.assign(collateral=c0 + g["collateral_change"].cumsum().to_numpy(float),
                     debt=(d0 + g["debt_change"].cumsum().to_numpy(float)) * rate)
    # the state after each block's last action of an account
    end = led.groupby(["account", "block"], sort=False).tail(1)
    reason = np.select(
        [end["collateral"] < -NEGATIVE_TOLERANCE, end["debt"] < -NEGATIVE_TOLERANCE,
         (end["collateral"] <= NEGATIVE_TOLERANCE) & (end["debt"] > dust)],
        ["collateral below zero", "debt below zero", "debt above dust with no collateral"], "")
    bad = end.assign(reason=reason)
    bad = bad[bad["reason"] != ""].groupby("account", sort=True).head(1)
    return bad[list(ERROR_COLUMNS)].sort_values(["time", "account"], kind="stable").reset_index(drop=True)


__all__ = ["ERROR_COLUMNS", "LEDGER_COLUMNS", "ledger_errors"]
