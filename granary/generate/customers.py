"""Customers: who they are (fixed per customer) and which of them exist on a given day."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from granary.generate.bank import EPOCH, HISTORY_START, Bank, day_number, yyyymmdd
from granary.generate.hashrng import Stream
from granary.generate.names import (
    FIRM_KINDS,
    FIRM_WORDS,
    GIVEN_FEMALE,
    GIVEN_MALE,
    MOBILE_PREFIXES,
    SURNAMES,
)
from granary.pipeline.idcard import check_digits

TYPE_CODES = ("01", "02", "03", "04")  # individual, farmer household, individual business, small enterprise
TYPE_WEIGHTS = (0.30, 0.55, 0.12, 0.03)
INDIVIDUAL, FARMER, BUSINESS, ENTERPRISE = range(4)

_BIRTH_FIRST = day_number(EPOCH.replace(year=1950))
_BIRTH_LAST = day_number(EPOCH.replace(year=2004)) - 1
_ADULT_DAYS = 18 * 365 + 5


@dataclass
class Customers:
    """Every customer that exists by the last day asked for; index i is customer C{i+1:010d}."""

    index: np.ndarray
    open_day: np.ndarray
    ctype: np.ndarray
    branch: np.ndarray
    columns: dict[str, np.ndarray]  # contract column -> formatted strings, aligned with index
    birth: np.ndarray  # day number (also set for small enterprises: their legal representative's)
    male: np.ndarray
    township: np.ndarray  # index into bank.townships
    village: np.ndarray  # index into that township's villages

    def on(self, day: int) -> np.ndarray:
        """Positions of the customers that exist on `day` (opened on or before it)."""
        return np.flatnonzero(self.open_day <= day)


def universe_size(bank: Bank, last_day: int) -> int:
    new = 0
    if last_day >= day_number(EPOCH):
        new = math.ceil((last_day - day_number(EPOCH)) * bank.growth_per_day) + 1
    return bank.customers + new


def build(bank: Bank, last_day: int) -> Customers:
    s, n = bank.stream, universe_size(bank, last_day)
    idx = np.arange(n, dtype=np.int64)
    ctype = s.choice("customer_type", idx, TYPE_WEIGHTS)
    male = s.uniform("gender", idx) < 0.52

    # Birth dates 1950-2003, most customers middle-aged (two-uniform average peaks mid-range).
    span = _BIRTH_LAST - _BIRTH_FIRST
    tri = (s.uniform("birth_a", idx) + s.uniform("birth_b", idx)) / 2
    flat = s.uniform("birth_c", idx)
    birth = _BIRTH_FIRST + (np.where(s.uniform("birth_mix", idx) < 0.7, tri, flat) * span).astype(np.int64)

    open_day = _open_days(bank, idx, birth)

    township = s.choice("township", idx, 1.0 / np.arange(1, len(bank.townships) + 1) ** 0.6)
    n_villages = np.asarray([len(t.villages) for t in bank.townships])
    village = (s.uniform("village", idx) * n_villages[township]).astype(np.int64)
    branch = np.where(
        s.uniform("branch_away", idx) < 0.15,
        s.choice("branch", idx, bank.branch_weights),
        bank.home_branch(township),
    )
    manager_slot = (s.uniform("manager", idx) * bank.managers_of_branch(branch)).astype(np.int64)

    enterprise = ctype == ENTERPRISE
    columns = {
        "customer_id": np.asarray([f"C{i + 1:010d}" for i in idx.tolist()]),
        "customer_name": _names(bank, idx, male, enterprise),
        "id_number": _id_numbers(bank, idx, birth, male),
        "phone": _phones(bank, idx),
        "customer_type": np.asarray(TYPE_CODES)[ctype],
        # A small enterprise has no gender or birth date; its id_number is the legal representative's.
        "gender": np.where(enterprise, "", np.where(male, "1", "2")),
        "birth_date": np.where(enterprise, "", np.asarray(yyyymmdd(birth))),
        "branch_id": np.asarray(bank.branch_ids)[branch],
        "manager_id": np.asarray(bank.manager_ids(branch, manager_slot)),
        "village_code": _village_codes(bank, township, village),
        "address": _addresses(bank, idx, township, village, enterprise),
        "open_date": np.asarray(yyyymmdd(open_day)),
    }
    return Customers(idx, open_day, ctype, branch, columns, birth, male, township, village)


def _open_days(bank: Bank, idx: np.ndarray, birth: np.ndarray) -> np.ndarray:
    """The customers of EPOCH opened any time since HISTORY_START (as adults); later ones one by one."""
    epoch = day_number(EPOCH)
    first = np.maximum(day_number(HISTORY_START), birth + _ADULT_DAYS)
    legacy = first + (bank.stream.uniform("open", idx) * (epoch - first)).astype(np.int64)
    arrivals = epoch + 1 + np.floor((idx - bank.customers) / bank.growth_per_day).astype(np.int64)
    return np.where(idx < bank.customers, legacy, arrivals)


def surnames(stream: Stream, idx: np.ndarray, field: str = "surname") -> np.ndarray:
    return np.asarray([name for name, _ in SURNAMES])[stream.choice(field, idx, [w for _, w in SURNAMES])]


def given_names(stream: Stream, idx: np.ndarray, male: np.ndarray, prefix: str = "") -> np.ndarray:
    """One or two given-name characters; `prefix` keeps other people's names apart from customers'."""
    s = stream
    pool_m, pool_f = np.asarray(list(GIVEN_MALE)), np.asarray(list(GIVEN_FEMALE))
    first = np.where(
        male,
        pool_m[s.integers(f"{prefix}given1m", idx, 0, len(pool_m))],
        pool_f[s.integers(f"{prefix}given1f", idx, 0, len(pool_f))],
    )
    second = np.where(
        male,
        pool_m[s.integers(f"{prefix}given2m", idx, 0, len(pool_m))],
        pool_f[s.integers(f"{prefix}given2f", idx, 0, len(pool_f))],
    )
    second = np.where(s.uniform(f"{prefix}given_len", idx) < 0.3, "", second)
    return np.char.add(first, second)


def _names(bank: Bank, idx: np.ndarray, male: np.ndarray, enterprise: np.ndarray) -> np.ndarray:
    s = bank.stream
    people = np.char.add(surnames(s, idx), given_names(s, idx, male))
    place = bank.tenant.county_zh.removesuffix("县")
    firms = np.char.add(
        np.char.add(place, np.asarray(FIRM_WORDS)[s.integers("firm_word", idx, 0, len(FIRM_WORDS))]),
        np.asarray(FIRM_KINDS)[s.integers("firm_kind", idx, 0, len(FIRM_KINDS))],
    )
    return np.where(enterprise, firms, people)


def _id_numbers(bank: Bank, idx: np.ndarray, birth: np.ndarray, male: np.ndarray) -> np.ndarray:
    """County + birth date + sequence (odd for men) + check digit; unique within the bank.

    A clash is resolved in favour of the lower customer index, so a customer's number never
    depends on customers opened after it.
    """
    births = np.char.add(bank.tenant.county_code, np.asarray(yyyymmdd(birth)))
    seq = bank.stream.integers("id_seq", idx, 0, 500) * 2 + np.where(male, 1, 0)
    while True:
        first17 = np.char.add(births, np.char.zfill(seq.astype(str), 3))
        _, first_pos = np.unique(first17, return_index=True)
        clash = np.ones(len(idx), dtype=bool)
        clash[first_pos] = False
        if not clash.any():
            break
        seq = np.where(clash, (seq + 2) % 1000, seq)
    return np.char.add(first17, check_digits(first17))


def mobile_numbers(stream: Stream, idx: np.ndarray, prefix: str = "") -> np.ndarray:
    field = f"{prefix}phone"
    head = np.asarray(MOBILE_PREFIXES)[stream.integers(f"{field}_prefix", idx, 0, len(MOBILE_PREFIXES))]
    rest = np.char.zfill(stream.integers(f"{field}_rest", idx, 0, 100_000_000).astype(str), 8)
    return np.char.add(head, rest)


def _phones(bank: Bank, idx: np.ndarray) -> np.ndarray:
    s = bank.stream
    # About 2% of customers never gave a mobile number.
    return np.where(s.uniform("phone_missing", idx) < 0.02, "", mobile_numbers(s, idx))


def _village_codes(bank: Bank, township: np.ndarray, village: np.ndarray) -> np.ndarray:
    codes = [
        [f"{bank.tenant.county_code}{t.code}{v_code}" for v_code, _ in t.villages] for t in bank.townships
    ]
    return np.asarray([codes[t][v] for t, v in zip(township.tolist(), village.tolist(), strict=True)])


def _addresses(
    bank: Bank, idx: np.ndarray, township: np.ndarray, village: np.ndarray, enterprise: np.ndarray
) -> np.ndarray:
    s = bank.stream
    group = s.integers("addr_group", idx, 1, 13).tolist()
    number = s.integers("addr_number", idx, 1, 120).tolist()
    county = bank.tenant.county_zh
    out = []
    for t, v, g, no, firm in zip(
        township.tolist(), village.tolist(), group, number, enterprise.tolist(), strict=True
    ):
        town = bank.townships[t]
        village_name = town.villages[v][1]
        if firm:
            out.append(f"{county}{town.name}{village_name}工业园区{no}号")
        else:
            out.append(f"{county}{town.name}{village_name}{g}组{no}号")
    return np.asarray(out)
