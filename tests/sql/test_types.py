"""Tests of lightning.sql.types: parsing declared type names, and strict coercion as
a table of accepted and rejected values (rejections name the column and the value)."""

import datetime as dt
from decimal import Decimal

import pytest

from lightning import DataError, NotSupportedError, ProgrammingError
from lightning.sql.types import parse_type

UTC = dt.timezone.utc


@pytest.mark.parametrize("text, name, params, family, dbapi", [
    ("INTEGER", "INTEGER", (), "INTEGER", "NUMBER"),
    ("int", "INT", (), "INTEGER", "NUMBER"),
    ("BigInt", "BIGINT", (), "INTEGER", "NUMBER"),
    ("SMALLINT", "SMALLINT", (), "INTEGER", "NUMBER"),
    ("REAL", "REAL", (), "REAL", "NUMBER"),
    ("float", "FLOAT", (), "REAL", "NUMBER"),
    ("double  precision", "DOUBLE PRECISION", (), "REAL", "NUMBER"),
    ("DOUBLE", "DOUBLE", (), "REAL", "NUMBER"),
    ("NUMERIC(10, 2)", "NUMERIC", (10, 2), "NUMERIC", "NUMBER"),
    ("decimal(5)", "DECIMAL", (5,), "NUMERIC", "NUMBER"),
    ("NUMERIC", "NUMERIC", (), "NUMERIC", "NUMBER"),
    ("TEXT", "TEXT", (), "TEXT", "STRING"),
    ("varchar(3)", "VARCHAR", (3,), "TEXT", "STRING"),
    ("CHAR(2)", "CHAR", (2,), "TEXT", "STRING"),
    ("BLOB", "BLOB", (), "BLOB", "BINARY"),
    ("BOOLEAN", "BOOLEAN", (), "BOOLEAN", "NUMBER"),
    ("DATE", "DATE", (), "DATE", "DATETIME"),
    ("TIME", "TIME", (), "TIME", "DATETIME"),
    ("TIMESTAMP", "TIMESTAMP", (), "TIMESTAMP", "DATETIME"),
    ("datetime", "DATETIME", (), "TIMESTAMP", "DATETIME"),
    ("JSON", "JSON", (), "JSON", "STRING"),
])
def test_parse(text, name, params, family, dbapi):
    t = parse_type(text)
    assert (t.name, t.params, t.family, t.type_code, t.dbapi_type) == \
        (name, params, family, family, dbapi)
    assert parse_type(str(t)) == t           # the catalog stores str(t)


@pytest.mark.parametrize("text, exc", [
    ("GEOMETRY", NotSupportedError), ("VARCHAR(a)", ProgrammingError),
    ("INTEGER(3, 4)", ProgrammingError), ("NUMERIC(2, 5)", ProgrammingError),
    ("NUMERIC(0)", ProgrammingError), ("VARCHAR(0)", ProgrammingError),
    ("TEXT(", ProgrammingError),
])
def test_parse_errors(text, exc):
    with pytest.raises(exc):
        parse_type(text)


def test_parse_with_separate_params():
    assert parse_type("varchar", [10]) == parse_type("VARCHAR(10)")


ACCEPT = [
    ("INTEGER", 5, 5), ("INTEGER", -(1 << 63), -(1 << 63)),
    ("INTEGER", (1 << 63) - 1, (1 << 63) - 1), ("INTEGER", 3.0, 3),
    ("INTEGER", Decimal("4"), 4), ("SMALLINT", 32767, 32767),
    ("REAL", 1.5, 1.5), ("REAL", 3, 3.0), ("REAL", 1 << 53, float(1 << 53)),
    ("REAL", Decimal("0.5"), 0.5),
    ("NUMERIC", 7, Decimal(7)), ("NUMERIC", Decimal("1.23456789012345678901234567890"),
                                 Decimal("1.23456789012345678901234567890")),
    ("NUMERIC(10,2)", Decimal("1.5"), Decimal("1.50")), ("NUMERIC(10,2)", 3, Decimal("3.00")),
    ("NUMERIC(5,2)", Decimal("999.99"), Decimal("999.99")),
    ("NUMERIC(10,2)", 0.1, Decimal("0.10")), ("NUMERIC(3)", Decimal("-999"), Decimal("-999")),
    ("TEXT", "héllo \U0001F600", "héllo \U0001F600"), ("VARCHAR(3)", "abc", "abc"),
    ("CHAR(2)", "a", "a"),
    ("BLOB", b"\x00\x01", b"\x00\x01"), ("BLOB", bytearray(b"ab"), b"ab"),
    ("BLOB", memoryview(b"ab"), b"ab"),
    ("BOOLEAN", True, True), ("BOOLEAN", 0, False), ("BOOLEAN", 1, True),
    ("DATE", dt.date(2024, 2, 29), dt.date(2024, 2, 29)),
    ("DATE", "2024-02-29", dt.date(2024, 2, 29)),
    ("DATE", dt.datetime(2024, 2, 29), dt.date(2024, 2, 29)),
    ("TIME", dt.time(1, 2, 3), dt.time(1, 2, 3)),
    ("TIME", "13:45:00.5", dt.time(13, 45, 0, 500000)),
    ("TIMESTAMP", dt.datetime(2024, 1, 1, 9), dt.datetime(2024, 1, 1, 9)),
    ("TIMESTAMP", "2024-01-01 09:30:00", dt.datetime(2024, 1, 1, 9, 30)),
    ("TIMESTAMP", "2024-01-01T09:30:00Z", dt.datetime(2024, 1, 1, 9, 30)),
    ("TIMESTAMP", "2024-01-01T09:30:00+02:00", dt.datetime(2024, 1, 1, 7, 30)),
    ("DATETIME", dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
     dt.datetime(2024, 1, 1, 17)),
    ("TIMESTAMP", dt.date(2024, 1, 1), dt.datetime(2024, 1, 1)),
    ("JSON", '{"a": [1, 2]}', '{"a": [1, 2]}'), ("JSON", "3", "3"),
    ("JSON", {"a": 1}, '{"a": 1}'), ("JSON", [1, "x"], '[1, "x"]'),
]


