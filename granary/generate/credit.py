"""Credit lines (授信): one behind each loan on the books, and the pre-approved lines that the
credit-village programme (整村授信) gives surveyed farmer households in rated villages.

A loan's line is at least its contract amount and runs at least three years from shortly
before the loan started; what is used is the loan's balance. A pre-approved line runs three
years from the later of the survey and the village's rating and is then renewed.
"""

from __future__ import annotations

import numpy as np

from granary.generate.bank import Bank, money, yyyymmdd
from granary.generate.customers import FARMER
from granary.generate.grid import Grid
from granary.generate.loans import AGRI, BIZ, MAX_LOANS, LoanBook, Loans

LINE_DAYS = 3 * 365
PRE_APPROVED = np.asarray([50_000.0, 200_000.0, 300_000.0, 30_000.0])  # by household type


def credit_line_rows(bank: Bank, loans: Loans, book: LoanBook, grid: Grid, day: int) -> dict[str, np.ndarray]:
    s = bank.stream
    b = book.borrower
    cust = loans.idx[b]
    loan_key = cust * MAX_LOANS + book.k
    amount = np.ceil(book.amount * (1 + 0.6 * s.uniform("line_headroom", loan_key)) / 10_000) * 10_000
    start = book.start - (s.uniform("line_lead", loan_key) * 30).astype(np.int64)
    end = np.maximum(book.start + book.term, start + LINE_DAYS)
    in_village = np.zeros(len(b), dtype=bool)
    household = np.searchsorted(grid.key, cust)
    found = (household < len(grid.key)) & (grid.key[np.minimum(household, len(grid.key) - 1)] == cust)
    village_ok = grid.credit_village(day) & (grid.survey_day <= day)
    in_village[found] = village_ok[household[found]]
    farmer = loans.ctype[b] == FARMER
    line_type = np.where(
        farmer & in_village & (book.product == AGRI),
        "1",
        np.where((book.product == BIZ) & (s.uniform("line_revolving", loan_key) < 0.5), "3", "2"),
    )
    loan_lines = {
        "line_id": np.asarray(
            [f"X{c + 1:010d}L{k:02d}" for c, k in zip(cust.tolist(), book.k.tolist(), strict=True)]
        ),
        "customer_id": loans.customer_id[b],
        "branch_id": loans.branch_id[b],
        "line_type": line_type,
        "line_amount": money(amount),
        "used_amount": money(book.balance),
        "start_date": np.asarray(yyyymmdd(start)),
        "end_date": np.asarray(yyyymmdd(end)),
        "status": np.where(book.overdue > 90, "2", "1"),
    }

    # Pre-approved lines: surveyed households of rated villages that have no loan today.
    h = grid.key
    first = np.maximum(grid.survey_day, grid.v_rating_day[grid.village])
    takes = s.uniform("line_pre_approved", h) < 0.75
    pre = np.flatnonzero(takes & (first <= day) & ~np.isin(h, cust))
    cycle = (day - first[pre]) // LINE_DAYS
    p_start = first[pre] + cycle * LINE_DAYS
    p_amount = PRE_APPROVED[grid.htype[pre]] * (0.5 + np.floor(s.uniform("line_pre_amount", h[pre]) * 4) / 4)
    pre_lines = {
        "line_id": np.asarray(
            [f"X{c + 1:010d}V{k:02d}" for c, k in zip(h[pre].tolist(), cycle.tolist(), strict=True)]
        ),
        "customer_id": grid.head_customer_id[pre],
        "branch_id": grid.branch_id[pre],
        "line_type": np.full(len(pre), "1"),
        "line_amount": money(p_amount),
        "used_amount": money(np.zeros(len(pre))),
        "start_date": np.asarray(yyyymmdd(p_start)),
        "end_date": np.asarray(yyyymmdd(p_start + LINE_DAYS)),
        "status": np.full(len(pre), "1"),
    }
    return {name: np.concatenate([loan_lines[name], pre_lines[name]]) for name in loan_lines}
