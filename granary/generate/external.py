"""Province-level provider files: landing/_province/<dt>/<provider>__<product>.csv (UTF-8).

Each provider product delivers, per day, records for a share of every bank's live customers
(the same people the customer generator makes: `customers.build` is called, not copied) plus
people who bank with none of the province's banks (resident IDs of counties no bank is in).
Deterministic: every value is a hash of (seed, bank or "nobody", product, person, day).
"""

from __future__ import annotations

import csv
from datetime import date, timedelta

import numpy as np

from granary.catalog.providers import Feed, feeds
from granary.core import paths
from granary.core.tenants import Tenant
from granary.generate import customers as customer_mod
from granary.generate.bank import Bank, day_number, yyyymmdd
from granary.generate.hashrng import Stream
from granary.generate.names import FIRM_KINDS, FIRM_WORDS, GIVEN_FEMALE, GIVEN_MALE, MOBILE_PREFIXES, SURNAMES
from granary.pipeline.idcard import check_digits

# Share of a bank's live customers a product has a record for on a given day.
DAILY_SHARE = {
    "litigation": 0.01,
    "credit_report": 0.04,
    "card_consumption": 0.06,
    "telecom": 0.05,
    "enterprise_tax": 0.15,  # of individual-business and small-enterprise customers
    "government": 0.03,
}
NOBODY_SHARE = 0.25  # of a file's records: people who are no bank's customer
NOBODY_POOL = 200_000  # the province's non-customers at SF1 (scaled)
NOBODY = "nobody"
GOV_ITEM = {
    "social_security": "社会保险",
    "housing_fund": "住房公积金",
    "property": "不动产",
    "utilities": "水电燃气",
}
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(first17: str) -> str:
    """GB 32100 check character of a unified social credit code."""
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31]


def _choice(s: Stream, name: str, ids: np.ndarray, day: int, options: list[str], weights: list[float]):
    w = np.cumsum(np.asarray(weights, dtype=float) / sum(weights))
    w[-1] = 1.0
    return np.asarray(options)[np.searchsorted(w, s.uniform(name, ids, day), side="right")]


def _money(values: np.ndarray) -> list[str]:
    return [f"{v:.2f}" for v in np.round(values, 2).tolist()]


def _ints(values: np.ndarray) -> list[str]:
    return [str(v) for v in np.asarray(values, dtype=np.int64).tolist()]


def _last_month(dt: date) -> str:
    return f"{(dt.replace(day=1) - timedelta(days=1)):%Y%m}"


def _lognormal(s: Stream, name: str, ids: np.ndarray, day: int, median: float, sigma: float) -> np.ndarray:
    return median * np.exp(sigma * s.normal(name, ids, day))