@pytest.mark.parametrize("type_text, value, expected", ACCEPT)
def test_accept(type_text, value, expected):
    out = parse_type(type_text).coerce(value, "col")
    assert out == expected and type(out) is type(expected)
    if isinstance(expected, Decimal):
        assert str(out) == str(expected)


def test_null_accepted_by_every_type():
    for t in ("INTEGER", "REAL", "NUMERIC(3,1)", "TEXT", "BLOB", "BOOLEAN", "DATE", "TIME",
              "TIMESTAMP", "JSON"):
        assert parse_type(t).coerce(None, "c") is None


REJECT = [
    ("INTEGER", "12", "'12'"), ("INTEGER", 1 << 63, str(1 << 63)),
    ("INTEGER", -(1 << 63) - 1, str(-(1 << 63) - 1)), ("INTEGER", 1.5, "1.5"),
    ("INTEGER", True, "True"), ("INTEGER", Decimal("2.5"), "Decimal('2.5')"),
    ("INTEGER", float("nan"), "nan"), ("SMALLINT", 40000, "40000"),
    ("REAL", "1.5", "'1.5'"), ("REAL", (1 << 53) + 1, str((1 << 53) + 1)),
    ("REAL", 10 ** 400, "1000"), ("REAL", False, "False"),
    ("REAL", Decimal("0.1"), "Decimal('0.1')"),
    ("NUMERIC", "1.5", "'1.5'"), ("NUMERIC", Decimal("NaN"), "Decimal('NaN')"),
    ("NUMERIC", float("inf"), "inf"), ("NUMERIC", True, "True"),
    ("NUMERIC(10,2)", Decimal("1.005"), "Decimal('1.005')"),
    ("NUMERIC(5,2)", Decimal("1000"), "Decimal('1000')"),
    ("NUMERIC(5,2)", Decimal("123456.7"), "Decimal('123456.7')"),
    ("TEXT", 5, "5"), ("TEXT", b"x", "b'x'"), ("VARCHAR(3)", "abcdef", "'abcdef'"),
    ("CHAR(1)", "ab", "'ab'"), ("TEXT", "\ud800", "'\\ud800'"),
    ("BLOB", "x", "'x'"), ("VARBINARY(2)", b"abc", "b'abc'"),
    ("BOOLEAN", 2, "2"), ("BOOLEAN", "true", "'true'"), ("BOOLEAN", 1.0, "1.0"),
    ("DATE", "2024-02-30", "'2024-02-30'"), ("DATE", dt.datetime(2024, 1, 1, 1), "datetime"),
    ("DATE", 20240101, "20240101"),
    ("TIME", "25:00", "'25:00'"), ("TIME", dt.time(1, tzinfo=UTC), "datetime.time"),
    ("TIMESTAMP", "yesterday", "'yesterday'"), ("TIMESTAMP", 1700000000, "1700000000"),
    ("JSON", "{bad", "'{bad'"), ("JSON", {"a": float("nan")}, "nan"),
    ("JSON", b"{}", "b'{}'"),
]


@pytest.mark.parametrize("type_text, value, shown", REJECT)
def test_reject(type_text, value, shown):
    with pytest.raises(DataError) as e:
        parse_type(type_text).coerce(value, "my_col")
    msg = str(e.value)
    assert "'my_col'" in msg
    assert shown in msg


def test_long_values_are_shortened_in_messages():
    with pytest.raises(DataError) as e:
        parse_type("VARCHAR(3)").coerce("x" * 1000, "c")
    assert len(str(e.value)) < 300 and "longer than 3" in str(e.value)
