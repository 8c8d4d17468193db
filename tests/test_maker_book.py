"""ETH-B vault book rebuilt from the Flipside event files (liqcascade.io.maker_book)."""

from __future__ import annotations

import csv
import math
import shutil

import numpy as np
import pytest

from liqcascade.errors import DataError
from liqcascade.io.maker_book import (
    SECONDS_PER_YEAR,
    default_dir,
    ethb_parameters_at,
    load_ethb_events,
    rate_from_schedule,
    vault_book_at,
)

BLOCK = 11_700_000


@pytest.fixture(scope="module")
def ev():
    return load_ethb_events()


def _raw_sum(name: str, col: str, vault: int, block: int) -> float:
    with open(default_dir() / f"maker_ethb_{name}.csv", newline="") as fh:
        return sum(float(r[col]) for r in csv.DictReader(fh)
                   if int(r["VAULT_NUMBER"]) == vault and int(r["BLOCK_NUMBER"]) <= block)


@pytest.mark.parametrize("vault", [17524, 18132])
def test_hand_checked_vault_without_repayment_or_liquidation(ev, vault):
    ink = _raw_sum("vault_deposits", "DEPOSIT_AMOUNT_ADJ", vault, BLOCK) + _raw_sum(
        "vault_withdrawals", "WITHDRAWN_AMOUNT_ADJ", vault, BLOCK)
    minted = _raw_sum("dai_borrows", "DAI_MINTED", vault, BLOCK)
    assert _raw_sum("dai_repayments", "DAI_REPAYED", vault, BLOCK) == 0
    book = vault_book_at(BLOCK, ev).set_index("vault")
    assert book.loc[vault, "ink"] == pytest.approx(ink, rel=1e-12)
    # debt = nominal DAI minted plus the fee accrued since: above the minted sum, and by less
    # than the whole-period accrual (rate(BLOCK) / 1, rate started at 1 on 2020-10-19)
    debt = book.loc[vault, "debt_dai"]
    assert minted < debt < minted * book.loc[vault, "rate"]


def test_liquidated_vault_nets_recorded_bites(ev):
    # vault 18424: two bites on 2021-01-11 of 79 ETH (whole-ETH rounded) in total
    vault, block, first_bite = 18424, 11_632_394, 11_632_391
    ink_gross = _raw_sum("vault_deposits", "DEPOSIT_AMOUNT_ADJ", vault, block) + _raw_sum(
        "vault_withdrawals", "WITHDRAWN_AMOUNT_ADJ", vault, block)
    assert ink_gross == _raw_sum("vault_deposits", "DEPOSIT_AMOUNT_ADJ", vault, first_bite - 1) + _raw_sum(
        "vault_withdrawals", "WITHDRAWN_AMOUNT_ADJ", vault, first_bite - 1)
    liq = _raw_sum("vault_liquidations", "COLLATERAL_LIQUIDATED_AMOUNT", vault, block)
    before = vault_book_at(first_bite - 1, ev).set_index("vault").loc[vault]
    after = vault_book_at(block, ev).set_index("vault").loc[vault]
    assert before["ink"] == pytest.approx(ink_gross, abs=1e-9)
    assert after["ink"] == pytest.approx(max(ink_gross - liq, 0.0), abs=2 * 0.5)  # rounding per row
    assert after["art"] < before["art"]


def test_no_negative_positions_anywhere(ev):
    for block in (11_200_000, BLOCK, 11_912_700, 12_327_800, 12_448_607):
        b = vault_book_at(block, ev)
        assert (b["ink"] >= 0).all() and (b["art"] >= 0).all()
        assert b["vault"].is_unique


def test_quirks_counted(ev):
    vault_book_at(BLOCK, ev)
    q = ev.quirks
    assert q["liquidation_rows"] == 437 and q["liquidated_vaults"] == 26
    # the Cat formula reproduces the whole-ETH-rounded collateral except where the dusty rule fires
    assert q["liq_collateral_off_by_more_than_rounding"] <= q["liq_dusty_remainder_taken"]
    assert q["borrows_after_liquidation"] > 0


