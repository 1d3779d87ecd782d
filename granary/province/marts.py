"""The province ops marts for one business day: `granary ops refresh --date D`.

Per bank and day, from the records every step already leaves behind: how the bank's DAG run
ended (ops.dag_run), what business day the bank serves (its publish_info; ops.publish_log for
the day's publish), its quality results (paths.quality_dir), its quarantined rows per table and
rule (paths.reconciliation_file) and its external data usage (the ledger) and monthly bill. The
tables are defined in granary.province.ops; a refresh replaces the day's rows of the banks it covers, in
one transaction. A bank with nothing for the day is a row saying so, never an error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql
from rich.console import Console
from rich.progress import Progress

from granary.alerts.notify import DayStatus, day_status
from granary.catalog.sources import contracts, tables_of
from granary.core import paths
from granary.core.errors import DataError, EngineError
from granary.core.postgres import admin_connect, province_database, serving_database
from granary.core.tenants import Tenant
from granary.lake import tables
from granary.province import ops

console = Console(stderr=True)

DAG_STATE_ZH = {"success": "成功", "failed": "失败", "not_run": "未运行"}
NO_RULE = "—"  # mart_quarantine's rule for a table none of whose rows was quarantined
STATUS_ZH = {"ok": "正常", "behind": "滞后", "failed": "失败", "missing": "缺数据"}


@dataclass
class BankDay:
    """One row of ops.mart_bank_day while it is being built: the columns ops.MARTS states, with the
    value of a bank-day with nothing recorded (tests/test_ops_refresh.py checks they agree)."""

    tenant: str
    bank_zh: str
    dt: date
    status: str = "missing"
    status_zh: str = STATUS_ZH["missing"]
    landing_files: int = 0
    landing_expected: int = 0
    dag_state: str = "not_run"
    dag_state_zh: str = DAG_STATE_ZH["not_run"]
    dag_runs: int = 0
    failed_task: str | None = None
    reason: str | None = None
    publish_status: str | None = None
    serving_dt: date | None = None
    published_at: datetime | None = None
    lag_days: int | None = None
    quality_expectations: int | None = None
    quality_failed: int | None = None
    rows_in: int | None = None
    rows_quarantined: int | None = None
    external_records: int | None = None
    external_amount: Decimal | None = None
    lake_bytes: int | None = None
    lake_day_bytes: int | None = None
    serving_bytes: int | None = None
    lake_tables: int | None = None
    lake_snapshots: int | None = None
    lake_files: int | None = None
    lake_compacted_at: datetime | None = None
    deadline_at: datetime | None = None
    first_published_at: datetime | None = None
    on_time: bool | None = None


@dataclass
class BankMarts:
    day: BankDay
    quality: list[tuple] = field(default_factory=list)
    quarantine: list[tuple] = field(default_factory=list)
    usage: list[tuple] = field(default_factory=list)


def refresh(tenants: Iterable[Tenant], dt: date) -> list[BankDay]:
    """Rebuild the ops marts of `dt` for these banks (idempotent); returns the bank-day rows."""
    tenants = list(tenants)
    titles = {table: c.title_zh for table, c in contracts().items()}
    bank_tables = tables_of("bank")
    try:
        with admin_connect(province_database(), autocommit=True) as conn:
            ops.ensure_schema(conn)
            runs = _dag_runs(conn, tenants, dt)
            publishes = _publishes(conn, tenants, dt)
            sizes = _database_sizes(conn, tenants)
        due = {d.tenant.code: d for d in day_status(tenants, dt)}  # the alerts' own reading of deadlines
    except psycopg.Error as exc:
        raise EngineError(
            f"province database {province_database()}: {exc}; run `granary serving init` first"
        ) from exc
    built: list[BankMarts] = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"ops refresh {dt}", total=len(tenants))
        for tenant in tenants:
            progress.update(task, description=f"ops refresh {dt}: {tenant.code}")
            marts = BankMarts(BankDay(tenant.code, tenant.name_zh, dt, landing_expected=len(bank_tables)))
            _landing(marts, tenant, dt, bank_tables)
            _dag(marts, runs.get(tenant.code, []))
            _freshness(marts, tenant, dt, tenant.code in sizes, publishes.get(tenant.code))
            _quality(marts, tenant, dt, titles)
            _quarantine(marts, tenant, dt, titles)
            _usage(marts, tenant, dt)
            _storage(marts, tenant, dt, sizes.get(tenant.code))
            _deadline(marts, due[tenant.code])
            _status(marts.day)
            built.append(marts)
            progress.advance(task)
        progress.update(task, description=f"ops refresh {dt}: monthly bill")
        bill = _bill(tenants, dt)
        progress.update(task, description=f"ops refresh {dt}: writing the marts")
        _write(tenants, dt, built, bill)
    return [m.day for m in built]


# --- reading the sources ---------------------------------------------------------------------


def _dag_runs(conn: psycopg.Connection, tenants: list[Tenant], dt: date) -> dict[str, list[tuple]]:
    """(state, failed_task, reason) of every recorded run for dt, latest first, per bank."""
    rows = conn.execute(
        "select tenant, state, failed_task, reason from ops.dag_run"
        " where dt = %s and tenant = any(%s) order by recorded_at desc",
        (dt, [t.code for t in tenants]),
    ).fetchall()
    out: dict[str, list[tuple]] = {}
    for tenant, *rest in rows:
        out.setdefault(tenant, []).append(tuple(rest))
    return out


def _publishes(conn: psycopg.Connection, tenants: list[Tenant], dt: date) -> dict[str, str]:
    """The status of each bank's latest publish of dt (ops.publish_log)."""
    rows = conn.execute(
        "select distinct on (tenant) tenant, status from ops.publish_log"
        " where dt = %s and tenant = any(%s) order by tenant, started_at desc, id desc",
        (dt, [t.code for t in tenants]),
    ).fetchall()
    return dict(rows)


