"""Tests of lightning._speedups (lightning/_speedups.c): the C row and key codecs give
exactly the bytes, values and errors of the pure-Python references in rowcodec.py and
keycodec.py, fall back to them for what C does not handle, and never crash on
malformed row bytes."""

import datetime as dt
import enum
import math
import struct
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lightning import CorruptionError, DataError
from lightning.sql import keycodec, rowcodec

from lightning import _speedups as _c   # required: conftest.py

INT64 = st.integers(-(1 << 63), (1 << 63) - 1)
EDGE_INTS = st.sampled_from([0, 1, -1, 127, 128, -128, -129, 255, 256, -256, -257,
                             (1 << 63) - 1, -(1 << 63), (1 << 62), -(1 << 62) - 1,
                             (1 << 32), -(1 << 32)])
FLOATS = st.one_of(st.floats(), st.sampled_from(
    [0.0, -0.0, math.nan, -math.nan, math.inf, -math.inf, 5e-324, -5e-324, 1.0, -1.0]),
    st.integers(0, (1 << 64) - 1).map(lambda b: struct.unpack("<d", struct.pack("<Q", b))[0]))
TEXT = st.one_of(st.text(), st.sampled_from(["", "\x00", "a\x00b", "\x00\x00",
                                            "\U0001f600", "é\x00\U00010000", "\uffff"]))
BYTES = st.one_of(st.binary(), st.sampled_from([b"", b"\x00", b"\x00\xff", b"\xff\x00"]))
C_VALUES = st.one_of(st.none(), st.booleans(), INT64, EDGE_INTS, FLOATS, TEXT, BYTES,
                     BYTES.map(bytearray))
FALLBACK_VALUES = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False), st.dates(), st.times(),
    st.datetimes(), st.datetimes(timezones=st.just(dt.timezone(dt.timedelta(hours=-3)))),
    st.integers(1 << 63, 1 << 200), st.integers(-(1 << 200), -(1 << 63) - 1),
    st.just("lone \ud800"))


class Color(enum.IntEnum):
    RED = 1


class MyStr(str):
    pass


