"""One bank as the generator sees it: its size, branches, managers, townships and villages.

Time is counted in days since 1970-01-01 (numpy's datetime64[D] epoch). The bank has
`customers` customers at EPOCH and gains about ANNUAL_GROWTH of that a year after it; before
EPOCH it had fewer (those opened later do not exist yet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from granary.core.tenants import Tenant
from granary.generate.hashrng import Stream
from granary.generate.names import MORE_TOWNSHIP_STEMS, TOWNSHIP_STEMS, VILLAGE_STEMS

EPOCH = date(2026, 1, 1)
HISTORY_START = date(1998, 1, 1)  # the oldest customer relationship in the core system
ANNUAL_GROWTH = 0.08
CUSTOMERS_PER_MANAGER = 150
MIN_CUSTOMERS = 50


def day_number(d: date) -> int:
    return (d - date(1970, 1, 1)).days


def yyyymmdd(days: np.ndarray) -> list[str]:
    """Day numbers -> 'yyyyMMdd' strings, the core systems' date format."""
    iso = np.datetime_as_string(np.asarray(days, dtype=np.int64).astype("datetime64[D]"), unit="D")
    return [s.replace("-", "") for s in iso.tolist()]


@dataclass(frozen=True)
class Township:
    code: str  # 3 digits: 1xx towns (镇), 2xx rural townships (乡)
    name: str
    villages: tuple[tuple[str, str], ...]  # (3-digit code, name)


@dataclass
class Bank:
    tenant: Tenant
    scale: float
    seed: int
    stream: Stream = field(init=False)
    customers: int = field(init=False)
    growth_per_day: float = field(init=False)
    branch_ids: list[str] = field(init=False)
    branch_weights: np.ndarray = field(init=False)
    managers: int = field(init=False)
    townships: list[Township] = field(init=False)

    def __post_init__(self) -> None:
        t = self.tenant
        self.stream = Stream(self.seed, t.code)
        self.customers = max(MIN_CUSTOMERS, round(t.customers_sf1 * self.scale))
        self.growth_per_day = self.customers * ANNUAL_GROWTH / 365.0
        # Institution numbers: county code + sequence, unique across the province.
        self.branch_ids = [f"{t.county_code}{i + 1:03d}" for i in range(t.branches)]
        # The head office branch in the county seat is the biggest; the rest taper off.
        self.branch_weights = 1.0 / np.arange(1, t.branches + 1) ** 0.5
        self.managers = max(t.branches, round(self.customers / CUSTOMERS_PER_MANAGER))
        self.townships = self._townships()

    def _townships(self) -> list[Township]:
        s = self.stream
        count = max(10, self.tenant.branches)
        stems = np.asarray(
            TOWNSHIP_STEMS if count <= len(TOWNSHIP_STEMS) else TOWNSHIP_STEMS + MORE_TOWNSHIP_STEMS
        )
        order = np.argsort(s.uniform("township_order", np.arange(len(stems))))
        towns = (count * 2 + 2) // 3  # about two thirds are towns (镇), the rest 乡
        village_counts = s.integers("village_count", np.arange(count), 6, 11)
        out = []
        for t in range(count):
            is_town = t < towns
            code = f"{100 + t + 1:03d}" if is_town else f"{200 + t - towns + 1:03d}"
            vorder = np.argsort(s.uniform("village_order", np.arange(len(VILLAGE_STEMS)) + 1000 * t))
            villages = tuple(
                (f"{200 + v + 1:03d}", f"{VILLAGE_STEMS[vorder[v]]}村") for v in range(village_counts[t])
            )
            out.append(Township(code, f"{stems[order[t]]}{'镇' if is_town else '乡'}", villages))
        return out

    def home_branch(self, township: np.ndarray) -> np.ndarray:
        """The branch that serves a township (every branch serves at least one)."""
        return township % len(self.branch_ids)

    def managers_of_branch(self, branch: np.ndarray) -> np.ndarray:
        n_branches = len(self.branch_ids)
        return (self.managers - branch + n_branches - 1) // n_branches

    def manager_ids(self, branch: np.ndarray, slot: np.ndarray) -> list[str]:
        """Manager m belongs to branch m % branches; slot picks one of that branch's managers."""
        index = branch + slot * len(self.branch_ids)
        return [f"M{self.tenant.county_code}{m + 1:04d}" for m in index.tolist()]


def money(values: np.ndarray) -> np.ndarray:
    """Amounts as the core systems print them: plain decimals, two places."""
    return np.asarray([f"{v:.2f}" for v in np.asarray(values, dtype=np.float64).tolist()])


def timestamps(days: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Day numbers + seconds into the day -> 'yyyyMMddHHmmss'."""
    sec = np.asarray(seconds, dtype=np.int64)
    hms = [f"{s // 3600:02d}{s // 60 % 60:02d}{s % 60:02d}" for s in sec.tolist()]
    return np.char.add(np.asarray(yyyymmdd(days)), np.asarray(hms))


def at_least_one(chosen: np.ndarray, score: np.ndarray, eligible: np.ndarray | None = None) -> np.ndarray:
    """`chosen`, or if it picks nothing, the eligible entry with the highest score.

    A day's extract of events is never empty (ingest refuses an empty file, the quality gate
    wants rows), even for the smallest bank at the smallest scale.
    """
    if chosen.any() or len(chosen) == 0:
        return chosen
    eligible = np.ones(len(chosen), dtype=bool) if eligible is None else eligible
    if not eligible.any():
        return chosen
    out = chosen.copy()
    out[np.flatnonzero(eligible)[np.argmax(score[eligible])]] = True
    return out


def short_name(tenant: Tenant) -> str:
    """青山农村商业银行 -> 青山农商银行, as branch signs read."""
    return tenant.name_zh.replace("农村商业银行", "农商银行")
