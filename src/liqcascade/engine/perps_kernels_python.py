"""The perp margin check in plain Python (compiled by numba in ``engine/perps_kernels.py``)."""

from __future__ import annotations


def account_slack(accounts, offsets, market, size, entry, funding_index, collateral, mark, funding,
                  maint_rate, out_equity, out_maint, out_exposure):
    """For each account in ``accounts``: its equity, maintenance requirement and exposure
    ``Σ |size|·mark·(2 + maint_rate)`` at ``mark`` and cumulative ``funding`` (per market).

    Equity is collateral + Σ size·(mark − entry) − Σ size·(funding − funding_index); the
    maintenance requirement Σ |size|·mark·maint_rate (the rate per market). An account is
    liquidatable iff its maintenance is > 0 and its slack < 0 (an account without
    maintenance gets exposure 0). A price move of at most a fraction ``x`` of ``mark`` in every
    market (and funding moves of at most ``x·mark``) changes the slack by at most
    ``x·exposure``: the screen in ``engine/perps_screen.py`` relies on this bound.
    Results are written to ``out_equity[i]``, ``out_maint[i]``, ``out_exposure[i]`` for
    ``accounts[i]``; the slack is ``equity − maintenance``.
    """
    for i in range(accounts.shape[0]):
        a = accounts[i]
        eq = collateral[a]
        mm = 0.0
        expo = 0.0
        for j in range(offsets[a], offsets[a + 1]):
            s = size[j]
            k = market[j]
            m = mark[k]
            eq += s * (m - entry[j]) - s * (funding[k] - funding_index[j])
            n = abs(s) * m
            mm += n * maint_rate[k]
            expo += n * (1.0 + maint_rate[k]) + abs(s) * m
        out_equity[i] = eq
        out_maint[i] = mm
        # a maintenance of zero can never be breached: infinite room
        out_exposure[i] = expo if mm > 0.0 else 0.0
    return 0


FUNCTIONS = {"account_slack": account_slack}
