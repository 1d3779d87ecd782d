"""The day's postings on demand accounts, by channel: about two per customer a day.

Each account has its own activity level (a few busy business accounts, many quiet farmers');
the number of postings on a day is that level rounded at random, more around the Spring
Festival. Mobile and online banking appear only for customers signed up to them; people
without them use the counter, ATMs and village agent points (助农取款点).
"""

from __future__ import annotations

import math

import numpy as np

from granary.generate.bank import Bank, money, timestamps, yyyymmdd
from granary.generate.deposits import Deposits

CHANNELS = np.asarray(["CNT", "ATM", "POS", "MB", "IB", "AGT"])
CNT, ATM, POS, MB, IB, AGT = range(6)
# Channel weights for customers without and with mobile / online banking.
WEIGHTS = {
    "none": np.asarray([0.36, 0.20, 0.14, 0.0, 0.0, 0.30]),
    "mobile": np.asarray([0.12, 0.10, 0.16, 0.47, 0.0, 0.15]),
    "online": np.asarray([0.18, 0.12, 0.16, 0.0, 0.36, 0.18]),
}
CREDIT_SHARE = np.asarray([0.50, 0.15, 0.0, 0.45, 0.45, 0.25])  # by channel
AMOUNT_MEDIAN = np.asarray([2000.0, 500.0, 120.0, 300.0, 1500.0, 300.0])
# Purpose by channel and direction (debit row, credit row): withdrawal, deposit, transfer,
# purchase, bill payment, salary, agricultural subsidy.
PURPOSES = np.asarray(["01", "02", "03", "04", "05", "06", "07"])
PURPOSE_WEIGHTS = np.asarray(
    [
        [[0.60, 0, 0.35, 0, 0.05, 0, 0], [0, 0.70, 0.12, 0, 0, 0.08, 0.10]],  # counter
        [[1.0, 0, 0, 0, 0, 0, 0], [0, 1.0, 0, 0, 0, 0, 0]],  # ATM
        [[0, 0, 0, 1.0, 0, 0, 0], [0, 0, 0, 1.0, 0, 0, 0]],  # POS (credits are refunds)
        [[0, 0, 0.55, 0.20, 0.25, 0, 0], [0, 0, 0.80, 0, 0, 0.15, 0.05]],  # mobile
        [[0, 0, 0.75, 0.10, 0.15, 0, 0], [0, 0, 0.85, 0, 0, 0.15, 0]],  # online
        [[0.80, 0, 0.05, 0, 0.15, 0, 0], [0, 0.85, 0.15, 0, 0, 0, 0]],  # agent point
    ]
)
ACTIVITY_BY_TYPE = np.asarray([1.2, 1.0, 3.2, 5.0])  # individual, farmer, business, enterprise
PER_ACCOUNT = 1.3  # mean postings per demand account a day, before type and season
MAX_PER_DAY = 31


def transaction_rows(
    bank: Bank, deposits: Deposits, ctype: np.ndarray, mobile: np.ndarray, online: np.ndarray, day: int
) -> dict[str, np.ndarray]:
    """`ctype` per customer position; `mobile`/`online`: customer positions signed up for them."""
    s = bank.stream
    acc = np.flatnonzero(
        (deposits.open_day <= day) & (deposits.close_day > day) & ~deposits.frozen & ~deposits.is_time
    )
    key = deposits.key[acc]
    owner = deposits.owner[acc]
    level = PER_ACCOUNT * ACTIVITY_BY_TYPE[ctype[owner]] * np.exp(s.normal("txn_level", key) - 0.5)
    doy = int((np.datetime64(day, "D") - np.datetime64(day, "D").astype("datetime64[Y]")).astype(int))
    season = 1 + 0.25 * max(0.0, math.cos(2 * math.pi * (doy - 40) / 365.25)) ** 4
    count = np.minimum((level * season + s.uniform("txn_count", key, day)).astype(np.int64), MAX_PER_DAY)

    rows = np.repeat(np.arange(len(acc)), count)
    seq = np.arange(len(rows)) - np.repeat(np.cumsum(count) - count, count)
    tkey = key[rows] * 32 + seq
    cust = owner[rows]
    kind = np.where(np.isin(cust, mobile), 1, np.where(np.isin(cust, online), 2, 0))
    weights = np.stack([WEIGHTS["none"], WEIGHTS["mobile"], WEIGHTS["online"]])[kind]
    channel = s.choice_rows("txn_channel", tkey, weights, day)
    credit = s.uniform("txn_direction", tkey, day) < CREDIT_SHARE[channel]
    purpose = s.choice_rows("txn_purpose", tkey, PURPOSE_WEIGHTS[channel, credit.astype(int)], day)
    amount = AMOUNT_MEDIAN[channel] * np.exp(1.1 * s.normal("txn_amount", tkey, day))
    cash = np.isin(channel, [ATM, AGT])
    amount = np.where(cash, np.maximum(np.round(amount, -2), 100.0), np.maximum(np.round(amount, 2), 0.01))
    amount = np.where(channel == ATM, np.minimum(amount, 20_000.0), amount)
    amount = np.where(channel == AGT, np.minimum(amount, 2_000.0), amount)
    # Counters and agent points keep office hours; cards and phones run from dawn to late night.
    office = np.isin(channel, [CNT, AGT])
    u = s.uniform("txn_time", tkey, day)
    seconds = np.where(
        office,
        8.5 * 3600 + u * 8.5 * 3600,
        6 * 3600 + (u + s.uniform("txn_time2", tkey, day)) / 2 * 17 * 3600,
    )
    stamp = yyyymmdd(np.asarray([day]))[0]
    return {
        "txn_id": np.asarray([f"T{stamp}{i + 1:010d}" for i in range(len(rows))]),
        "txn_date": np.full(len(rows), stamp),
        "txn_time": timestamps(np.full(len(rows), day), seconds.astype(np.int64)),
        "account_id": deposits.account_id[acc][rows],
        "customer_id": deposits.customer_id[acc][rows],
        "branch_id": deposits.branch_id[acc][rows],
        "channel": CHANNELS[channel],
        "direction": np.where(credit, "C", "D"),
        "purpose": PURPOSES[purpose],
        "amount": money(amount),
    }
