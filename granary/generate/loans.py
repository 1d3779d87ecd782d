"""Loans (借据): each borrower takes loan after loan on a fixed cycle; some go overdue.

Everything about a day is computed in closed form from the day number, so a snapshot never
depends on which other days were generated:

* A borrower's loan k starts on first_start + k * cycle and runs `term` days; agricultural
  borrowers start in spring (Mar-May) and renew each year or skip a year.
* Principal amortises daily (agricultural loans mostly at maturity). A short delinquency
  (1-90 days, then cured) stops repayment while it lasts.
* Defaults: time is cut into 20-year windows (offset per borrower). In each window a borrower
  may default once, on day tau; if a loan is live then, it stops paying, its overdue days grow
  by one a day (special mention -> substandard -> doubtful -> loss) until it is written off,
  and the bank lends the borrower nothing for three more years. Windows are laid out so one
  window's default never reaches into the next, which keeps each day closed-form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from granary.generate.bank import Bank, yyyymmdd
from granary.generate.customers import BUSINESS, ENTERPRISE, FARMER, INDIVIDUAL, Customers

PRODUCTS = ("AGRI", "BIZ", "CONS", "MORT")
AGRI, BIZ, CONS, MORT = range(4)
GUARANTEES = ("A", "B", "C", "D")  # credit, guaranteed, mortgage, pledge

BORROWER_SHARE = {INDIVIDUAL: 0.26, FARMER: 0.52, BUSINESS: 0.62, ENTERPRISE: 0.68}
PRODUCT_BY_TYPE = np.asarray(
    [[0.05, 0.05, 0.60, 0.30], [0.75, 0.10, 0.10, 0.05], [0.15, 0.75, 0.05, 0.05], [0.25, 0.75, 0.0, 0.0]]
)
TERM_YEARS = np.asarray([1, 2, 3, 5])
TERM_BY_PRODUCT = np.asarray(
    [[0.75, 0.20, 0.05, 0.0], [0.40, 0.30, 0.20, 0.10], [0.30, 0.30, 0.30, 0.10], [0.0, 0.0, 0.2, 0.8]]
)
GUARANTEE_BY_PRODUCT = np.asarray(
    [[0.55, 0.35, 0.07, 0.03], [0.20, 0.35, 0.35, 0.10], [0.60, 0.30, 0.05, 0.05], [0.0, 0.05, 0.95, 0.0]]
)
AMOUNT_MEDIAN = np.asarray([60_000.0, 250_000.0, 40_000.0, 400_000.0])
RATE_BY_GUARANTEE = np.asarray([0.065, 0.060, 0.050, 0.048])
RATE_BY_PRODUCT = np.asarray([-0.005, 0.0, 0.015, -0.010])
REPAID_BEFORE_MATURITY = np.asarray([0.3, 1.0, 1.0, 1.0])  # share of principal amortised daily

WINDOW = 7305  # 20 years
DEFAULT_PER_WINDOW = 0.32  # ~1.6% of borrowers default a year
WRITE_OFF_MIN, WRITE_OFF_SPREAD = 540, 360  # days overdue before a bad loan leaves the book
BLACKLIST = 1095
DEFAULT_SPAN = WINDOW - (WRITE_OFF_MIN + WRITE_OFF_SPREAD) - BLACKLIST - 5 * 365 - 2 * 365
MAX_LOANS = 128  # loan k of customer i has id L{i+1:010d}{k:02d}; keys are i * MAX_LOANS + k


@dataclass(frozen=True)
class LoanBook:
    """One day's loans; `borrower` indexes Loans' per-borrower arrays."""

    borrower: np.ndarray
    k: np.ndarray
    start: np.ndarray
    term: np.ndarray
    product: np.ndarray
    guarantee: np.ndarray
    amount: np.ndarray
    rate: np.ndarray
    balance: np.ndarray
    overdue: np.ndarray
    stopped_on: np.ndarray  # the last day repaid (the day itself when current)
    five_class: np.ndarray


class Loans:
    def __init__(self, bank: Bank, customers: Customers) -> None:
        s = bank.stream
        all_idx = customers.index
        share = np.asarray([BORROWER_SHARE[t] for t in range(4)])[customers.ctype]
        pos = np.flatnonzero(s.uniform("borrower", all_idx) < share)
        idx = all_idx[pos]
        ctype = customers.ctype[pos]
        self.bank = bank
        self.pos = pos
        self.idx = idx
        self.ctype = ctype
        self.product = s.choice_rows("loan_product", idx, PRODUCT_BY_TYPE[ctype])
        years = TERM_YEARS[s.choice_rows("loan_term", idx, TERM_BY_PRODUCT[self.product])]
        self.term = years * 365
        agri = self.product == AGRI
        gap = np.where(
            agri,
            np.where(s.uniform("loan_skip_year", idx) < 0.3, 365, 0),
            (s.uniform("loan_gap", idx) * 365).astype(np.int64),
        )
        self.cycle = self.term + gap
        opened = customers.open_day[pos]
        first = opened + (s.uniform("loan_first", idx) * self.cycle).astype(np.int64)
        # Agricultural loans start in spring (Mar-May) three times in five, else any time of year.
        jan1 = first.astype("datetime64[D]").astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
        spring = 59 + (s.uniform("loan_spring", idx) * 92).astype(np.int64)
        any_day = (s.uniform("loan_doy", idx) * 365).astype(np.int64)
        doy = np.where(s.uniform("loan_in_spring", idx) < 0.6, spring, any_day)
        snapped = jan1 + doy
        snapped = np.where(snapped < opened, snapped + 365, snapped)
        self.first_start = np.where(agri, snapped, first)
        self.window_offset = (s.uniform("loan_window", idx) * WINDOW).astype(np.int64)

        cols = customers.columns
        self.customer_id = cols["customer_id"][pos]
        self.branch_id = cols["branch_id"][pos]
        self.manager_id = cols["manager_id"][pos]

    def _loan_at(self, day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(k, start, live) of the loan each borrower has on `day` by the schedule."""
        k = np.floor_divide(day - self.first_start, self.cycle)
        start = self.first_start + k * self.cycle
        return k, start, (k >= 0) & (day - start < self.term)

    def book(self, day: int) -> LoanBook:
        """The loans on the books at the end of `day`, as numbers (rows() formats them)."""
        s = self.bank.stream
        k, start, live = self._loan_at(np.full(len(self.idx), day))

        # This window's default, if any, and whether a loan was live to default.
        window = np.floor_divide(day - self.window_offset, WINDOW)
        wkey = self.idx * 4096 + window
        tau = (
            self.window_offset
            + window * WINDOW
            + (s.uniform("default_day", wkey) * DEFAULT_SPAN).astype(np.int64)
        )
        k_tau, start_tau, live_tau = self._loan_at(tau)
        defaults = (s.uniform("default", wkey) < DEFAULT_PER_WINDOW) & live_tau & (tau <= day)
        write_off = tau + WRITE_OFF_MIN + (s.uniform("write_off", wkey) * WRITE_OFF_SPREAD).astype(np.int64)
        in_default = defaults & (day < write_off)
        barred = defaults & ((k == k_tau) | ((start >= tau) & (start < write_off + BLACKLIST)))
        normal = live & ~barred

        keep = normal | in_default
        b = np.flatnonzero(keep)
        dflt = in_default[b]
        k_b = np.where(dflt, k_tau[b], k[b])
        start_b = np.where(dflt, start_tau[b], start[b])
        product = self.product[b]
        term = self.term[b]
        loan_key = self.idx[b] * MAX_LOANS + k_b

        amount = s.lognormal("loan_amount", loan_key, AMOUNT_MEDIAN[product], 0.8)
        amount = amount * np.where(self.ctype[b] == ENTERPRISE, 4.0, 1.0)
        amount = np.clip(np.round(amount, -3), 10_000, 3_000_000)
        guarantee = s.choice_rows("loan_guarantee", loan_key, GUARANTEE_BY_PRODUCT[product])
        rate = (
            RATE_BY_GUARANTEE[guarantee] + RATE_BY_PRODUCT[product] + 0.008 * s.normal("loan_rate", loan_key)
        )
        rate = np.clip(np.round(rate, 4), 0.035, 0.12)

        # A short, cured delinquency: repayment pauses from day `late_from` for `late_days`.
        late = s.uniform("late", loan_key) < 0.08
        late_days = 1 + (90 * s.uniform("late_days", loan_key) ** 2).astype(np.int64)
        late_from = start_b + 1 + (s.uniform("late_from", loan_key) * (term - late_days - 2)).astype(np.int64)
        in_late = late & ~dflt & (late_from <= day) & (day < late_from + late_days)

        stopped_on = np.where(dflt, tau[b], np.where(in_late, late_from, day))
        repaid = REPAID_BEFORE_MATURITY[product] * (stopped_on - start_b) / term
        balance = np.round(amount * (1 - repaid), 2)
        overdue = np.where(dflt | in_late, day - stopped_on + 1, 0)

        five_class = np.select(
            [overdue > 360, overdue > 180, overdue > 90, overdue > 0],
            ["5", "4", "3", "2"],
            np.where(s.uniform("loan_concern", loan_key) < 0.012, "2", "1"),
        )
        return LoanBook(
            borrower=b,
            k=k_b,
            start=start_b,
            term=term,
            product=product,
            guarantee=guarantee,
            amount=amount,
            rate=rate,
            balance=balance,
            overdue=overdue,
            stopped_on=stopped_on,
            five_class=five_class,
        )

    def loan_ids(self, book: LoanBook) -> np.ndarray:
        return np.asarray(
            [
                f"L{i + 1:010d}{j:02d}"
                for i, j in zip(self.idx[book.borrower].tolist(), book.k.tolist(), strict=True)
            ]
        )

    def rows(self, day: int) -> dict[str, np.ndarray]:
        book = self.book(day)
        b, product = book.borrower, book.product
        agricultural = (product == AGRI) | ((self.ctype[b] == FARMER) & (product == BIZ))
        return {
            "loan_id": self.loan_ids(book),
            "customer_id": self.customer_id[b],
            "branch_id": self.branch_id[b],
            "manager_id": self.manager_id[b],
            "product_code": np.asarray(PRODUCTS)[product],
            "guarantee_type": np.asarray(GUARANTEES)[book.guarantee],
            "is_agricultural": np.where(agricultural, "Y", "N"),
            "contract_amount": np.asarray([f"{a:.2f}" for a in book.amount.tolist()]),
            "balance": np.asarray([f"{x:.2f}" for x in book.balance.tolist()]),
            "interest_rate": np.asarray([f"{r:.4f}" for r in book.rate.tolist()]),
            "start_date": np.asarray(yyyymmdd(book.start)),
            "maturity_date": np.asarray(yyyymmdd(book.start + book.term)),
            "overdue_days": book.overdue.astype(str),
            "five_class": book.five_class,
        }