def _database_sizes(conn: psycopg.Connection, tenants: list[Tenant]) -> dict[str, int]:
    """Bank code -> the size of its serving database, for the banks that have one (the others have
    never been set up, or were removed)."""
    names = {serving_database(t): t.code for t in tenants}
    found = conn.execute(
        "select datname, pg_database_size(datname) from pg_database where datname = any(%s)", (list(names),)
    ).fetchall()
    return {names[n]: size for n, size in found}


def _landing(marts: BankMarts, tenant: Tenant, dt: date, bank_tables: list[str]) -> None:
    folder = paths.landing_dir(tenant.code, dt)
    present = {p.stem for p in folder.iterdir()} if folder.is_dir() else set()
    marts.day.landing_files = len(present & set(bank_tables))


def _dag(marts: BankMarts, runs: list[tuple]) -> None:
    day = marts.day
    day.dag_runs = len(runs)
    if runs:
        state, failed_task, reason = runs[0]
        day.dag_state, day.failed_task, day.reason = state, failed_task, reason
    day.dag_state_zh = DAG_STATE_ZH.get(day.dag_state, day.dag_state)


def _freshness(marts: BankMarts, tenant: Tenant, dt: date, has_db: bool, publish: str | None) -> None:
    """What the bank's database serves, read from its publish_info (the truth readers see)."""
    day = marts.day
    day.publish_status = publish
    if not has_db:
        return
    try:
        with admin_connect(serving_database(tenant)) as conn:
            day.serving_dt, day.published_at = conn.execute(
                sql.SQL("select max(dt), max(published_at) from {}").format(
                    sql.Identifier(tenant.serving_schema, "publish_info")
                )
            ).fetchone()
    except psycopg.errors.UndefinedTable:
        return  # database set up, nothing published yet
    if day.serving_dt is not None:
        day.lag_days = (dt - day.serving_dt).days


def _storage(marts: BankMarts, tenant: Tenant, dt: date, serving_bytes: int | None) -> None:
    """The bank's lake size, what the day's data added to it (its tables' files of the day, and its
    day folders: DWS history, quality, reconciliation), and its serving database's size."""
    lake = paths.lake_dir(tenant.code)
    if lake.is_dir():
        files = [(p, p.stat().st_size) for p in lake.rglob("*") if p.is_file()]
        marts.day.lake_bytes = sum(size for _, size in files)
        day_folders = sum(size for p, size in files if f"dt={dt.isoformat()}" in p.parts)
        marts.day.lake_day_bytes = day_folders + tables.day_bytes(tenant.code, dt)
    stats = tables.stats(tenant.code)
    marts.day.lake_tables, marts.day.lake_snapshots = stats.tables, stats.snapshots
    marts.day.lake_files, marts.day.lake_compacted_at = stats.files, stats.compacted_at
    marts.day.serving_bytes = serving_bytes


def _deadline(marts: BankMarts, status: DayStatus) -> None:
    """The bank's publish deadline for dt and whether it was met (null while neither published nor due)."""
    day = marts.day
    day.deadline_at, day.first_published_at = status.due, status.published_at
    if status.published_at is not None or datetime.now(UTC) > status.due:
        day.on_time = status.on_time


def _read_json(path) -> Any:  # noqa: ANN001 - a Path
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: unreadable ({exc}); rerun the step that writes it for the bank") from exc


def _quality(marts: BankMarts, tenant: Tenant, dt: date, titles: dict[str, str]) -> None:
    """The bank's Great Expectations results for dt, per table (validate.py writes results.json)."""
    results = paths.quality_dir(tenant.code, dt) / "results.json"
    if not results.is_file():
        return
    by_table: dict[str, list[dict]] = {}
    for row in _read_json(results):
        by_table.setdefault(row["table_name"], []).append(row)
    for table, rows in sorted(by_table.items()):
        failed = [r for r in rows if not r["success"]]
        text = "; ".join(
            f"{r['expectation']}({r['column_name']}) {r['unexpected_count']} unexpected" for r in failed
        )
        marts.quality.append(
            (table, titles.get(table, table), len(rows), len(failed), rows[0]["rows_checked"], text or None)
        )
    marts.day.quality_expectations = sum(q[2] for q in marts.quality)
    marts.day.quality_failed = sum(q[3] for q in marts.quality)


