"""Landing CSV -> the ODS lake table: one bank's day, typed to the source contract, with lineage.

The raw file is only read, never moved or changed. Before Spark touches it, a cheap pass in
Python checks what makes a whole file unusable (missing, empty, wrong header, wrong
encoding, cut off mid-record) and fails it with a message naming the file and what to do.
A truncated file fails as a whole rather than losing its last row quietly: each extract is
a full snapshot, so a cut file is missing an unknown number of rows, not one.
Row-level problems go on: a value that does not cast becomes null and is listed in
`_cast_errors`; a record whose field count differs from the header (an unquoted comma)
is kept with `_row` in `_cast_errors`, and cleaning quarantines it.
"""

from __future__ import annotations

import codecs
import csv
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from granary.catalog.sources import Column, SourceContract, contract, contracts, tables_of
from granary.core import paths
from granary.core.config import settings
from granary.core.errors import DataError, EngineError
from granary.core.tenants import Tenant
from granary.lake import tables
from granary.pipeline.spark import get_session, run_per_table, spark_errors

SOURCE_FILE, SOURCE_ROW, CAST_ERRORS = "_source_file", "_source_row", "_cast_errors"
MALFORMED = "_row"  # in _cast_errors: the record's field count differs from the header
_CORRUPT = "_corrupt_record"
_CHUNK = 1 << 20
_LEFT_IN_PLACE = "the file was left in place"
_UTF8_INSTEAD = "the file is UTF-8 but this bank exports {encoding}; ask for a re-export in {encoding}"


@dataclass(frozen=True)
class IngestResult:
    table: str
    rows: int
    malformed: int
    with_cast_errors: int


def source_tables(tables: list[str] | None) -> list[SourceContract]:
    """The contracts for the requested tables; unknown names are a DataError.

    None means the bank's own extracts (`origin: bank`); the tables routed from external
    providers (`origin: external`) only exist after routing and are asked for by name.
    """
    known = contracts()
    unknown = [t for t in tables or [] if t not in known]
    if unknown:
        raise DataError(f"unknown source table(s) {unknown}; known: {', '.join(known)}")
    if tables:
        return [contract(t) for t in tables]
    return [known[t] for t in tables_of("bank")]


def display_path(path: Path) -> str:
    """The path as operators know it (landing/<bank>/<day>/<table>.csv)."""
    root = settings().landing_root
    try:
        return f"{root.name}/{path.relative_to(root)}"
    except ValueError:
        return str(path)


def check_landing_file(path: Path, source: SourceContract, encoding: str) -> list[str]:
    """Fail a file that cannot be ingested as a whole; returns its header (column names in file order)."""
    shown = display_path(path)

    def fail(reason: str) -> DataError:
        return DataError(f"{shown}: {reason}; {_LEFT_IN_PLACE}")

    if not path.is_file():
        raise fail("no such file; the extract has not arrived — check the transfer from the core system")
    if not os.access(path, os.R_OK):
        raise fail("the file is not readable by this user; fix its permissions")
    if path.stat().st_size == 0:
        raise fail("empty file (0 bytes); ask the core system for a re-export")
    with path.open("rb") as fh:
        first_line = fh.readline()
    try:
        header_text = first_line.decode("utf-8-sig" if encoding == "utf-8" else encoding)
    except UnicodeDecodeError:
        raise fail(f"the header row is not readable as {encoding}; check the export encoding") from None
    header = next(csv.reader([header_text]), [])
    header = [h.strip() for h in header]
    if not any(header):
        raise fail("no header row (the first line is blank); ask the core system for a re-export")
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise fail(f"duplicate columns {duplicated} in the header; ask the core system for a re-export")
    missing = [c for c in source.column_names if c not in header]
    extra = [h for h in header if h not in source.column_names]
    if missing:
        raise fail(
            f"missing columns {missing}; the extract is incomplete — ask the core system for a full re-export"
        )
    if extra:
        raise fail(
            f"unexpected columns {extra} not in the contract "
            f"granary/catalog/sources/{source.table}.yaml; fix the export or change the contract"
        )
    _check_body(path, encoding, fail, source.allow_empty)
    return header


