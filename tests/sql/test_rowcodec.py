"""Tests of lightning.sql.rowcodec: round trips of every value kind, NULLs omitted,
unknown (dropped) column ids ignored, missing (added) ids read as None."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lightning import CorruptionError
from lightning.sql.rowcodec import decode_row, decode_row_dict, encode_row
from lightning.sql.types import parse_type

values = st.one_of(
    st.none(), st.integers(-(1 << 63), (1 << 63) - 1), st.floats(allow_nan=False),
    st.booleans(), st.text(), st.binary(), st.decimals(allow_nan=False, allow_infinity=False),
    st.dates(), st.times(), st.datetimes())


@given(st.dictionaries(st.integers(0, 5000), values, max_size=12))
def test_round_trip(row):
    data = encode_row(row)
    assert data[0] == 1
    ids = sorted(row)
    out = decode_row(data, ids)
    for cid, v in zip(ids, out):
        assert v == row[cid] and type(v) is type(row[cid])
        if isinstance(v, Decimal):
            assert str(v) == str(row[cid])          # exact representation kept
    assert decode_row_dict(data) == {k: v for k, v in row.items() if v is not None}


def test_documented_example_and_nulls_omitted():
    assert encode_row({1: 7, 3: "hi", 4: None}).hex() == "01110e35026869"
    assert encode_row({1: None, 2: None}) == b"\x01"


def test_add_and_drop_column_need_no_rewrite():
    old = encode_row({1: "a", 2: 5, 3: b"x"})
    # column 2 dropped, column 4 added later: schema is now [1, 3, 4]
    assert decode_row(old, [1, 3, 4]) == ["a", b"x", None]
    assert decode_row(old, [3, 1]) == [b"x", "a"]


def test_schema_objects_with_ids():
    class C:
        def __init__(self, i):
            self.id = i
    assert decode_row(encode_row({2: 1.5}), [C(1), C(2)]) == [None, 1.5]


def test_aware_datetime_stored_as_utc():
    aware = dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=-3)))
    assert decode_row(encode_row({1: aware}), [1]) == [dt.datetime(2024, 1, 1, 15)]


def test_types_check_catches_caller_bugs():
    types = {1: parse_type("INTEGER"), 2: parse_type("TEXT")}
    assert decode_row(encode_row({1: 3, 2: "x"}, types), [1, 2]) == [3, "x"]
    with pytest.raises(TypeError):
        encode_row({1: "3"}, types)
    with pytest.raises(TypeError):
        encode_row({1: True}, types)
    with pytest.raises(TypeError):
        encode_row({1: object()})


@pytest.mark.parametrize("bad", ["", "02", "0115", "0135056869", "01f0", "01220000"])
def test_malformed_rows_raise_corruption(bad):
    with pytest.raises(CorruptionError):
        decode_row(bytes.fromhex(bad), [1, 2, 3])
