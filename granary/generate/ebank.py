"""Mobile and online banking: who signed up (younger customers more often), who logs in when.

A user's chance of logging in on a day is fixed per user (most rarely, a few daily); whether
they did is a hash of (user, day), so the activity extract and each user's last login agree.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from granary.generate.bank import Bank, at_least_one, day_number, money, timestamps, yyyymmdd
from granary.generate.customers import ENTERPRISE, Customers

EBANK_START = day_number(date(2013, 6, 1))
LOOKBACK = 180  # days searched back for the last login; older ones fall back to activation


class EBank:
    def __init__(self, bank: Bank, customers: Customers) -> None:
        s = self._s = bank.stream
        idx = customers.index
        age = (day_number(date(2026, 1, 1)) - customers.birth) / 365.25
        chance = np.clip(0.95 - (age - 22) * 0.017, 0.08, 0.9)
        phone = customers.columns["phone"]
        signed = (customers.ctype != ENTERPRISE) & (phone != "") & (s.uniform("eb_signed", idx) < chance)
        pos = np.flatnonzero(signed)
        uid = idx[pos]
        self.pos = pos
        self.register = np.maximum(customers.open_day[pos], EBANK_START) + (
            s.uniform("eb_register", uid) ** 2 * 2400
        ).astype(np.int64)
        activates = s.uniform("eb_activates", uid) < 0.88
        self.activation = np.where(
            activates, self.register + (s.uniform("eb_activation", uid) ** 3 * 30).astype(np.int64), 2**40
        )
        status = s.uniform("eb_status", uid)
        self.status = np.where(status < 0.03, "3", np.where(status < 0.04, "2", "1"))
        self.channel = np.where(s.uniform("eb_channel", uid) < 0.88, "MB", "IB")
        # Daily login probability: median ~9%, a long tail of daily users.
        self.p_login = np.clip(0.09 * np.exp(1.1 * s.normal("eb_p_login", uid)), 0.005, 0.95)
        self.uid = uid
        self.user_id = np.asarray([f"U{i + 1:010d}" for i in uid.tolist()])
        self.customer_id = customers.columns["customer_id"][pos]
        self.phone = phone[pos]

    def _can_login(self, day: int, users: np.ndarray) -> np.ndarray:
        return (self.activation[users] <= day) & (self.status[users] == "1")

    def active(self, day: int) -> np.ndarray:
        """Positions (into the users) of those who logged in on `day`."""
        users = np.flatnonzero(self.register <= day)
        u = self._s.uniform("eb_login", self.uid[users], day)
        can = self._can_login(day, users)
        chosen = at_least_one(can & (u < self.p_login[users]), self.p_login[users] - u, can)
        return users[chosen]

    def _logged_in(self, day: int, users: np.ndarray) -> np.ndarray:
        u = self._s.uniform("eb_login", self.uid[users], day)
        return self._can_login(day, users) & (u < self.p_login[users])

    def mobile_customers(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """Customer positions with activated mobile banking, and with online banking, on `day`."""
        ok = (self.register <= day) & (self.activation <= day) & (self.status == "1")
        return self.pos[ok & (self.channel == "MB")], self.pos[ok & (self.channel == "IB")]

    def user_rows(self, day: int) -> dict[str, np.ndarray]:
        users = np.flatnonzero(self.register <= day)
        activated = self.activation[users] <= day
        last = np.full(len(users), -1, dtype=np.int64)
        todo = np.flatnonzero(activated)
        active_today = np.isin(users, self.active(day))
        last[active_today] = day
        todo = todo[~active_today[todo]]
        for back in range(1, LOOKBACK + 1):
            if not len(todo):
                break
            hit = self._logged_in(day - back, users[todo])
            last[todo[hit]] = day - back
            todo = todo[~hit]
        # Not seen in the look-back window: last seen on the day they activated.
        last[todo] = self.activation[users[todo]]
        seconds = self._s.integers("eb_login_sec", self.uid[users], 7 * 3600, 23 * 3600, day)
        login = np.where(last >= 0, timestamps(np.maximum(last, 0), seconds), "")
        return {
            "user_id": self.user_id[users],
            "customer_id": self.customer_id[users],
            "phone": self.phone[users],
            "channel": self.channel[users],
            "register_date": np.asarray(yyyymmdd(self.register[users])),
            "is_activated": np.where(activated, "Y", "N"),
            "activation_date": np.where(
                activated, np.asarray(yyyymmdd(np.minimum(self.activation[users], day))), ""
            ),
            "last_login_time": login,
            "status": self.status[users],
        }

    def activity_rows(self, day: int) -> dict[str, np.ndarray]:
        s, users = self._s, self.active(day)
        uid = self.uid[users]
        logins = 1 + (s.uniform("eb_logins", uid, day) ** 3 * 6).astype(np.int64)
        transfers = np.where(
            s.uniform("eb_transfers", uid, day) < 0.35,
            1 + (s.uniform("eb_n_tr", uid, day) ** 2 * 4).astype(int),
            0,
        )
        per_transfer = np.round(np.exp(np.log(800.0) + 1.2 * s.normal("eb_tr_amount", uid, day)), 2)
        amount = np.where(transfers > 0, np.clip(per_transfer * transfers, 1.0, 2_000_000.0), 0.0)
        payments = np.where(
            s.uniform("eb_payments", uid, day) < 0.25,
            1 + (s.uniform("eb_n_pay", uid, day) * 2).astype(int),
            0,
        )
        return {
            "user_id": self.user_id[users],
            "activity_date": np.full(len(users), yyyymmdd(np.asarray([day]))[0]),
            "login_count": logins.astype(str),
            "transfer_count": transfers.astype(str),
            "transfer_amount": money(amount),
            "payment_count": payments.astype(str),
        }
