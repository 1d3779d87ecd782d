"""Deposit accounts (about 1.3 per customer) and their end-of-day balances.

Demand balances follow a smooth per-account wave (so consecutive days differ a little, not at
random), a county-wide season peaking at the Spring Festival when migrant workers come home,
and slow growth. Time deposits keep their principal until the account closes.
"""

from __future__ import annotations

import math

import numpy as np

from granary.generate.bank import EPOCH, Bank, day_number, yyyymmdd
from granary.generate.customers import Customers

MAX_ACCOUNTS = 3
# Median demand / time balance (yuan) by customer type: individual, farmer, business, enterprise.
DEMAND_MEDIAN = np.asarray([3_000.0, 5_000.0, 20_000.0, 150_000.0])
TIME_MEDIAN = np.asarray([30_000.0, 40_000.0, 80_000.0, 500_000.0])
ACCOUNT_WEIGHTS = np.asarray([[0.75, 0.20, 0.05], [0.72, 0.22, 0.06], [0.55, 0.33, 0.12], [0.2, 0.5, 0.3]])


class Deposits:
    def __init__(self, bank: Bank, customers: Customers) -> None:
        s = bank.stream
        per_customer = 1 + s.choice_rows("account_count", customers.index, ACCOUNT_WEIGHTS[customers.ctype])
        owner = np.repeat(np.arange(len(customers.index)), per_customer)
        slot = np.arange(len(owner)) - np.repeat(np.cumsum(per_customer) - per_customer, per_customer)
        cust = customers.index[owner]
        key = cust * 4 + slot  # stable per account, independent of everything else
        ctype = customers.ctype[owner]

        first = slot == 0
        self.owner = owner
        self.key = key
        self.account_id = np.asarray(
            [f"D{c + 1:010d}{j + 1:02d}" for c, j in zip(cust.tolist(), slot.tolist(), strict=True)]
        )
        self.open_day = np.where(
            first,
            customers.open_day[owner],
            customers.open_day[owner] + (s.uniform("acct_open", key) * 3650).astype(np.int64),
        )
        self.is_time = ~first & (s.uniform("acct_time", key) < 0.65)
        closes = ~first & (s.uniform("acct_closes", key) < 0.25)
        self.close_day = np.where(
            closes, self.open_day + 30 + (s.uniform("acct_close_day", key) * 2500).astype(np.int64), 2**40
        )
        self.frozen = s.uniform("acct_frozen", key) < 0.004
        demand = s.lognormal("acct_demand", key, DEMAND_MEDIAN[ctype], 1.5)
        time_ = np.round(s.lognormal("acct_time_amount", key, TIME_MEDIAN[ctype], 1.0), -3)
        self.base = np.minimum(np.where(self.is_time, np.maximum(time_, 1000.0), demand), 50_000_000.0)
        self.period = 20 + s.uniform("acct_period", key) * 70
        self.phase = s.uniform("acct_phase", key) * 2 * math.pi
        self.swing = 0.05 + s.uniform("acct_swing", key) * 0.3
        self.branch_id = customers.columns["branch_id"][owner]
        self.customer_id = customers.columns["customer_id"][owner]
        self.product = np.where(self.is_time, "TD", "DD")
        self.open_date = np.asarray(yyyymmdd(self.open_day))
        self._stream = s

    def rows(self, day: int) -> dict[str, np.ndarray]:
        live = np.flatnonzero(self.open_day <= day)
        closed = self.close_day[live] <= day
        season = 1 + 0.10 * math.cos(2 * math.pi * (_day_of_year(day) - 40) / 365.25)
        growth = 1.06 ** ((day - day_number(EPOCH)) / 365.25)
        wave = np.exp(self.swing[live] * np.sin(2 * math.pi * day / self.period[live] + self.phase[live]))
        jitter = np.exp(0.02 * self._stream.normal("acct_daily", self.key[live], day))
        demand = self.base[live] * season * growth * wave * jitter
        balance = np.where(self.is_time[live], self.base[live], demand)
        balance = np.where(closed, 0.0, np.round(balance, 2))
        status = np.where(closed, "C", np.where(self.frozen[live], "F", "A"))
        return {
            "account_id": self.account_id[live],
            "customer_id": self.customer_id[live],
            "branch_id": self.branch_id[live],
            "product_code": self.product[live],
            "open_date": self.open_date[live],
            "balance": np.asarray([f"{b:.2f}" for b in balance.tolist()]),
            "status": status,
        }


def _day_of_year(day: int) -> int:
    d = np.datetime64(day, "D")
    return int((d - d.astype("datetime64[Y]").astype("datetime64[D]")).astype(int)) + 1
