"""The fee history as an accumulator: against dss's ``rpow`` in ray arithmetic."""

from decimal import Decimal, getcontext

import numpy as np
import pytest

from liqcascade.io.owner_events import SECONDS_PER_YEAR, read_accrual

RAY = 10**27


def rpow(x: int, n: int, base: int = RAY) -> int:
    """dss ``jug.rpow``: x ** n in fixed point ``base``, each product rounded half up."""
    z = base if n % 2 == 0 else x
    half = base // 2
    n //= 2
    while n:
        x = (x * x + half) // base
        if n % 2:
            z = (z * x + half) // base
        n //= 2
    return z


def duty_ray(annual: str) -> int:
    """The per-second ``duty`` of an annual fee, as governance sets it: (1 + fee) ** (1 / year) in ray."""
    getcontext().prec = 60
    return int((Decimal(1) + Decimal(annual)) ** (Decimal(1) / Decimal(SECONDS_PER_YEAR)) * RAY)


def test_duty_compounds_to_the_annual_fee_over_a_year():
    assert abs(rpow(duty_ray("0.05"), SECONDS_PER_YEAR) - 105 * 10**25) < 10**10  # 1.05 to 1e-17


@pytest.mark.parametrize("seconds", [1, 600, 86_400, 31_536_000])
def test_rate_after_t_seconds_is_duty_to_the_t(tmp_path, seconds):
    f = tmp_path / "fees.csv"
    f.write_text("time,annual_fee\n0,0.05\n")
    times = np.array([0, seconds])
    acc = read_accrual(f, "DAI", ("WETH", "DAI"), times, "<test>")
    assert acc.rate[0] == 1.0
    assert acc.rate[1] == pytest.approx(rpow(duty_ray("0.05"), seconds) / RAY, rel=1e-14)


def test_fee_changes_compound_piecewise(tmp_path):
    # 4 % for the first day, 8 % after: rate = duty4 ** 86400 * duty8 ** 3600 one hour later
    f = tmp_path / "fees.csv"
    f.write_text("time,annual_fee\n0,0.04\n86400,0.08\n")
    acc = read_accrual(f, "DAI", ("WETH", "DAI"), np.array([0, 86_400 + 3_600]), "<test>")
    want = rpow(duty_ray("0.04"), 86_400) * rpow(duty_ray("0.08"), 3_600) // RAY
    assert acc.rate[1] == pytest.approx(want / RAY, rel=1e-14)
