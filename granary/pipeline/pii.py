"""PII tokens and masks: the Python reference and the same in Spark SQL.

A token is hex HMAC-SHA256 of the UTF-8 value under the bank's key, so the same person
gets the same token every day and a token cannot be reversed without the key. Spark
computes it with built-in functions only (no Python UDF): HMAC is
sha256((K ^ opad) || sha256((K ^ ipad) || m)), and the two padded keys are fixed per bank,
so they are computed here once and enter the plan as binary literals.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column

SHA256_BLOCK = 64
MASKS = {
    # kind: (clear chars kept at the start, fixed stars or None for one per hidden char, kept at the end).
    # An address keeps only its head (township level) behind a fixed tail of stars.
    "resident_id": (3, 11, 4),
    "phone": (3, 4, 4),
    "name": (1, None, 0),
    "address": (6, 4, 0),
}


def token(key: bytes, value: str | None) -> str | None:
    """The reference token: hex HMAC-SHA256 of the UTF-8 value."""
    if value is None:
        return None
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def mask(kind: str, value: str | None) -> str | None:
    """The masked form a bank user may see, e.g. 340***********1234 for a resident ID."""
    if value is None:
        return None
    head, stars, tail = MASKS[kind]
    if len(value) <= head + tail:  # too short to show anything safely
        return "*" * len(value)
    hidden = "*" * (len(value) - head - tail if stars is None else stars)
    keep_tail = value[-tail:] if tail else ""
    return value[:head] + hidden + keep_tail


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """(K ^ ipad, K ^ opad) for HMAC-SHA256, as RFC 2104 defines them."""
    if len(key) > SHA256_BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(SHA256_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def token_column(value: Column, key: bytes) -> Column:
    """Spark column equal to `token(key, value)` for every row (null stays null)."""
    from pyspark.sql import functions as F

    inner_pad, outer_pad = hmac_pads(key)
    inner = F.sha2(F.concat(F.lit(inner_pad), F.encode(value, "UTF-8")), 256)
    return F.sha2(F.concat(F.lit(outer_pad), F.unhex(inner)), 256)


def mask_column(value: Column, kind: str) -> Column:
    """Spark column equal to `mask(kind, value)` for every row."""
    from pyspark.sql import functions as F

    head, stars, tail = MASKS[kind]
    length = F.length(value)
    keep_head = F.substring(value, 1, head)
    keep_tail = F.substring(value, -tail, tail) if tail else F.lit("")
    hidden = F.repeat(F.lit("*"), length - head - tail) if stars is None else F.lit("*" * stars)
    masked = F.concat(keep_head, hidden, keep_tail)
    return F.when(length <= head + tail, F.repeat(F.lit("*"), length)).otherwise(masked)
