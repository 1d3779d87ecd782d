"""ODS -> DWD and quarantine: a bank's day checked against its source contracts.

Rules run in one fixed order and the first one a row breaks is the one recorded:
cast errors, not-null, pattern, resident ID check digit, code tables, range, the
contract's row rules, then duplicate keys (the lowest `_source_row` of a key is kept).
Clean rows carry standard codes and PII tokens and masks, never clear PII; quarantined
rows keep their source codes (to show what was wrong) but also carry PII only as tokens
and masks. Every day writes a reconciliation: rows in = rows clean + rows quarantined.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import date

from granary.catalog.sources import Column, SourceContract, code_tables
from granary.core import paths
from granary.core.errors import DataError
from granary.core.secrets import pii_key
from granary.core.tenants import Tenant
from granary.lake import tables
from granary.pipeline import idcard
from granary.pipeline.ingest import CAST_ERRORS, MALFORMED, SOURCE_FILE, SOURCE_ROW, source_tables
from granary.pipeline.pii import mask_column, token_column
from granary.pipeline.spark import get_session, run_per_table, spark_errors

RULE = "_rule"
DUPLICATE_KEY = "duplicate_key"
MALFORMED_ROW = "malformed_row"


@dataclass(frozen=True)
class Reconciliation:
    tenant: str
    table: str
    dt: str
    rows_in: int
    rows_clean: int
    rows_quarantined: int
    by_rule: dict[str, int]


def _broken_rules(source: SourceContract) -> list[tuple[object, object]]:
    """(broken?, rule name) pairs in the fixed order; both are Spark columns."""
    from pyspark.sql import functions as F

    cols = source.columns
    first_error = F.split(F.col(CAST_ERRORS), ",").getItem(0)
    checks: list[tuple[object, object]] = [
        (
            F.col(CAST_ERRORS).isNotNull(),
            F.when(first_error == MALFORMED, F.lit(MALFORMED_ROW)).otherwise(
                F.concat(F.lit("cast:"), first_error)
            ),
        )
    ]
    checks += [(F.col(c.name).isNull(), F.lit(f"not_null:{c.name}")) for c in cols if not c.nullable]
    checks += [
        (F.col(c.name).isNotNull() & ~F.col(c.name).rlike(c.pattern), F.lit(f"pattern:{c.name}"))
        for c in cols
        if c.pattern
    ]
    checks += [
        (F.col(c.name).isNotNull() & ~idcard.spark_valid(F.col(c.name)), F.lit(f"resident_id_check:{c.name}"))
        for c in cols
        if c.check == "resident_id"
    ]
    tables = code_tables()
    checks += [
        (
            F.col(c.name).isNotNull() & ~F.col(c.name).isin(list(tables[c.codes].values)),
            F.lit(f"code:{c.name}"),
        )
        for c in cols
        if c.codes
    ]
    checks += [
        (
            F.col(c.name).isNotNull() & ((F.col(c.name) < c.range[0]) | (F.col(c.name) > c.range[1])),
            F.lit(f"range:{c.name}"),
        )
        for c in cols
        if c.range
    ]
    # A row rule holds unless it is false; null (an empty optional field) does not break it.
    checks += [(~F.coalesce(F.expr(r.sql), F.lit(True)), F.lit(f"rule:{r.name}")) for r in source.rules]
    return checks


def with_rule(ods, source: SourceContract):
    """The ODS rows with `_rule`: the first rule each breaks, null for a clean row."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    checks = _broken_rules(source)
    first_broken = F.when(*checks[0])
    for broken, name in checks[1:]:
        first_broken = first_broken.when(broken, name)
    ruled = ods.withColumn(RULE, first_broken)
    # Dedupe among the rows that passed every other rule, keeping the first in file order.
    same_key = Window.partitionBy(*[F.col(k) for k in source.keys], F.col(RULE).isNull()).orderBy(SOURCE_ROW)
    return ruled.withColumn(
        RULE,
        F.when(F.col(RULE).isNull() & (F.row_number().over(same_key) > 1), F.lit(DUPLICATE_KEY)).otherwise(
            F.col(RULE)
        ),
    )


def _standard_code(column: Column):
    """Source code -> standard code (a boolean for yes/no tables)."""
    from pyspark.sql import functions as F

    mapping = code_tables()[column.codes].values
    value = F.col(column.name)
    standard = F.when(value == list(mapping)[0], F.lit(mapping[list(mapping)[0]]))
    for source_code, standard_code in list(mapping.items())[1:]:
        standard = standard.when(value == source_code, F.lit(standard_code))
    return standard.alias(column.name)


def _pii_columns(column: Column, key: bytes) -> list:
    from pyspark.sql import functions as F

    value = F.col(column.name)
    return [
        token_column(value, key).alias(f"{column.name}_token"),
        mask_column(value, column.pii).alias(f"{column.name}_masked"),
    ]


