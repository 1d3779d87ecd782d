"""Chinese resident identity numbers (GB 11643-1999): build them, check them.

An 18-character number is: 6-digit county code, birth date yyyyMMdd, 3-digit sequence (odd for
men, even for women), and an ISO 7064 MOD 11-2 check character ('0'-'9' or 'X').
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np

WEIGHTS: tuple[int, ...] = tuple(2 ** (17 - i) % 11 for i in range(17))  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
CHECK_CHARS = "10X98765432"  # indexed by (weighted sum mod 11)

_SHAPE = re.compile(r"^\d{17}[\dX]$")


def check_digit(first17: str) -> str:
    """The check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError(f"need 17 digits, got '{first17}'")
    return CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]


def check_digits(first17: np.ndarray) -> np.ndarray:
    """Vectorised check_digit over an array of 17-digit strings."""
    digits = np.frombuffer(np.asarray(first17, dtype="S17").tobytes(), dtype=np.uint8)
    digits = digits.reshape(-1, 17).astype(np.int64) - ord("0")
    sums = digits @ np.asarray(WEIGHTS, dtype=np.int64)
    return np.asarray(list(CHECK_CHARS))[sums % 11]


def make_id(county_code: str, birth: date, sequence: int) -> str:
    """County code + birth date + 3-digit sequence + check character."""
    first17 = f"{county_code}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_digit(first17)


def birth_date_of(id_number: str) -> date | None:
    try:
        return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None


def gender_of(id_number: str) -> str:
    """'1' male (odd sequence) or '2' female (even), the code used by the customer contract."""
    return "1" if int(id_number[16]) % 2 else "2"


def is_valid(id_number: str | None) -> bool:
    """Shape, a real birth date, and the right check character."""
    if not id_number or not _SHAPE.match(id_number):
        return False
    if birth_date_of(id_number) is None:
        return False
    return check_digit(id_number[:17]) == id_number[17]


def sql_check_expr(column: str) -> str:
    """A boolean SQL expression, valid in Spark SQL and DuckDB, true when the check character is right.

    Shape and birth date are separate rules (pattern / cast); this is only the MOD 11-2 check.
    """
    terms = " + ".join(f"cast(substr({column}, {i + 1}, 1) as int) * {w}" for i, w in enumerate(WEIGHTS))
    return f"(substr('{CHECK_CHARS}', (({terms}) % 11) + 1, 1) = substr({column}, 18, 1))"


def spark_valid(value):  # Column -> Column
    """Spark: true if the value is 18 chars, 17 digits and the right check character."""
    from pyspark.sql import functions as F

    # ascii(d) - 48 is the digit's value and, unlike a cast, never fails under ANSI mode.
    total = sum((F.ascii(F.substring(value, i + 1, 1)) - 48) * w for i, w in enumerate(WEIGHTS))
    expected = F.substring(F.lit(CHECK_CHARS), F.pmod(total, F.lit(11)) + 1, 1)
    return (
        (F.length(value) == 18)
        & F.substring(value, 1, 17).rlike("^[0-9]{17}$")
        & (F.upper(F.substring(value, 18, 1)) == expected)
    )
