"""Reading a provider's province-level file, strictly: a malformed file fails with its name and row.

Provider files are raw deliveries: they are only read, never moved or changed. A file that is
missing means the provider has not delivered that day (routing goes on without it and says
so); a file that is there but malformed fails routing, naming the file and the row, because
routing part of a delivery would bill and load an unknown share of it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from granary.catalog.providers import Feed
from granary.core import paths
from granary.core.config import settings
from granary.core.errors import DataError

_LEFT_IN_PLACE = "the file was left in place"


@dataclass(frozen=True)
class Delivery:
    feed: Feed
    path: Path
    rows: list[list[str]]  # in feed.file_columns order


def shown(path: Path) -> str:
    """The path as operators know it (landing/_province/<dt>/<file>)."""
    root = settings().landing_root
    try:
        return f"{root.name}/{path.relative_to(root)}"
    except ValueError:
        return str(path)


def read_delivery(feed: Feed, dt: date) -> Delivery | None:
    """The provider file for `feed` on `dt`, or None if the provider has not delivered it."""
    path = paths.province_file(dt, feed.file_name)
    if not path.is_file():
        return None
    name = shown(path)
    redeliver = f"ask {feed.provider.name_zh} ({feed.provider.code}) to re-deliver it; {_LEFT_IN_PLACE}"

    def fail(reason: str) -> DataError:
        return DataError(f"{name}: {reason}; {redeliver}")

    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise fail(f"line {line} is not valid UTF-8 (provider files are UTF-8)") from None
    if not text.strip():
        raise fail("empty file (no header row)")
    if not text.endswith("\n"):
        raise fail("the last line ends without a line break: the file was cut off mid-record (truncated)")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[list[str]] = []
    try:
        header = [h.strip() for h in next(reader)]
        expected = feed.file_columns
        missing = [c for c in expected if c not in header]
        extra = [h for h in header if h not in expected]
        if missing or extra:
            raise fail(
                f"row 0 (the header) does not match contract {feed.table}.yaml: "
                f"missing columns {missing}, unexpected columns {extra}"
            )
        order = [header.index(c) for c in expected]
        match = header.index(feed.match_column)
        for number, record in enumerate(reader, start=1):
            if len(record) != len(header):
                raise fail(
                    f"row {number} (line {reader.line_num}) has {len(record)} fields, the header has "
                    f"{len(header)} (an unquoted comma or a cut record?)"
                )
            if not record[match].strip():
                raise fail(
                    f"row {number} (line {reader.line_num}): empty {feed.match_column}, the routing key"
                )
            rows.append([record[i] for i in order])
    except csv.Error as exc:
        raise fail(f"row {len(rows) + 1} (line {reader.line_num}) is not valid CSV: {exc}") from None
    return Delivery(feed, path, rows)
