"""Repayments: each loan's latest monthly installment due on or before the day, and what was paid.

Installments fall due monthly on the loan's start day-of-month (the 28th at the latest). The
principal follows the loan's own amortisation (agricultural loans repay most at maturity);
interest is a month's on the balance before the installment. An installment is unpaid when
the loan stopped paying on or before its due date — the same delinquency the loan shows.
"""

from __future__ import annotations

import numpy as np

from granary.generate.bank import money, yyyymmdd
from granary.generate.loans import MAX_LOANS, REPAID_BEFORE_MATURITY, LoanBook, Loans


def repayment_rows(loans: Loans, book: LoanBook, day: int) -> dict[str, np.ndarray]:
    s = loans.bank.stream
    start = book.start.astype("datetime64[D]")
    start_month = start.astype("datetime64[M]")
    dom = np.minimum((start - start_month.astype("datetime64[D]")).astype(np.int64) + 1, 28)
    today = np.datetime64(day, "D")
    this_month = today.astype("datetime64[M]")
    today_dom = int((today - this_month.astype("datetime64[D]")).astype(np.int64)) + 1
    months = (this_month - start_month).astype(np.int64)
    terms = book.term * 12 // 365
    n = np.minimum(months - (today_dom < dom), terms)
    keep = np.flatnonzero(n >= 1)
    n, terms, dom = n[keep], terms[keep], dom[keep]
    due = (start_month[keep] + n).astype("datetime64[D]").astype(np.int64) + dom - 1
    amount, rate = book.amount[keep], book.rate[keep]
    share = REPAID_BEFORE_MATURITY[book.product[keep]]
    principal = amount * share / terms + np.where(n == terms, amount * (1 - share), 0.0)
    interest = amount * (1 - share * (n - 1) / terms) * rate / 12
    principal, interest = np.round(principal, 2), np.round(interest, 2)

    unpaid = (book.overdue[keep] > 0) & (book.stopped_on[keep] <= due)
    loan_key = loans.idx[book.borrower[keep]] * MAX_LOANS + book.k[keep]
    # Most pay by automatic debit on the due date; some come in a few days early.
    early = np.where(
        s.uniform("repay_early", loan_key * 512 + n) < 0.7, 0, s.integers("repay_days", loan_key, 1, 6)
    )
    paid_on = np.asarray(yyyymmdd(due - early))
    return {
        "loan_id": loans.loan_ids(book)[keep],
        "term_no": n.astype(str),
        "customer_id": loans.customer_id[book.borrower[keep]],
        "due_date": np.asarray(yyyymmdd(due)),
        "scheduled_principal": money(principal),
        "scheduled_interest": money(interest),
        "paid_date": np.where(unpaid, "", paid_on),
        "paid_principal": money(np.where(unpaid, 0.0, principal)),
        "paid_interest": money(np.where(unpaid, 0.0, interest)),
        "overdue_flag": np.where(unpaid, "Y", "N"),
    }