def _same(a, b):
    """Equal values of the same type (NaN equal to NaN, float bits compared)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, float):
        assert struct.pack("<d", a) == struct.pack("<d", b)
    elif isinstance(a, Decimal):
        assert str(a) == str(b)
    else:
        assert a == b


def _outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except Exception as e:                 # noqa: BLE001 - compared, never swallowed
        return "err", (type(e), str(e))


def _same_outcome(fn1, fn2, *args):
    r1, r2 = _outcome(fn1, *args), _outcome(fn2, *args)
    assert r1[0] == r2[0], (r1, r2)
    if r1[0] == "err":
        assert r1[1] == r2[1]
    return r1


# ---- rows ------------------------------------------------------------------------------

@given(st.dictionaries(st.integers(0, 5000), C_VALUES, max_size=12))
def test_encode_row_c_matches_python(row):
    c = _c.encode_row(row, None)
    assert c is not NotImplemented
    assert c == rowcodec._py_encode_row(row)
    assert rowcodec.encode_row(row) == c


@given(st.dictionaries(st.integers(0, 5000), st.one_of(C_VALUES, FALLBACK_VALUES),
                       max_size=12), st.randoms(use_true_random=False))
def test_encode_row_ids_matches_python(row, rnd):
    ids = list(row)
    rnd.shuffle(ids)                    # any id order: the encoding sorts by id
    values = [row[i] for i in ids]
    want = _same_outcome(lambda: rowcodec.encode_row_ids(tuple(ids), values),
                         lambda: rowcodec._py_encode_row(row))
    assert _outcome(lambda: rowcodec.encode_row_ids(tuple(ids), tuple(values))) == want


@given(st.dictionaries(st.integers(0, 5000), st.one_of(C_VALUES, FALLBACK_VALUES),
                       max_size=10))
def test_encode_row_public_matches_python(row):
    _same_outcome(rowcodec.encode_row, rowcodec._py_encode_row, row)


@given(st.dictionaries(st.integers(0, 300), st.one_of(C_VALUES, FALLBACK_VALUES),
                       max_size=10), st.data())
def test_decode_row_matches_python(row, data):
    try:
        raw = rowcodec._py_encode_row(row)
    except (DataError, TypeError, ValueError, UnicodeEncodeError):
        return
    ids = data.draw(st.lists(st.one_of(st.sampled_from(sorted(row) or [0]),
                                       st.integers(-2, 400)), max_size=14))
    out_c = rowcodec.decode_row_ids(raw, tuple(ids))
    out_py = rowcodec._py_decode_row(raw, ids)
    assert len(out_c) == len(out_py)
    for a, b in zip(out_c, out_py):
        _same(a, b)
    assert [type(v) for v in rowcodec.decode_row(raw, ids)] == [type(v) for v in out_py]


def test_decode_row_with_column_objects_and_odd_schemas():
    class Col:
        def __init__(self, id):
            self.id = id
    raw = rowcodec.encode_row({1: 7, 2: "x", 3: 2.5, 5: None, 9: b"b"})
    cols = [Col(3), Col(1), Col(9), Col(5), Col(2)]
    assert rowcodec.decode_row(raw, cols) == [2.5, 7, b"b", None, "x"]
    assert rowcodec.decode_row(raw, iter([1, 2])) == [7, "x"]        # any iterable
    assert rowcodec.decode_row(raw, [1, 1, 2]) == [None, 7, "x"]     # last dup wins
    assert rowcodec.decode_row(raw, [True]) == [7]
    assert rowcodec.decode_row(raw, [Col(3.0)]) == rowcodec._py_decode_row(raw, [Col(3.0)])
    assert rowcodec.decode_row(bytearray(raw), [1]) == [7]          # declined: Python
    assert rowcodec.column_ids(cols) == (3, 1, 9, 5, 2)
    with pytest.raises(AttributeError):
        rowcodec.decode_row(raw, [object()])


def test_encode_row_fallbacks_and_errors_match():
    for row in ({1: Color.RED}, {1: MyStr("s")}, {-1: 5}, {-1: None, 2: 1}, {1: [1]},
                {1: 1 << 70}, {1: -(1 << 70)}, {1 << 70: 1}, {"a": 1}, {1: "\ud800"},
                {1: memoryview(b"ab")}, {1: dt.time(1, tzinfo=dt.timezone.utc)},
                {2: Decimal("1.50"), 1: dt.date(2020, 2, 29)}):
        _same_outcome(rowcodec.encode_row, rowcodec._py_encode_row, row)
    from lightning.sql.types import parse_type
    types = {1: parse_type("INTEGER"), 2: parse_type("TEXT"), 3: parse_type("BOOLEAN")}
    for row in ({1: 5, 2: "a", 3: True}, {1: True}, {2: 5}, {3: 1}, {1: None, 2: None},
                {4: 1}):
        _same_outcome(rowcodec.encode_row, rowcodec._py_encode_row, row, types)


def _valid_rows():
    return st.dictionaries(st.integers(0, 40), st.one_of(C_VALUES, FALLBACK_VALUES.filter(
        lambda v: not isinstance(v, (str, int)))), max_size=6).map(rowcodec._py_encode_row)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=40), st.binary(max_size=40).map(lambda b: b"\x01" + b),
                 _valid_rows().flatmap(lambda r: st.tuples(
                     st.just(r), st.integers(0, len(r)), st.binary(max_size=3))).map(
                     lambda t: t[0][:t[1]] + t[2])))
@example(b"")
@example(b"\x02")
@example(b"\x01\x11")                                      # truncated int payload
@example(b"\x01\x15\x80")                                  # truncated string length
@example(b"\x01\x15\x05ab")                                # truncated string
@example(b"\x01\x15\x02\xff\xfe")                          # bad UTF-8
@example(b"\x01\x17\x03abc")                               # bad decimal
@example(b"\x01\x17\x01\xe9")                              # non-ASCII decimal
@example(b"\x01\x12\x00\x00")                              # truncated float
@example(b"\x01\x18\x00")                                  # date 0
@example(b"\x01\x18\xdc\xf3\xde\x01")                      # date.max.toordinal() + 1
@example(b"\x01\x19\x80\xc0\xca\xf3\xc1\x02")              # 24:00 as time
@example(b"\x01\x1a" + b"\xff" * 9 + b"\x01")              # datetime 2**64 - 1
@example(b"\x01\x1b")                                      # unknown kind 11
@example(b"\x01\x10")                                      # unknown kind 0
@example(b"\x01\x11" + b"\xff" * 9 + b"\x01")              # zigzag 2**64 - 1
@example(b"\x01\x11" + b"\xff" * 9 + b"\x02")              # 65 bits: Python's big int
@example(b"\x01\x11" + b"\x80" * 12 + b"\x00")             # over-long zero
@example(b"\x01" + b"\xff" * 10 + b"\x7f")                 # huge column id
@example(b"\x01\x11\x02\x11\x04")                          # duplicate id: last wins
def test_decode_garbage_raises_corruption_or_matches(data):
    ids = tuple(range(0, 45))
    r = _same_outcome(rowcodec.decode_row_ids, rowcodec._py_decode_row, data, ids)
    if r[0] == "err":
        assert r[1][0] is CorruptionError
    else:
        for a, b in zip(r[1], rowcodec._py_decode_row(data, ids)):
            _same(a, b)


def test_decode_row_edge_values():
    for v in (dt.date.min, dt.date.max, dt.date(2000, 2, 29), dt.date(1900, 3, 1),
              dt.time.min, dt.time.max, dt.datetime.min, dt.datetime.max,
              dt.datetime(2024, 12, 31, 23, 59, 59, 999999), -(1 << 63), (1 << 63) - 1):
        raw = rowcodec.encode_row({3: v})
        assert rowcodec.decode_row(raw, [3]) == [v] == rowcodec._py_decode_row(raw, [3])
    for o in [*range(1, dt.date.max.toordinal() + 1, 997), *range(1, 3000),
              *range(dt.date.max.toordinal() - 3000, dt.date.max.toordinal() + 1)]:
        raw = rowcodec.encode_row({1: dt.date.fromordinal(o)})
        assert rowcodec.decode_row(raw, [1]) == [dt.date.fromordinal(o)]


# ---- keys ------------------------------------------------------------------------------

@given(st.lists(C_VALUES, max_size=8), st.data())
def test_encode_key_c_matches_python(values, data):
    dirs = data.draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=len(values),
                                                   max_size=len(values))))
    expect = keycodec._py_encode_key(values, dirs)
    flags = None if dirs is None else keycodec._desc_flags(dirs, len(values))
    assert _c.encode_key(values, flags) == expect
    assert _c.encode_key(tuple(values), None if flags is None else tuple(flags)) == expect
    assert keycodec.encode_key(tuple(values), dirs) == expect
    if dirs is not None:
        words = ["DESC" if d else "asc" for d in dirs]
        assert keycodec.encode_key(values, words) == expect


@given(st.lists(st.one_of(C_VALUES, FALLBACK_VALUES), max_size=6), st.data())
def test_encode_key_public_matches_python(values, data):
    dirs = data.draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=len(values),
                                                   max_size=len(values))))
    _same_outcome(keycodec.encode_key, keycodec._py_encode_key, values, dirs)


def test_encode_key_fallbacks_and_errors_match():
    cases = [((1 << 63,), None), ((-(1 << 63) - 1,), None), (("\ud800",), None),
             (("\ud800",), [True]), ((Color.RED,), None), ((MyStr("a\x00"),), ["DESC"]),
             (([1],), None), ((1, 2), ["ASC"]), ((1,), ["up"]), ((memoryview(b"x"),), None),
             ((Decimal("-1.5"), dt.date(2020, 1, 1), 3), [False, True, "DESC"]),
             ((1,), (1,)), ((1, "a"), [0, 1])]
    for values, dirs in cases:
        _same_outcome(keycodec.encode_key, keycodec._py_encode_key, values, dirs)
    with pytest.raises(DataError):
        keycodec.encode_key((1 << 63,))
    assert _c.encode_key((Decimal(1),), None) is NotImplemented
    assert _c.encode_key((1,), (1,)) is NotImplemented          # only real bools
    assert _c.encode_key((1, 2), (True,)) is NotImplemented     # length mismatch


def test_documented_key_examples():
    assert keycodec.encode_key((7,)).hex() == "2807"
    assert keycodec.encode_key((-257,)).hex() == "26feff"
    assert keycodec.encode_key((1.0,)).hex() == "30bff0000000000000"
    assert keycodec.encode_key((-0.0,)) == keycodec.encode_key((0.0,))
    assert keycodec.encode_key((float("nan"),)).hex() == "30fff8000000000000"
    assert keycodec.encode_key((-math.nan,)) == keycodec.encode_key((math.nan,))
    assert keycodec.encode_key((7,), [True]).hex() == "d7f8"
    assert keycodec.encode_key(("a\x00",)).hex() == "406100ff0001"


def test_fast_entry_point_is_the_c_function():
    assert rowcodec.decode_row_ids is _c.decode_row


KEY_VALUES = st.one_of(C_VALUES, st.dates(), st.times(), st.datetimes(),
                       st.decimals(allow_nan=True, allow_infinity=True))


@given(st.lists(KEY_VALUES, max_size=6), st.data())
def test_decode_key_matches_python(values, data):
    dirs = data.draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=len(values),
                                                   max_size=len(values))))
    prefix = data.draw(st.binary(max_size=3))
    suffix = data.draw(st.binary(max_size=3))
    key = prefix + keycodec._py_encode_key(values, dirs) + suffix
    got, off = keycodec.decode_key(key, len(values), dirs, offset=len(prefix))
    ref, ref_off = keycodec._py_decode_key(key, len(values), dirs, offset=len(prefix))
    assert off == ref_off == len(key) - len(suffix)
    assert len(got) == len(ref)
    for a, b in zip(got, ref):
        _same(a, b)
    if not any(isinstance(v, Decimal) for v in values):
        flags = None if dirs is None else keycodec._desc_flags(dirs, len(values))
        assert _c.decode_key(key, len(values), flags, len(prefix)) is not NotImplemented


@settings(max_examples=300)
@given(st.one_of(st.binary(max_size=30), st.lists(KEY_VALUES, max_size=4).map(
    keycodec._py_encode_key).flatmap(
    lambda k: st.tuples(st.just(k), st.integers(0, len(k)), st.binary(max_size=3))).map(
    lambda t: t[0][:t[1]] + t[2])), st.integers(0, 4), st.booleans())
@example(b"\x2f" + b"\xff" * 8, 1, False)                  # 2**64 - 1 (Python allows)
@example(b"\x20" + b"\x00" * 8, 1, False)                  # -2**64 (declined to Python)
@example(b"\x20" + b"\xff" * 8, 1, False)                  # -1 written in 8 bytes
@example(b"\x40\xc3\x28\x00\x01", 1, False)                # invalid UTF-8
@example(b"\x40a\x00\x02", 1, False)                       # bad escape
@example(b"\x60\x00\x00\x00\x00", 1, False)                # date 0
@example(b"\x61\xff\xff\xff\xff\xff", 1, False)            # time > 24h
@example(b"\x62\xff\xff\xff\xff\xff\xff\xff\xff", 1, False)  # datetime overflow
def test_decode_garbage_keys_raise_corruption_or_match(data, n, desc):
    dirs = [desc] * n
    r = _same_outcome(keycodec.decode_key, keycodec._py_decode_key, data, n, dirs)
    if r[0] == "err":
        assert r[1][0] is CorruptionError
    else:
        for a, b in zip(r[1][0], keycodec._py_decode_key(data, n, dirs)[0]):
            _same(a, b)


def test_decode_key_declines_what_python_does():
    k = keycodec.encode_key((Decimal("1.5"),))
    assert _c.decode_key(k, 1, None, 0) is NotImplemented
    assert _c.decode_key(memoryview(k), 1, None, 0) is NotImplemented
    assert _c.decode_key(k, -1, None, 0) is NotImplemented
    assert _c.decode_key(b"\x05", 1, (1,), 0) is NotImplemented
    assert keycodec.decode_key(b"\x05\x05", [int, int]) == ([None, None], 2)
    assert keycodec.decode_key(b"\x05", 0) == ([], 0)
