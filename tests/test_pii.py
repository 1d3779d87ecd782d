"""PII tokens and masks: the Python reference, and Spark SQL computing exactly the same."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from granary.pipeline import pii

VALUES = [
    "34112219800101001X",
    "13800138000",
    "张三",
    "欧阳娜娜",
    "安徽省河西县城关镇幸福村12号",
    "",
    "a",
    "x" * 200,  # longer than one SHA-256 block
]
KEYS = [
    bytes.fromhex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"),  # 32 bytes, as issued
    b"k" * 100,  # longer than a block: HMAC hashes it first
]


def test_reference_token_is_hmac_sha256() -> None:
    key = KEYS[0]
    assert pii.token(key, "13800138000") == hmac.new(key, b"13800138000", hashlib.sha256).hexdigest()
    assert pii.token(key, None) is None
    assert pii.token(key, "13800138000") != pii.token(KEYS[1], "13800138000")


@pytest.mark.parametrize(
    ("kind", "value", "masked"),
    [
        ("resident_id", "34112219800101001X", "341***********001X"),
        ("phone", "13800138000", "138****8000"),
        ("name", "张三", "张*"),
        ("name", "欧阳娜娜", "欧***"),
        ("address", "安徽省河西县城关镇幸福村12号", "安徽省河西县****"),
        ("phone", "12345", "*****"),  # too short to show any of it
        ("name", None, None),
    ],
)
def test_reference_masks(kind: str, value: str | None, masked: str | None) -> None:
    assert pii.mask(kind, value) == masked


@pytest.mark.slow
def test_spark_tokens_and_masks_equal_python(spark) -> None:
    from pyspark.sql import functions as F

    rows = [(v,) for v in VALUES] + [(None,)]
    frame = spark.createDataFrame(rows, "value string")
    selected = [F.col("value")]
    for i, key in enumerate(KEYS):
        selected.append(pii.token_column(F.col("value"), key).alias(f"token_{i}"))
    for kind in pii.MASKS:
        selected.append(pii.mask_column(F.col("value"), kind).alias(f"mask_{kind}"))
    got = frame.select(*selected).collect()
    assert len(got) == len(rows)
    for row in got:
        value = row["value"]
        for i, key in enumerate(KEYS):
            expected = None if value is None else hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
            assert row[f"token_{i}"] == expected, (value, i)
        for kind in pii.MASKS:
            assert row[f"mask_{kind}"] == pii.mask(kind, value), (value, kind)