def test_book_statistics_at_11_7m(ev):
    b = vault_book_at(BLOCK, ev)
    with_debt = b[b["debt_dai"] > 0]
    assert len(with_debt) == 197
    assert b["ink"].sum() == pytest.approx(82_960.4, abs=0.5)
    assert b["debt_dai"].sum() == pytest.approx(48.84e6, rel=1e-3)
    assert b["debt_dai"].sum() <= 50e6  # under the ETH-B line then in force


def test_rate_closed_form_constant_duty():
    duty = (1.06) ** (1 / SECONDS_PER_YEAR)
    starts, duties = np.array([1000.0]), np.array([duty])
    t = 1000.0 + 86_400 * 30
    # per-second duty: float log of a number 2e-9 above 1 costs ~1e-9 relative
    assert rate_from_schedule(starts, duties, t) == pytest.approx(duty ** (86_400 * 30), rel=1e-8)
    a = np.array([0.06])
    assert rate_from_schedule(starts, None, t, annual=a) == pytest.approx(1.06 ** (30 / 365), rel=1e-13)
    assert rate_from_schedule(starts, None, 1000.0 + SECONDS_PER_YEAR, annual=a) == pytest.approx(1.06, rel=1e-13)
    assert rate_from_schedule(starts, duties, 10.0) == 1.0  # before onboarding


def test_rate_on_data_matches_closed_form_between_duty_changes(ev):
    # 6 % from onboarding (block 11086830) to the 4 % spell (block 11243176)
    t0, t1 = ev.block_time(11_086_830), ev.block_time(11_243_176)
    assert ev.rate_at(11_243_176) == pytest.approx(1.06 ** ((t1 - t0) / SECONDS_PER_YEAR), rel=1e-12)
    assert ev.rate_at(11_000_000) == 1.0


def test_parameters_at():
    p = ethb_parameters_at(BLOCK)
    assert p["mat"] == 1.3 and p["dust"] == 500 and p["chop"] == pytest.approx(1.13)
    assert p["duty_annual"] == 0.065 and p["liquidation_module"] == "cat" and p["hole"] is None
    assert p["tau"] == 21600  # chained within the onboarding spell: 0 -> 172800 -> 21600
    late = ethb_parameters_at(12_400_000)
    assert late["liquidation_module"] == "dog" and late["hole"] == 8e6 and late["buf"] == 1.3
    assert late["dust"] == 15000 and late["duty_annual"] == 0.1


def test_corrupted_copy_names_file_and_row(tmp_path):
    for f in default_dir().glob("maker_ethb_*.csv"):
        shutil.copy(f, tmp_path / f.name)
    p = tmp_path / "maker_ethb_dai_borrows.csv"
    lines = p.read_text().splitlines()
    cells = lines[5].split(",")
    cells[3] = "lots"
    lines[5] = ",".join(cells)
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as ei:
        load_ethb_events(tmp_path)
    assert ei.value.row == 5 and ei.value.file.endswith("maker_ethb_dai_borrows.csv")
    assert "DAI_MINTED" in str(ei.value)


def test_missing_column_is_a_file_level_error(tmp_path):
    for f in default_dir().glob("maker_ethb_*.csv"):
        shutil.copy(f, tmp_path / f.name)
    p = tmp_path / "maker_ethb_vault_deposits.csv"
    p.write_text(p.read_text().replace("DEPOSIT_AMOUNT_ADJ", "AMOUNT", 1))
    with pytest.raises(DataError) as ei:
        load_ethb_events(tmp_path)
    assert ei.value.row is None and "DEPOSIT_AMOUNT_ADJ" in str(ei.value)


def test_events_sorted_by_block(ev):
    assert ev.flows["block"].is_monotonic_increasing
    assert ev.parameters["BLOCK"].is_monotonic_increasing
    assert not math.isnan(ev.flows["eth"].sum())
