"""Property tests of lightning.sql.keycodec: round trips, byte order equals value order
(ASC and DESC, single values and mixed tuples), prefix-freeness, and the documented
worked examples."""

import datetime as dt
import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightning import CorruptionError, DataError
from lightning.sql.keycodec import decode_key, decode_value, encode_key, encode_value

# ---- strategies per column type, and the ordering model --------------------------------

wide_decimals = st.builds(lambda i, e: Decimal(i).scaleb(e),
                          st.integers(-10**30, 10**30), st.integers(-400, 400))
special_decimals = st.sampled_from([Decimal("Infinity"), Decimal("-Infinity"),
                                    Decimal("NaN"), Decimal("-0"), Decimal("0.000"),
                                    Decimal("1E+999999"), Decimal("-1E-999999")])
tricky_text = st.text(alphabet=st.sampled_from(
    ["\x00", "\x01", "\xff", "a", "b", "\u00e9", "\uffff", "\U0001F600", "\U0010FFFF"]))
tricky_bytes = st.lists(st.sampled_from([b"\x00", b"\x01", b"\xff", b"\xfe", b"a"])).map(
    b"".join)

TYPES = {
    "int": st.integers(-(1 << 63), (1 << 63) - 1) | st.integers(-300, 300),
    "float": st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
        [0.0, -0.0, math.nan, -math.nan, math.inf, -math.inf, 5e-324, -5e-324]),
    "decimal": st.decimals(allow_nan=False, allow_infinity=False) | wide_decimals
    | special_decimals,
    "text": st.text() | tricky_text,
    "bytes": st.binary() | tricky_bytes,
    "bool": st.booleans(),
    "date": st.dates(),
    "time": st.times(),
    "datetime": st.datetimes(),
}


def model(v):
    """A sort key with the documented order: NULL first; floats and decimals with NaN
    after +inf and -0.0 == 0.0."""
    if v is None:
        return (0,)
    if isinstance(v, float):
        return (1, 1, 0.0) if math.isnan(v) else (1, 0, v)
    if isinstance(v, Decimal):
        return (1, 1, 0) if v.is_nan() else (1, 0, v)
    return (1, v)


def cmp(a, b):
    return (a > b) - (a < b)


def same(a, b):
    """Equal as the key promises: NaN == NaN, -0.0 == 0.0, Decimal by value."""
    return model(a) == model(b) and type(a) is type(b)


def values_of(kind, nulls=True):
    s = TYPES[kind]
    return (st.none() | s) if nulls else s


any_kind = st.sampled_from(sorted(TYPES))


# ---- single values ------------------------------------------------------------------------

@given(st.data(), any_kind, st.booleans())
@settings(max_examples=800)
def test_round_trip(data, kind, desc):
    v = data.draw(values_of(kind))
    dirs = ["DESC"] if desc else None
    k = encode_key((v,), dirs)
    out, off = decode_key(k + b"\x07rest", 1, dirs)
    assert off == len(k)
    assert same(out[0], v)


@given(st.data(), any_kind, st.booleans())
@settings(max_examples=1500)
def test_order_and_prefix_free(data, kind, desc):
    a = data.draw(values_of(kind))
    b = data.draw(values_of(kind))
    dirs = [desc]
    ka, kb = encode_key((a,), dirs), encode_key((b,), dirs)
    expect = cmp(model(a), model(b))
    if desc:
        expect = -expect
    assert cmp(ka, kb) == expect
    if expect:
        assert not kb.startswith(ka) and not ka.startswith(kb)


@given(st.lists(st.integers(-(1 << 63), (1 << 63) - 1), min_size=2, max_size=30))
def test_int_sort(values):
    keys = sorted(encode_key((v,)) for v in values)
    assert [decode_key(k, 1)[0][0] for k in keys] == sorted(values)


@given(st.lists(wide_decimals | st.decimals(allow_nan=False, allow_infinity=False),
                min_size=2, max_size=30))
def test_decimals_of_very_different_exponents_sort(values):
    keys = sorted(encode_key((v,)) for v in values)
    assert [decode_key(k, 1)[0][0] for k in keys] == sorted(values)


@given(st.lists(tricky_text | st.text(), min_size=2, max_size=20))
def test_text_with_nuls_and_non_bmp_sorts_like_python(values):
    keys = sorted(encode_key((v,)) for v in values)
    assert [decode_key(k, 1)[0][0] for k in keys] == sorted(values)


# ---- tuples of mixed columns --------------------------------------------------------------

@st.composite
def schema_and_rows(draw):
    kinds = draw(st.lists(any_kind, min_size=1, max_size=5))
    dirs = draw(st.lists(st.booleans(), min_size=len(kinds), max_size=len(kinds)))
    # Rows that often share leading values, so later columns decide the order.
    pool = [draw(st.lists(values_of(k), min_size=1, max_size=3)) for k in kinds]
    row = st.tuples(*[st.sampled_from(p) | values_of(k) for p, k in zip(pool, kinds)])
    rows = draw(st.lists(row, min_size=2, max_size=8))
    return kinds, dirs, rows