def _check_body(path: Path, encoding: str, fail, allow_empty: bool = False) -> None:  # fail -> DataError
    """Decode the whole file strictly, and check it ends with a line break (not cut off)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    utf8 = codecs.getincrementaldecoder("utf-8")("strict")
    could_be_utf8, non_ascii = encoding != "utf-8", False
    lines, last = 0, b""
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                if encoding != "utf-8" and _is_utf8(path):
                    raise fail(_UTF8_INSTEAD.format(encoding=encoding)) from None
                line = lines + chunk[: exc.start].count(b"\n") + 1
                raise fail(
                    f"line {line} is not valid {encoding} (the bank's export encoding); "
                    "ask the core system to re-export in that encoding"
                ) from None
            if could_be_utf8:
                non_ascii = non_ascii or not chunk.isascii()
                try:
                    utf8.decode(chunk)
                except UnicodeDecodeError:
                    could_be_utf8 = False
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    # GBK text with Chinese in it is practically never valid UTF-8: a file that is, was exported in UTF-8.
    if could_be_utf8 and non_ascii:
        raise fail(_UTF8_INSTEAD.format(encoding=encoding))
    if last != b"\n":
        raise fail(
            f"the last line (line {lines + 1}) ends without a line break: the file was cut off "
            "mid-record (truncated transfer); ask the core system for a re-export"
        )
    if lines < 2 and not allow_empty:
        raise fail("a header but no data rows; a full snapshot cannot be empty — ask for a re-export")


def _is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _typed(raw, column: Column):
    """(typed value, cast failed) for one contract column; a failed cast gives null, never an error."""
    from pyspark.sql import functions as F

    if column.type == "string":
        return raw, None
    text = F.trim(raw)
    if column.type == "date":
        typed = F.try_to_date(text, column.format or "yyyy-MM-dd")
    elif column.type == "timestamp" and column.format:
        typed = F.try_to_timestamp(text, F.lit(column.format))
    else:
        typed = text.try_cast(column.type)
    return typed, F.when(raw.isNotNull() & typed.isNull(), F.lit(column.name))


def ingest_table(spark, tenant: Tenant, dt: date, source: SourceContract) -> IngestResult:
    """One landing file -> one ODS partition (replacing that day only)."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    path = paths.landing_file(tenant.code, dt, source.table)
    header = check_landing_file(path, source, tenant.encoding)
    schema = StructType([StructField(name, StringType()) for name in [*header, _CORRUPT]])
    raw = (
        spark.read.schema(schema)
        .option("header", True)
        .option("encoding", tenant.encoding)
        # multiLine: quoted fields may hold line breaks, and the file is read as one
        # partition, so monotonically_increasing_id() counts data rows 0, 1, 2, …
        .option("multiLine", True)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", _CORRUPT)
        .csv(str(path.resolve()))
    )
    typed_columns, failures = [], [F.when(F.col(_CORRUPT).isNotNull(), F.lit(MALFORMED))]
    for column in source.columns:
        typed, failed = _typed(F.col(column.name), column)
        typed_columns.append(typed.alias(column.name))
        if failed is not None:
            failures.append(failed)
    cast_errors = F.concat_ws(",", *failures)
    ods = raw.select(
        *typed_columns,
        F.lit(display_path(path)).alias(SOURCE_FILE),
        (F.monotonically_increasing_id() + 1).alias(SOURCE_ROW),
        F.when(cast_errors != "", cast_errors).alias(CAST_ERRORS),
    )
    measures = (
        F.count(F.lit(1)).alias("rows"),
        F.max(SOURCE_ROW).alias("last_row"),
        F.count(F.when(F.col(CAST_ERRORS).startswith(MALFORMED), 1)).alias("malformed"),
        F.count(CAST_ERRORS).alias("with_cast_errors"),
    )
    stats = Observation(f"ingest_{source.table}")
    pii = [c.name for c in source.columns if c.pii]
    with spark_errors(f"writing {tenant.code} ODS {source.table} for {dt}"):
        tables.write_day(ods.observe(stats, *measures), tenant.code, "ods", source.table, dt, pii=pii)
        metrics = stats.get
        if "rows" not in metrics:
            # A loaded Connect server may answer the write before its listener has the observed
            # metrics: count the day as committed instead (one more job, only then).
            written = tables.read_day(spark, tenant.code, "ods", source.table, dt)
            metrics = written.agg(*measures).first().asDict()
    if metrics["rows"] and metrics["last_row"] != metrics["rows"]:
        # Row numbers are only right if Spark read the file as one partition.
        raise EngineError(
            f"{display_path(path)}: row numbering broke ({metrics['rows']} rows, last row number "
            f"{metrics['last_row']}); the day {dt} of {tables.spark_name(tenant.code, 'ods', source.table)} "
            "is unreliable"
        )
    return IngestResult(source.table, metrics["rows"], metrics["malformed"], metrics["with_cast_errors"])


def ingest(tenant: Tenant, dt: date, tables: list[str] | None = None) -> None:
    """Ingest a bank's day: every requested source table (the bank's own extracts by default).

    A bad file does not stop the other tables; their failures are raised together at the end.
    """
    sources = source_tables(tables)
    spark = get_session()
    spark.conf.set("spark.sql.legacy.javaCharsets", "true")  # GBK, also on a server not started here
    run_per_table(
        "ingest",
        tenant.code,
        sources,
        lambda source: ingest_table(spark, tenant, dt, source),
        _ingest_summary,
    )


def _ingest_summary(result: IngestResult) -> str:
    note = f", {result.malformed} malformed" if result.malformed else ""
    return f"{result.rows} rows ({result.with_cast_errors} with cast errors{note})"