def _quarantine(marts: BankMarts, tenant: Tenant, dt: date, titles: dict[str, str]) -> None:
    """Rows in and quarantined per table and rule, from the day's reconciliation files."""
    folder = paths.reconciliation_file(tenant.code, "_", dt).parent
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        return
    rows_in = quarantined = 0
    for path in files:
        recon = _read_json(path)
        rows_in += int(recon["rows_in"])
        quarantined += int(recon["rows_quarantined"])
        broken = {rule: int(n) for rule, n in recon["by_rule"].items() if n}
        # A table with nothing quarantined is a row too: the view shows every table was checked.
        for rule, n in sorted(broken.items()) or [(NO_RULE, 0)]:
            marts.quarantine.append((path.stem, titles.get(path.stem, path.stem), rule, n))
    marts.day.rows_in, marts.day.rows_quarantined = rows_in, quarantined


def _feeds() -> dict[tuple[str, str], Any]:
    from granary.catalog.providers import feeds

    return {(f.provider.code, f.product.code): f for f in feeds()}


def _usage(marts: BankMarts, tenant: Tenant, dt: date) -> None:
    """The bank's metered external data for dt (its ledger rows; none if it was not routed)."""
    from granary.province.ledger import ledger_rows

    catalog = _feeds()
    for row in ledger_rows(tenant.code, dt):
        feed = catalog.get((row["provider"], row["product"]))
        marts.usage.append(
            (
                row["provider"],
                feed.provider.name_zh if feed else row["provider"],
                row["product"],
                feed.product.name_zh if feed else row["product"],
                feed.kind_zh if feed else row["kind"],
                int(row["records"]),
                row["unit_price"],
                row["amount"],
                bool(row["delivered"]),
            )
        )
    marts.day.external_records = sum(u[5] for u in marts.usage)
    marts.day.external_amount = sum((u[7] for u in marts.usage), Decimal("0.00"))


def _bill(tenants: list[Tenant], dt: date) -> list[tuple]:
    """This month's bill to date, per bank x provider x product (granary.province.ledger)."""
    from granary.province.ledger import monthly_bill

    names = {t.code: t.name_zh for t in tenants}
    catalog = _feeds()
    month = f"{dt:%Y-%m}"
    out = []
    for line in monthly_bill(month).lines:
        if line.bank not in names:
            continue
        feed = catalog.get((line.provider, line.product))
        out.append(
            (
                line.bank,
                names[line.bank],
                month,
                line.provider,
                feed.provider.name_zh if feed else line.provider,
                line.product,
                feed.product.name_zh if feed else line.product,
                feed.kind_zh if feed else line.kind,
                line.unit_price,
                line.days,
                line.records,
                line.amount,
            )
        )
    return out


def _status(day: BankDay) -> None:
    """One word per bank and day: failed beats behind beats missing; ok means dt is served."""
    failed = day.dag_state == "failed" or bool(day.quality_failed) or day.publish_status == "failed"
    if failed:
        day.status = "failed"
    elif day.serving_dt is not None and day.serving_dt >= day.dt:
        day.status = "ok"
    elif day.landing_files == 0:
        day.status = "missing"
    else:
        day.status = "behind"
    day.status_zh = STATUS_ZH[day.status]


# --- writing the marts -----------------------------------------------------------------------


def _write(tenants: list[Tenant], dt: date, built: list[BankMarts], bill: list[tuple]) -> None:
    codes = [t.code for t in tenants]
    head = lambda m: (m.day.tenant, m.day.bank_zh, m.day.dt)  # noqa: E731
    rows = {
        "mart_bank_day": [
            tuple(getattr(m.day, c) for c in ops.MARTS["mart_bank_day"].written) for m in built
        ],
        "mart_quality": [head(m) + q for m in built for q in m.quality],
        "mart_quarantine": [head(m) + q for m in built for q in m.quarantine],
        "mart_external_usage": [head(m) + u for m in built for u in m.usage],
        "mart_external_bill": bill,
    }
    with admin_connect(province_database()) as conn, conn.transaction():
        for table in ("mart_bank_day", "mart_quality", "mart_quarantine", "mart_external_usage"):
            conn.execute(
                sql.SQL("delete from {} where dt = %s and tenant = any(%s)").format(
                    sql.Identifier("ops", table)
                ),
                (dt, codes),
            )
        conn.execute(
            "delete from ops.mart_external_bill where month = %s and tenant = any(%s)", (f"{dt:%Y-%m}", codes)
        )
        with conn.cursor() as cur:
            for table, values in rows.items():
                if values:
                    cur.executemany(_insert(ops.MARTS[table]), values)


def _insert(table: ops.MartTable) -> sql.Composed:
    return sql.SQL("insert into {} ({}) values ({})").format(
        sql.Identifier("ops", table.name),
        sql.SQL(", ").join(map(sql.Identifier, table.written)),
        sql.SQL(", ").join(sql.Placeholder() * len(table.written)),
    )
