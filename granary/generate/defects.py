"""Break a landing extract on purpose, the ways real core-system exports break, for tests.

`inject_defect` rewrites one synthetic CSV in place and says what it did, naming the data row
(1-based, as `_source_row` counts) and the column, so a test can assert exactly that outcome.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

from granary.catalog.sources import SourceContract, code_tables, contracts
from granary.pipeline.idcard import CHECK_CHARS, check_digit

DEFECT_KINDS = (
    "bad_id_check_digit",
    "duplicate_key",
    "null_key",
    "out_of_range_amount",
    "invalid_code",
    "wrong_date",
    "missing_column",
    "extra_column",
    "truncated_file",
    "empty_file",
    "wrong_encoding",
)


def inject_defect(path: Path, kind: str, *, encoding: str, seed: int = 0) -> str:
    """Rewrite `path` with one defect of `kind`; return what was done (file, row, column, values)."""
    if kind not in DEFECT_KINDS:
        raise ValueError(f"unknown defect '{kind}' (known: {', '.join(DEFECT_KINDS)})")
    path = Path(path)
    rng = random.Random(f"{seed}:{kind}:{path.name}")
    if kind == "empty_file":
        size = path.stat().st_size
        path.write_bytes(b"")
        return f"{path.name}: emptied (was {size} bytes)"
    if kind == "truncated_file":
        return _truncate(path, rng)
    if kind == "wrong_encoding":
        return _reencode(path, encoding)

    contract = _contract_of(path)
    header, rows = _read(path, encoding)
    if not rows:
        raise ValueError(f"{path}: no data rows to break")
    r = rng.randrange(len(rows))
    where = f"{path.name} data row {r + 1}"
    col = header.index

    if kind == "bad_id_check_digit":
        name = _first(contract, path, "a resident-ID column", lambda c: c.check == "resident_id")
        old = rows[r][col(name)]
        wrong = rng.choice([c for c in CHECK_CHARS if c != check_digit(old[:17])])
        rows[r][col(name)] = old[:17] + wrong
        what = f"{where}: {name} check digit {old[17]} -> {wrong} (fails ISO 7064 MOD 11-2)"
    elif kind == "duplicate_key":
        key = contract.keys[0]
        rows.insert(r + 1, list(rows[r]))
        what = f"{where} repeated as data row {r + 2}: duplicate {key}={rows[r][col(key)]}"
    elif kind == "null_key":
        key = contract.keys[0]
        old = rows[r][col(key)]
        rows[r][col(key)] = ""
        what = f"{where}: key {key} emptied (was {old})"
    elif kind == "out_of_range_amount":
        ranged = [c.name for c in contract.columns if c.range is not None]
        if not ranged:
            raise ValueError(
                f"{path}: contract {contract.table} has no column with a range; pick another table"
            )
        name = "balance" if "balance" in ranged else ranged[0]  # breaks the range and nothing else
        low, _high = contract.column(name).range  # type: ignore[misc]
        bad = f"{low - 500:.2f}"
        old, rows[r][col(name)] = rows[r][col(name)], bad
        what = f"{where}: {name} {old} -> {bad} (below range minimum {low:g})"
    elif kind == "invalid_code":
        name = _first(contract, path, "a coded column", lambda c: c.codes is not None)
        known = code_tables()[contract.column(name).codes].values  # type: ignore[index]
        bad = next(v for v in ("99", "ZZ", "XX9") if v not in known)
        old, rows[r][col(name)] = rows[r][col(name)], bad
        what = f"{where}: {name} {old} -> {bad} (not in code table {contract.column(name).codes})"
    elif kind == "wrong_date":
        name = _first(contract, path, "a required date column", lambda c: c.type == "date" and not c.nullable)
        old, rows[r][col(name)] = rows[r][col(name)], "20241345"
        what = f"{where}: {name} {old} -> 20241345 (month 13 does not exist)"
    elif kind == "missing_column":
        name = rng.choice([c for c in header if c not in contract.keys])
        drop = col(name)
        header = header[:drop] + header[drop + 1 :]
        rows = [row[:drop] + row[drop + 1 :] for row in rows]
        what = f"{path.name}: column {name} removed from header and every row"
    else:  # extra_column
        header = [*header, "remark"]
        rows = [[*row, "x"] for row in rows]
        what = f"{path.name}: column remark (not in contract {contract.table}) added to every row"
    _write(path, encoding, header, rows)
    return what


def _contract_of(path: Path) -> SourceContract:
    known = contracts()
    if path.stem not in known:
        raise ValueError(f"{path}: no source contract named '{path.stem}' (known: {', '.join(known)})")
    return known[path.stem]


def _first(contract: SourceContract, path: Path, what: str, test) -> str:
    for c in contract.columns:
        if test(c):
            return c.name
    raise ValueError(f"{path}: contract {contract.table} has no {what}; pick another table")


def _read(path: Path, encoding: str) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding=encoding, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        return header, list(reader)


def _write(path: Path, encoding: str, header: list[str], rows: list[list[str]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))


def _truncate(path: Path, rng: random.Random) -> str:
    data = path.read_bytes()
    lines = data.count(b"\n")
    if lines < 3:
        raise ValueError(f"{path}: too short to truncate meaningfully ({lines} lines)")
    cut = int(len(data) * (0.5 + 0.3 * rng.random()))
    while data[cut - 1 : cut] == b"\n" or data[cut : cut + 1] == b"\n":
        cut += 1  # land inside a line, not on its boundary
    path.write_bytes(data[:cut])
    whole = data[:cut].count(b"\n") - 1
    return f"{path.name}: cut at byte {cut} of {len(data)}; {whole} whole data rows, then a partial row"


def _reencode(path: Path, encoding: str) -> str:
    other = "gbk" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else "utf-8"
    text = path.read_bytes().decode(encoding)
    if text.isascii():
        raise ValueError(f"{path}: only ASCII text, identical in every encoding; use customer.csv")
    path.write_bytes(text.encode(other))
    return f"{path.name}: written in {other} instead of the bank's {encoding}"