def _fields(feed: Feed, s: Stream, ids: np.ndarray, dt: date, who: dict[str, np.ndarray]) -> dict:
    """The kind's columns (except record_id) for these people, as lists of strings."""
    day, f, n = day_number(dt), feed.file_name, len(ids)
    kind = feed.kind
    if kind == "litigation":
        enforcement = feed.product.code == "enforcement"
        case_type = (
            np.full(n, "执行")
            if enforcement
            else _choice(s, f + "type", ids, day, ["民事", "刑事", "行政", "执行"], [70, 4, 3, 23])
        )
        role = np.where(
            case_type == "执行",
            "被执行人",
            np.where(
                case_type == "民事",
                _choice(s, f + "role", ids, day, ["原告", "被告", "第三人"], [40, 55, 5]),
                np.where(case_type == "刑事", "被告", "原告"),
            ),
        )
        filed = day - s.integers(f + "filed", ids, 0, 900, day)
        word = {"民事": "民初", "刑事": "刑初", "行政": "行初", "执行": "执"}
        years = [d[:4] for d in yyyymmdd(filed)]
        seq = s.integers(f + "seq", ids, 1, 9000, day).tolist()
        status_open = np.where(case_type == "执行", "执行中", "审理中")
        status_done = np.where(case_type == "执行", "终结本次执行", "已结案")
        return {
            "id_number": who["id_number"],
            "party_name": who["name"],
            "case_number": [
                f"({y})皖{i[2:6]}{word[t]}{q}号"
                for y, i, t, q in zip(years, who["id_number"].tolist(), case_type.tolist(), seq, strict=True)
            ],
            "case_type": case_type,
            "party_role": role,
            "filing_date": yyyymmdd(filed),
            "claim_amount": _money(_lognormal(s, f + "claim", ids, day, 30_000, 1.2)),
            "case_status": np.where(s.uniform(f + "status", ids, day) < 0.6, status_open, status_done),
        }
    if kind == "credit_report":
        loans = s.integers(f + "loans", ids, 0, 9, day)
        cards = s.integers(f + "cards", ids, 0, 7, day)
        overdue = np.minimum(
            loans + cards,
            np.where(s.uniform(f + "od", ids, day) < 0.12, s.integers(f + "odn", ids, 1, 4, day), 0),
        )
        return {
            "id_number": who["id_number"],
            "report_date": yyyymmdd(np.full(n, day)),
            "loan_accounts": _ints(loans),
            "loan_balance": _money(
                np.where(loans > 0, _lognormal(s, f + "bal", ids, day, 80_000, 0.9) * loans, 0)
            ),
            "card_accounts": _ints(cards),
            "card_used_amount": _money(
                np.where(cards > 0, _lognormal(s, f + "used", ids, day, 4_000, 1.0), 0)
            ),
            "overdue_accounts": _ints(overdue),
            "max_overdue_months": _ints(np.where(overdue > 0, s.integers(f + "odm", ids, 1, 13, day), 0)),
            "queries_3m": _ints(s.integers(f + "queries", ids, 0, 16, day)),
        }
    if kind == "card_consumption":
        count = s.integers(f + "count", ids, 0, 121, day)
        categories = ["餐饮", "超市", "农资", "加油", "医疗", "教育", "网购", "家电"]
        return {
            "id_number": who["id_number"],
            "stat_month": np.full(n, _last_month(dt)),
            "txn_count": _ints(count),
            "txn_amount": _money(np.where(count > 0, _lognormal(s, f + "amount", ids, day, 3_000, 0.9), 0)),
            "top_category": np.where(
                count > 0, _choice(s, f + "cat", ids, day, categories, [8, 8, 6, 5, 3, 2, 6, 2]), ""
            ),
            "cross_bank_cards": _ints(s.integers(f + "xcards", ids, 1, 7, day)),
        }
    if kind == "telecom":
        own = who["phone"]
        made = np.char.add(
            np.asarray(MOBILE_PREFIXES)[s.integers(f + "pre", ids, 0, len(MOBILE_PREFIXES), day)],
            np.char.zfill(s.integers(f + "num", ids, 0, 100_000_000, day).astype(str), 8),
        )
        return {
            "id_number": who["id_number"],
            "phone": np.where(own == "", made, own),
            "carrier": _choice(s, f + "carrier", ids, day, ["移动", "联通", "电信"], [60, 25, 15]),
            "tenure_months": _ints(s.integers(f + "tenure", ids, 1, 301, day)),
            "line_status": _choice(s, f + "line", ids, day, ["正常", "停机", "销号"], [93, 5, 2]),
            "identity_match": np.where(s.uniform(f + "match", ids, day) < 0.97, "Y", "N"),
            "monthly_fee": _money(_lognormal(s, f + "fee", ids, day, 58, 0.5)),
        }
    if kind == "enterprise_tax":
        org = s.integers(f + "org", ids, 0, 31**9, None)
        kind_code = np.where(who["ctype"] == customer_mod.ENTERPRISE, "91", "92")
        first17 = [
            # The organisation code starts with a letter here, so a code is never all digits
            # (which would look like a clear resident ID to the PII scans).
            k + i[:6] + USCC_CHARS[10 + o % 21] + "".join(USCC_CHARS[(o // 31**p) % 31] for p in range(1, 9))
            for k, i, o in zip(kind_code.tolist(), who["id_number"].tolist(), org.tolist(), strict=True)
        ]
        revenue = _lognormal(s, f + "rev", ids, day, 600_000, 1.0)
        rating = _choice(s, f + "rating", ids, day, ["A", "B", "M", "C", "D"], [20, 50, 20, 7, 3])
        return {
            "credit_code": [c + uscc_check_char(c) for c in first17],
            "legal_rep_id_number": who["id_number"],
            "firm_name": who["firm"],
            "tax_year": _ints(np.full(n, dt.year - 1)),
            "tax_credit_rating": rating,
            "declared_revenue": _money(revenue),
            "tax_paid": _money(revenue * (0.01 + 0.05 * s.uniform(f + "rate", ids, day))),
            "tax_arrears": _money(
                np.where(np.isin(rating, ["C", "D"]), _lognormal(s, f + "arr", ids, day, 5_000, 1.0), 0)
            ),
        }
    if kind == "government":
        item = GOV_ITEM.get(feed.product.code, "社会保险")
        if item == "不动产":
            status = _choice(s, f + "st", ids, day, ["已登记", "已抵押"], [70, 30])
            area = s.integers(f + "area", ids, 45, 260, day)
            amount = _lognormal(s, f + "amt", ids, day, 400_000, 0.6)
            months = np.full(n, "")
            detail = [f"住宅 {a}平方米" for a in area.tolist()]
        else:
            arrears = {"社会保险": [90, 6, 4], "住房公积金": [92, 4, 4], "水电燃气": [95, 5, 0]}[item]
            status = _choice(s, f + "st", ids, day, ["正常", "欠缴", "中断"], arrears)
            median = {"社会保险": 600, "住房公积金": 800, "水电燃气": 150}[item]
            amount = _lognormal(s, f + "amt", ids, day, median, 0.5)
            months = _ints(s.integers(f + "months", ids, 1, 241, day))
            options = {
                "社会保险": ["城乡居民养老保险", "城镇职工养老保险", "城乡居民医疗保险"],
                "住房公积金": ["单位缴存", "个人自愿缴存"],
                "水电燃气": ["电费", "水费", "燃气费"],
            }[item]
            detail = _choice(s, f + "detail", ids, day, options, [1] * len(options))
        return {
            "id_number": who["id_number"],
            "item": np.full(n, item),
            "period": np.full(n, _last_month(dt)),
            "status": status,
            "amount": _money(amount),
            "months": months,
            "detail": detail,
        }
    raise ValueError(f"no generator for external data kind '{kind}'; add one to granary/generate/external.py")


def _nobody(seed: int, tenants: list[Tenant], feed: Feed, dt: date, count: int, scale: float) -> dict:
    """People of the province who bank with none of `tenants` (their counties have no bank)."""
    s = Stream(seed, NOBODY)
    day = day_number(dt)
    taken = {t.county_code for t in tenants}
    counties = np.asarray([c for c in (f"3498{k:02d}" for k in range(1, 100)) if c not in taken])
    pool = max(100, round(NOBODY_POOL * scale))
    person = s.integers("who:" + feed.file_name, np.arange(count), 0, pool, day)
    person = np.unique(person)  # a person once per file
    male = s.uniform("male", person) < 0.5
    birth = day_number(date(1955, 1, 1)) + s.integers("birth", person, 0, 365 * 48)
    first17 = np.char.add(
        np.char.add(counties[s.integers("county", person, 0, len(counties))], np.asarray(yyyymmdd(birth))),
        np.char.zfill((s.integers("seq", person, 0, 500) * 2 + male).astype(str), 3),
    )
    surnames = np.asarray([n for n, _ in SURNAMES])[s.integers("surname", person, 0, len(SURNAMES))]
    given = np.where(
        male,
        np.asarray(list(GIVEN_MALE))[s.integers("given_m", person, 0, len(GIVEN_MALE))],
        np.asarray(list(GIVEN_FEMALE))[s.integers("given_f", person, 0, len(GIVEN_FEMALE))],
    )
    enterprise = s.uniform("firm", person) < 0.2
    firms = np.char.add(
        np.asarray(FIRM_WORDS)[s.integers("firm_word", person, 0, len(FIRM_WORDS))],
        np.asarray(FIRM_KINDS)[s.integers("firm_kind", person, 0, len(FIRM_KINDS))],
    )
    return {
        "ids": person,
        "stream": s,
        "who": {
            "id_number": np.char.add(first17, check_digits(first17)),
            "name": np.char.add(surnames, given),
            "phone": np.full(len(person), ""),
            "ctype": np.where(enterprise, customer_mod.ENTERPRISE, customer_mod.BUSINESS),
            "firm": np.where(enterprise, firms, np.char.add(np.char.add(surnames, given), "经营部")),
        },
    }


def generate_provider_files(
    tenants: list[Tenant], dates: list[date], scale: float, seed: int
) -> dict[str, int]:
    """Write every provider product's province file for each day; returns rows per file (last day)."""
    days = sorted(set(dates))
    if not days:
        return {}
    banks = sorted(tenants, key=lambda t: t.code)
    people = {}
    for tenant in banks:
        bank = Bank(tenant, scale, seed)
        people[tenant.code] = customer_mod.build(bank, day_number(days[-1]))
    written: dict[str, int] = {}
    for dt in days:
        for feed in feeds():
            written[feed.file_name] = _write_feed(feed, dt, banks, people, scale, seed)
    return written


def _write_feed(feed: Feed, dt: date, banks: list[Tenant], people: dict, scale: float, seed: int) -> int:
    day = day_number(dt)
    parts: list[dict[str, list]] = []
    for tenant in banks:
        crowd = people[tenant.code]
        live = crowd.on(day)
        if feed.kind == "enterprise_tax":
            live = live[np.isin(crowd.ctype[live], [customer_mod.BUSINESS, customer_mod.ENTERPRISE])]
        s = Stream(seed, f"external:{tenant.code}")
        chosen = live[s.uniform("pick:" + feed.file_name, crowd.index[live], day) < DAILY_SHARE[feed.kind]]
        if len(chosen) == 0:  # a tiny bank may have no customer in a feed today
            continue
        who = {
            "id_number": crowd.columns["id_number"][chosen],
            "name": crowd.columns["customer_name"][chosen],
            "phone": crowd.columns["phone"][chosen],
            "ctype": crowd.ctype[chosen],
        }
        # A small enterprise's customer name is the firm's; an individual business trades under the owner's.
        enterprise = who["ctype"] == customer_mod.ENTERPRISE
        who["firm"] = np.where(enterprise, who["name"], np.char.add(who["name"], "经营部"))
        parts.append(_fields(feed, s, crowd.index[chosen], dt, who))
    customers = sum(len(p[feed.match_column]) for p in parts)
    extra = _nobody(
        seed, banks, feed, dt, max(1, round(customers * NOBODY_SHARE / (1 - NOBODY_SHARE))), scale
    )
    parts.append(_fields(feed, extra["stream"], extra["ids"], dt, extra["who"]))
    columns = [c for c in feed.file_columns if c != "record_id"]
    rows = [
        list(r) for p in parts for r in zip(*(list(np.asarray(p[c]).tolist()) for c in columns), strict=True)
    ]
    # Mixed like a real province file (not bank by bank), in a fixed order.
    order = np.argsort(
        Stream(seed, "province").bits("order:" + feed.file_name, np.arange(len(rows)), day), kind="stable"
    )
    prefix = f"{feed.provider.code[:2].upper()}{dt:%Y%m%d}"
    path = paths.province_file(dt, feed.file_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".csv.tmp")
    at = feed.file_columns.index("record_id")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(feed.file_columns)
        for number, i in enumerate(order.tolist(), start=1):
            row = rows[i]
            writer.writerow([*row[:at], f"{prefix}{number:08d}", *row[at:]])
    tmp.replace(path)
    return len(rows)
