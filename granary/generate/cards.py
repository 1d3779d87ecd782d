"""Bank cards: a debit card on most people's first account, a social security card (社保卡) for
many individuals and farmers. Cards are valid ten years and reissued on expiry."""

from __future__ import annotations

from datetime import date

import numpy as np

from granary.generate.bank import Bank, day_number, yyyymmdd
from granary.generate.customers import ENTERPRISE, FARMER, INDIVIDUAL, Customers

VALID_DAYS = 3652
SSC_START = day_number(date(2016, 6, 1))  # social security cards with a financial account


class Cards:
    def __init__(self, bank: Bank, customers: Customers) -> None:
        s = self._s = bank.stream
        idx = customers.index
        debit = (customers.ctype != ENTERPRISE) & (s.uniform("card_debit", idx) < 0.92)
        ssc = np.isin(customers.ctype, [INDIVIDUAL, FARMER]) & (s.uniform("card_ssc", idx) < 0.58)
        pos = np.concatenate([np.flatnonzero(debit), np.flatnonzero(ssc)])
        slot = np.concatenate([np.ones(debit.sum(), dtype=np.int64), np.full(ssc.sum(), 2)])
        order = np.lexsort((slot, pos))
        self.pos, self.slot = pos[order], slot[order]
        cust = idx[self.pos]
        key = cust * 4 + self.slot
        opened = customers.open_day[self.pos]
        self.first_issue = np.where(
            self.slot == 1,
            opened + (s.uniform("card_issue", key) ** 2 * 60).astype(np.int64),
            np.maximum(opened, SSC_START) + (s.uniform("card_issue", key) * 1500).astype(np.int64),
        )
        state = s.uniform("card_status", key)
        self.status = np.select([state < 0.012, state < 0.018, state < 0.05], ["2", "3", "4"], "1")
        self.card_id = np.asarray(
            [f"K{c + 1:010d}{j:02d}" for c, j in zip(cust.tolist(), self.slot.tolist(), strict=True)]
        )
        cols = customers.columns
        self.customer_id = cols["customer_id"][self.pos]
        self.account_id = np.asarray([f"D{c + 1:010d}01" for c in cust.tolist()])
        self.branch_id = cols["branch_id"][self.pos]

    def rows(self, day: int) -> dict[str, np.ndarray]:
        live = np.flatnonzero(self.first_issue <= day)
        first = self.first_issue[live]
        issue = first + (day - first) // VALID_DAYS * VALID_DAYS
        return {
            "card_id": self.card_id[live],
            "customer_id": self.customer_id[live],
            "account_id": self.account_id[live],
            "branch_id": self.branch_id[live],
            "card_type": np.where(self.slot[live] == 1, "DEB", "SSC"),
            "issue_date": np.asarray(yyyymmdd(issue)),
            "expiry_date": np.asarray(yyyymmdd(issue + VALID_DAYS)),
            "status": self.status[live],
        }
