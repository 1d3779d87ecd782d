"""Resident ID numbers: ISO 7064 MOD 11-2 check characters, in Python and as SQL."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pytest

from granary.pipeline import idcard

# Published specimen numbers (GB 11643 examples), not real people.
VALID = ["11010519491231002X", "440524188001010014"]


@pytest.mark.parametrize("number", VALID)
def test_specimens_are_valid(number: str) -> None:
    assert idcard.is_valid(number)


def test_every_wrong_check_character_is_rejected() -> None:
    first17 = "34102119850227747"
    right = idcard.check_digit(first17)
    for c in idcard.CHECK_CHARS:
        assert idcard.is_valid(first17 + c) == (c == right)


@pytest.mark.parametrize(
    "number",
    [
        "",
        None,
        "11010519491231002",  # 17 characters
        "11010519491231002XX",  # 19
        "11010519491231002x",  # lower-case x is not the standard form
        "1101051949123100AX",
        "110105194913310020",  # month 13 (check digit otherwise right)
    ],
)
def test_malformed_numbers_are_rejected(number: str | None) -> None:
    assert not idcard.is_valid(number)


def test_make_id_round_trips_birth_and_gender() -> None:
    number = idcard.make_id("341021", date(1972, 2, 29), 37)
    assert idcard.is_valid(number)
    assert number.startswith("34102119720229037")
    assert idcard.birth_date_of(number) == date(1972, 2, 29)
    assert idcard.gender_of(number) == "1"
    assert idcard.gender_of(idcard.make_id("341021", date(1980, 1, 1), 38)) == "2"


def test_vectorised_check_digits_match_scalar() -> None:
    rng = np.random.default_rng(0)
    first17 = np.asarray(["".join(map(str, rng.integers(0, 10, 17))) for _ in range(500)])
    expected = [idcard.check_digit(x) for x in first17]
    assert idcard.check_digits(first17).tolist() == expected
    assert set(expected) >= {"X", "0"}  # both ends of the table are exercised


def test_sql_expression_agrees_with_python_in_duckdb() -> None:
    rng = np.random.default_rng(1)
    numbers = []
    for _ in range(300):
        first17 = "".join(map(str, rng.integers(0, 10, 17)))
        right = idcard.check_digit(first17)
        numbers.append(first17 + (right if rng.random() < 0.5 else rng.choice(list(idcard.CHECK_CHARS))))
    con = duckdb.connect()
    con.execute("create table ids (id_number varchar)")
    con.executemany("insert into ids values (?)", [(n,) for n in numbers])
    got = con.execute(f"select id_number, {idcard.sql_check_expr('id_number')} from ids").fetchall()
    assert {n: ok for n, ok in got} == {n: idcard.check_digit(n[:17]) == n[17] for n in numbers}
    assert any(ok for _, ok in got) and not all(ok for _, ok in got)