def dwd_rows(ruled, source: SourceContract, key: bytes):
    """Clean rows in DWD shape, one file's order: by key."""
    from pyspark.sql import functions as F

    selected = []
    for column in source.columns:
        if column.pii:
            selected += _pii_columns(column, key)
        elif column.codes:
            selected.append(_standard_code(column))
        else:
            selected.append(F.col(column.name))
    clean_rows = ruled.where(F.col(RULE).isNull()).select(*selected, F.col(SOURCE_ROW))
    return clean_rows.repartition(1).sortWithinPartitions(*source.keys)


def quarantine_rows(ruled, source: SourceContract, key: bytes):
    """Rejected rows: the ODS row with PII as token and mask, plus the rule broken; in file order."""
    from pyspark.sql import functions as F

    selected = []
    for column in source.columns:
        selected += _pii_columns(column, key) if column.pii else [F.col(column.name)]
    rejected = ruled.where(F.col(RULE).isNotNull()).select(
        *selected, SOURCE_FILE, SOURCE_ROW, CAST_ERRORS, RULE
    )
    return rejected.repartition(1).sortWithinPartitions(SOURCE_ROW)


def write_reconciliation(result: Reconciliation) -> None:
    path = paths.reconciliation_file(result.tenant, result.table, date.fromisoformat(result.dt))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(result), ensure_ascii=False, indent=2, sort_keys=False) + "\n", "utf-8")
    os.replace(tmp, path)


def clean_table(spark, tenant: Tenant, dt: date, source: SourceContract, key: bytes) -> Reconciliation:
    """One ODS day -> its DWD and quarantine days and reconciliation."""
    what = f"cleaning {tenant.code} {source.table} for {dt}"
    with spark_errors(what):
        if not spark.catalog.tableExists(tables.spark_name(tenant.code, "ods", source.table)):
            _no_ods_day(tenant, dt, source)
        ods = tables.read_day(spark, tenant.code, "ods", source.table, dt)
        ruled = with_rule(ods, source).persist()
        try:
            counts = {row[RULE]: row["count"] for row in ruled.groupBy(RULE).count().collect()}
            # An empty day is fine if ingest wrote it (an allowed empty extract); never-ingested is not.
            if not counts and not tables.day_written(tenant.code, "ods", source.table, dt):
                _no_ods_day(tenant, dt, source)
            rows_clean = counts.pop(None, 0)
            rows_quarantined = sum(counts.values())
            tables.write_day(dwd_rows(ruled, source, key), tenant.code, "dwd", source.table, dt)
            tables.write_day(quarantine_rows(ruled, source, key), tenant.code, "quarantine", source.table, dt)
        finally:
            ruled.unpersist()
    result = Reconciliation(
        tenant=tenant.code,
        table=source.table,
        dt=dt.isoformat(),
        rows_in=rows_clean + rows_quarantined,
        rows_clean=rows_clean,
        rows_quarantined=rows_quarantined,
        by_rule=dict(sorted(counts.items())),
    )
    write_reconciliation(result)
    share = rows_quarantined / result.rows_in if result.rows_in else 0.0
    if share > source.max_quarantine_share:
        worst = _worst(counts)
        raise DataError(
            f"{tenant.code} {source.table} {dt}: {rows_quarantined} of {result.rows_in} rows quarantined "
            f"({share:.1%}, over the contract's max_quarantine_share {source.max_quarantine_share:.0%}; "
            f"most broken rules: {worst}); the rows are kept in "
            f"{tables.spark_name(tenant.code, 'quarantine', source.table)} (day {dt}) with their rule. "
            "Fix the extract and rerun ingest and clean"
        )
    return result


def _no_ods_day(tenant: Tenant, dt: date, source: SourceContract) -> None:
    raise DataError(
        f"{tables.spark_name(tenant.code, 'ods', source.table)}: no ODS day {dt} for {tenant.code} "
        f"{source.table}; run `granary ingest --tenant {tenant.code} --date {dt} --source {source.table}` "
        "first"
    )


def _worst(counts: dict[str, int]) -> str:
    return ", ".join(f"{rule} {n}" for rule, n in sorted(counts.items(), key=lambda kv: -kv[1])[:3])


def clean(tenant: Tenant, dt: date, tables: list[str] | None = None) -> None:
    """Clean a bank's day: every requested source table (the bank's own extracts by default).

    A missing ODS partition does not stop the other tables; failures are raised together.
    """
    sources = source_tables(tables)
    spark = get_session()
    key = pii_key(tenant.code)
    run_per_table(
        "clean",
        tenant.code,
        sources,
        lambda source: clean_table(spark, tenant, dt, source, key),
        _clean_summary,
    )


def _clean_summary(result: Reconciliation) -> str:
    rules = ", ".join(f"{rule} {n}" for rule, n in result.by_rule.items())
    counts = f"{result.rows_clean} clean, {result.rows_quarantined} quarantined"
    return counts + (f" ({rules})" if rules else "")
