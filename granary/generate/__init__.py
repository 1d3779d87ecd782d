"""Deterministic synthetic extracts of a rural bank: landing/<bank>/<dt>/<table>.csv for every
core-banking and grid-survey source table (TABLES).

Same seed, bank, day and scale give byte-identical files, whatever else is generated in the
same call: every value is a hash of (seed, bank, entity, field[, day]) — see hashrng.py.
Consecutive days agree: customers, accounts and loans persist, balances drift, a few new
customers and loans appear each day, and some loans slide further overdue. Every table refers
to the same bank: transactions post to its accounts, repayments and credit lines follow its
loans, grid-survey households are its farmer-household customers, staff are the managers its
customers name. Snapshot tables hold the day's state, event tables (transaction,
mobile_banking_activity) that day's events; each contract's description says which.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from granary.catalog.sources import contracts
from granary.core.paths import landing_file
from granary.core.tenants import Tenant
from granary.generate import customers as customer_mod
from granary.generate.bank import Bank, day_number
from granary.generate.cards import Cards
from granary.generate.credit import credit_line_rows
from granary.generate.defects import DEFECT_KINDS, inject_defect
from granary.generate.deposits import Deposits
from granary.generate.ebank import EBank
from granary.generate.grid import Grid
from granary.generate.institutions import branch_rows, staff_rows
from granary.generate.loans import Loans
from granary.generate.repayments import repayment_rows
from granary.generate.transactions import transaction_rows

__all__ = ["DEFECT_KINDS", "generate", "generate_bank", "inject_defect"]

TABLES = (
    # core banking
    "branch",
    "staff",
    "customer",
    "deposit_account",
    "transaction",
    "bank_card",
    "loan",
    "repayment",
    "credit_line",
    "mobile_banking_user",
    "mobile_banking_activity",
    # credit-village grid survey
    "grid_household",
    "grid_member",
    "grid_land",
    "grid_livestock",
    "grid_income",
    "village_credit_rating",
)


def generate(tenants: list[Tenant], dates: list[date], scale: float, seed: int) -> dict[str, dict[str, int]]:
    """Write every bank's extracts for every day; returns rows per bank and table for the last day."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    days = sorted(set(dates))
    if not days:
        return {}
    written: dict[str, dict[str, int]] = {}
    with Progress(
        TextColumn("[bold]生成 generate[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as progress:
        for tenant in tenants:
            task = progress.add_task(tenant.code, total=len(days))
            for dt, counts in generate_bank(tenant, days, scale=scale, seed=seed):
                written[tenant.code] = counts
                progress.update(task, advance=1, description=f"{tenant.code} {dt.isoformat()}")
    # Province-level provider deliveries for the same days (routed per bank later).
    from granary.generate.external import generate_provider_files

    generate_provider_files(tenants, days, scale=scale, seed=seed)
    return written


def generate_bank(
    tenant: Tenant, days: list[date], *, scale: float, seed: int
) -> Iterator[tuple[date, dict[str, int]]]:
    """Yield (day, rows per table) after writing each day's files (TABLES) for one bank."""
    bank = Bank(tenant, scale, seed)
    people = customer_mod.build(bank, day_number(max(days)))
    deposits = Deposits(bank, people)
    loans = Loans(bank, people)
    cards = Cards(bank, people)
    ebank = EBank(bank, people)
    grid = Grid(bank, people)
    fixed = {"branch": branch_rows(bank), "staff": staff_rows(bank)}
    for dt in sorted(days):
        day = day_number(dt)
        live = people.on(day)
        book = loans.book(day)
        mobile, online = ebank.mobile_customers(day)
        tables = {
            **fixed,
            "customer": {name: values[live] for name, values in people.columns.items()},
            "deposit_account": deposits.rows(day),
            "transaction": transaction_rows(bank, deposits, people.ctype, mobile, online, day),
            "bank_card": cards.rows(day),
            "loan": loans.rows(day),
            "repayment": repayment_rows(loans, book, day),
            "credit_line": credit_line_rows(bank, loans, book, grid, day),
            "mobile_banking_user": ebank.user_rows(day),
            "mobile_banking_activity": ebank.activity_rows(day),
            "grid_household": grid.household_rows(day),
            "grid_member": grid.member_rows(day),
            "grid_land": grid.land_rows(day),
            "grid_livestock": grid.livestock_rows(day),
            "grid_income": grid.income_rows(day),
            "village_credit_rating": grid.village_rows(day),
        }
        counts = {}
        for table in TABLES:
            path = landing_file(tenant.code, dt, table)
            counts[table] = write_csv(path, table, tables[table], tenant.encoding)
        yield dt, counts


def write_csv(path: Path, table: str, columns: dict[str, np.ndarray], encoding: str) -> int:
    """Write one extract in the contract's column order; a contract column we lack fails loudly."""
    names = contracts()[table].column_names
    missing = [n for n in names if n not in columns]
    extra = [n for n in columns if n not in names]
    if missing or extra:
        raise RuntimeError(
            f"generator out of step with contract {table}.yaml: missing {missing}, not in contract {extra}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = zip(*(columns[n].tolist() for n in names), strict=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(rows)
    tmp.replace(path)
    return len(columns[names[0]])
