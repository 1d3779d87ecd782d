"""Branches (营业部, 支行, 分理处) and staff (customer managers, branch heads) of one bank.

Fixed for the bank: every branch opened and every manager was hired before the generator's
history starts, so the snapshot is the same every day.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from granary.generate.bank import Bank, day_number, short_name, yyyymmdd
from granary.generate.customers import given_names, mobile_numbers, surnames

_FIRST_BRANCH = day_number(date(1952, 1, 1))
_LAST_BRANCH = day_number(date(2012, 1, 1))
_FIRST_HIRE = day_number(date(1992, 7, 1))
_LAST_HIRE = day_number(date(2025, 7, 1))


def branch_rows(bank: Bank) -> dict[str, np.ndarray]:
    """Branch i sits in township i; branch 0 is the head office in the county seat."""
    t, s = bank.tenant, bank.stream
    n = len(bank.branch_ids)
    idx = np.arange(n)
    towns = [bank.townships[i] for i in range(n)]
    level = np.asarray(["1"] + ["2" if tw.code.startswith("1") else "3" for tw in towns[1:]])
    short = short_name(t)
    names = [f"{short}营业部"] + [
        f"{short}{tw.name.removesuffix('镇').removesuffix('乡')}{'支行' if lv == '2' else '分理处'}"
        for tw, lv in zip(towns[1:], level[1:].tolist(), strict=True)
    ]
    # The head office is the oldest; the others opened over the following decades.
    opened = _FIRST_BRANCH + (np.sqrt(s.uniform("branch_open", idx)) * (_LAST_BRANCH - _FIRST_BRANCH)).astype(
        np.int64
    )
    opened[0] = _FIRST_BRANCH
    return {
        "branch_id": np.asarray(bank.branch_ids),
        "branch_name": np.asarray(names),
        "level": level,
        "township_code": np.asarray([f"{t.county_code}{tw.code}" for tw in towns]),
        "township_name": np.asarray([tw.name for tw in towns]),
        "open_date": np.asarray(yyyymmdd(opened)),
    }


def staff_rows(bank: Bank) -> dict[str, np.ndarray]:
    """Managers M<county>0001.. as customers and loans carry them, then one head per branch."""
    s, t = bank.stream, bank.tenant
    n_branches = len(bank.branch_ids)
    number = np.arange(bank.managers + n_branches)
    is_head = number >= bank.managers
    branch = np.where(is_head, number - bank.managers, number % n_branches)
    male = s.uniform("staff_gender", number) < np.where(is_head, 0.7, 0.55)
    hired = _FIRST_HIRE + (s.uniform("staff_hired", number) * (_LAST_HIRE - _FIRST_HIRE)).astype(np.int64)
    return {
        "staff_id": np.asarray([f"M{t.county_code}{m + 1:04d}" for m in number.tolist()]),
        "branch_id": np.asarray(bank.branch_ids)[branch],
        "staff_name": np.char.add(
            surnames(s, number, "staff_surname"), given_names(s, number, male, "staff_")
        ),
        "phone": mobile_numbers(s, number, "staff_"),
        "gender": np.where(male, "1", "2"),
        "role": np.where(is_head, "02", "01"),
        "hire_date": np.asarray(yyyymmdd(hired)),
    }