def tuple_cmp(a, b, dirs):
    for x, y, desc in zip(a, b, dirs):
        c = cmp(model(x), model(y))
        if c:
            return -c if desc else c
    return 0


@given(schema_and_rows())
@settings(max_examples=500)
def test_tuple_order_and_round_trip(arg):
    kinds, dirs, rows = arg
    keys = [encode_key(r, dirs) for r in rows]
    for r, k in zip(rows, keys):
        out, off = decode_key(k, kinds, dirs)
        assert off == len(k)
        assert all(same(x, y) for x, y in zip(out, r))
    for i in range(len(rows)):
        for j in range(len(rows)):
            assert cmp(keys[i], keys[j]) == tuple_cmp(rows[i], rows[j], dirs)
            if keys[i] != keys[j]:
                assert not keys[j].startswith(keys[i])


# ---- fixed examples (the module doc's worked bytes) and edge cases ------------------------

@pytest.mark.parametrize("value, hexbytes", [
    (None, "05"), (False, "10"), (True, "11"),
    (0, "2800"), (7, "2807"), (300, "29012c"), (-1, "27ff"), (-256, "2700"),
    (-257, "26feff"), ((1 << 63) - 1, "2f7fffffffffffffff"),
    (-(1 << 63), "208000000000000000"),
    (1.0, "30bff0000000000000"), (-1.0, "30400fffffffffffff"),
    (-0.0, "308000000000000000"), (math.nan, "30fff8000000000000"),
    (Decimal("1.5"), "3b28010364"), (Decimal("150"), "3b28020364"),
    (Decimal("-1.5"), "39d7fefc9b"), (Decimal("0"), "3a"),
    ("a", "40610001"), ("a\x00", "406100ff0001"), ("ab", "4061620001"),
    (b"\x00", "5000ff0001"),
])
def test_documented_bytes(value, hexbytes):
    assert encode_key((value,)).hex() == hexbytes


def test_desc_inverts_every_byte():
    assert encode_key((7,), ["DESC"]).hex() == "d7f8"
    assert encode_key((None, 7), ["ASC", "DESC"]).hex() == "05d7f8"


def test_text_order_examples():
    assert encode_key(("a",)) < encode_key(("a\x00",)) < encode_key(("ab",))
    assert encode_key(("a",), ["DESC"]) > encode_key(("a\x00",), ["DESC"])


def test_nan_after_infinity_and_null_first():
    assert encode_key((None,)) < encode_key((-math.inf,)) < encode_key((math.inf,)) \
        < encode_key((math.nan,))
    assert encode_key((None,), [True]) > encode_key((math.nan,), [True])
    assert encode_key((Decimal("Infinity"),)) < encode_key((Decimal("NaN"),))


def test_decimal_representations_share_a_key():
    assert encode_key((Decimal("1.5"),)) == encode_key((Decimal("1.500"),))
    assert encode_key((Decimal("150"),)) == encode_key((Decimal("1.5E+2"),))
    assert decode_key(encode_key((Decimal("1.5E+2"),)), 1)[0] == [Decimal("150")]
    assert str(decode_key(encode_key((Decimal("1.5E+2"),)), 1)[0][0]) == "150"


def test_aware_datetime_is_stored_as_utc():
    tz = dt.timezone(dt.timedelta(hours=2))
    aware = dt.datetime(2024, 1, 1, 12, 0, tzinfo=tz)
    assert encode_key((aware,)) == encode_key((dt.datetime(2024, 1, 1, 10, 0),))
    assert decode_key(encode_key((aware,)), 1)[0] == [dt.datetime(2024, 1, 1, 10, 0)]


def test_rejections():
    with pytest.raises(DataError):
        encode_key((1 << 63,))
    with pytest.raises(DataError):
        encode_key((-(1 << 63) - 1,))
    with pytest.raises(DataError):
        encode_key(("\ud800",))
    with pytest.raises(DataError):
        encode_key((dt.time(1, tzinfo=dt.timezone.utc),))
    with pytest.raises(TypeError):
        encode_key(([1],))
    with pytest.raises(ValueError):
        encode_key((1, 2), ["ASC"])


@pytest.mark.parametrize("bad", ["40610000", "4061", "ff", "2901", "30bf", ""])
def test_malformed_keys_raise_corruption(bad):
    with pytest.raises(CorruptionError):
        decode_key(bytes.fromhex(bad), 1)


def test_element_api_appends_and_returns_offset():
    buf = bytearray(b"\x02")
    encode_value(buf, "x")
    encode_value(buf, 5, desc=True)
    assert decode_value(buf, 1) == ("x", 5)
    assert decode_value(buf, 5, desc=True) == (5, 7)


def test_subclasses_encode_as_their_base():
    import enum

    class Color(enum.IntEnum):
        RED = 3

    class Name(str):
        pass

    assert encode_key((Color.RED,)) == encode_key((3,))
    assert encode_key((Name("x"),)) == encode_key(("x",))
