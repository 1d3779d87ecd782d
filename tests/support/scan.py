"""Reading every string out of the lake's files, whatever their format (PII and erasure scans)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def avro_strings(file: Path) -> Iterator[str]:
    """Every string of an Avro file: its header metadata and every string or binary (as UTF-8) value.

    Not the header's snapshot ids (`snapshot-id`, `parent-snapshot-id`: Iceberg's random numbers,
    which can look like anything made of digits, an ID number included)."""
    from pyiceberg.avro.file import AvroFile
    from pyiceberg.io.pyarrow import PyArrowFileIO

    with AvroFile(PyArrowFileIO().new_input(str(file.resolve()))) as avro:
        header = {k: v for k, v in dict(avro.header.meta).items() if not k.endswith("snapshot-id")}
        yield from nested_strings(header)
        for record in avro:
            yield from nested_strings(record)


def nested_strings(value: object) -> Iterator[str]:
    from pyiceberg.typedef import Record

    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("utf-8", errors="replace")
    elif isinstance(value, Record):
        for i in range(len(value)):
            yield from nested_strings(value[i])
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from nested_strings(key)
            yield from nested_strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from nested_strings(item)


def file_strings(file: Path) -> Iterator[str]:
    """Every string a file holds, decoded: Parquet's string columns, Avro's strings and bytes
    (Iceberg manifests: column bounds included), and the raw bytes as text (any format)."""
    if file.suffix == ".parquet":
        table = pq.read_table(file)
        for column in table.columns:
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                yield from (v for v in column.to_pylist() if v)
    elif file.suffix == ".avro":
        yield from avro_strings(file)
    yield file.read_bytes().decode("utf-8", errors="replace")
