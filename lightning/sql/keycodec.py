"""Order-preserving, prefix-free encoding of typed values into KV keys.

One responsibility: turn a tuple of already-typed Python values into bytes whose
bytewise order equals the values' order (column by column), and back. Rows, index
entries and catalog keys (catalog.py) are built from these encodings.

Format (stored: tag values never change)
----------------------------------------
Every element is one tag byte followed by a payload whose length the tag (or a
terminator) determines, so no element's encoding is a proper prefix of another's and
a concatenation of elements sorts like the tuple of values. The tags sort like the
values they introduce; within one column all values have one type, and across types
the order is the tag order:

    NULL < FALSE < TRUE < integers < floats < decimals < text < bytes
         < date < time < datetime

  NULL      0x05                        first: NULLs sort before every value (ASC)
  bool      0x10 false, 0x11 true       no payload
  integer   0x20..0x27 negative, 0x28..0x2f non-negative: a compact varint-like form
            v >= 0: tag 0x27 + n, then v in n big-endian bytes (n = 1..8, minimal;
                    0 is one byte 0x00)
                    7    -> 28 07           300 -> 29 01 2c
            v <  0: tag 0x28 - n, then (v + 256**n) in n big-endian bytes, where n
                    (1..8) is the minimal width of ~v = -v-1
                    -1   -> 27 ff           -256 -> 27 00      -257 -> 26 fe ff
            More bytes = larger magnitude, so the tag orders widths and the payload
            orders values of one width. Range: 64-bit signed (else DataError).
  float     0x30, then the IEEE 754 binary64 bits big-endian with the sign trick:
            positive -> set the sign bit, negative -> invert all 64 bits.
            -0.0 is canonicalised to 0.0 and every NaN to the one quiet NaN
            0x7ff8000000000000, so NaN sorts after +inf (as in PostgreSQL):
                    -inf < ... < -1.0 < 0.0 < 1.0 < ... < +inf < NaN
            1.0  -> 30 bf f0 00 00 00 00 00 00
            -1.0 -> 30 40 0f ff ff ff ff ff ff
  decimal   0x38 -inf, 0x39 negative, 0x3a zero, 0x3b positive, 0x3c +inf, 0x3d NaN
            (NaN after +inf, as for floats). A finite non-zero |d| is written as
            0.c1c2...ck * 100**E with base-100 digits ("centimal", c1 != 0, ck != 0):
            the integer element of E (above, with its tag), then each centimal digit
            c as one byte 2c+1, except the last as 2c (even = end, so the digits are
            self-delimiting). A negative decimal has every byte after its tag
            inverted, which reverses the order. Exact: 1.5, 1.50 and 1.500 encode
            alike (equal values, equal keys); decode returns the normalised value.
            1.5  = 0.0150 * 100**1 -> 3b 28 01 03 64     (c = 01, 50: 2*1+1, 2*50)
            150  = 0.0150 * 100**2 -> 3b 28 02 03 64
            -1.5 -> 39 d7 fe fc 9b
  text      0x40, UTF-8 with each 0x00 escaped as 00 ff, terminated by 00 01:
            "a" -> 40 61 00 01;  "a\\x00" -> 40 61 00 ff 00 01;  "ab" -> 40 61 62 00 01
            so "a" < "a\\x00" < "ab". UTF-8 byte order is code point order, which is
            Python's str order (non-BMP characters included). Lone surrogates
            cannot be encoded (DataError).
  bytes     0x50, the same escaping and terminator: b"\\x00" -> 50 00 ff 00 01
  date      0x60, then date.toordinal() as 4 big-endian bytes
  time      0x61, then microseconds since midnight as 5 big-endian bytes (naive only)
  datetime  0x62, then microseconds since 0001-01-01T00:00 as 8 big-endian bytes.
            Timezone policy (shared with types.py): datetimes are naive; an aware
            datetime is converted to UTC and its tzinfo dropped. An aware time is
            rejected (there is no date to convert it with).

DESC: a descending element has every byte of its encoding (tag included) inverted
(x -> 0xff - x). Inversion reverses the order of prefix-free encodings, so in a DESC
column NULLs sort last. Example: 7 DESC -> d7 f8.

API: `encode_key(values, directions=None)` and `decode_key(data, types_or_count,
directions=None) -> (values, offset)`; `directions` is None (all ascending) or a
sequence of booleans (True = DESC) or "ASC"/"DESC" strings, one per value. The
element-level functions `encode_value(buf, value)` (append to a bytearray) and
`decode_value(data, offset) -> (value, next_offset)` are public for the key helpers.

Dispatch is by Python type: the caller (types.py coercion) guarantees that one column
holds one type, e.g. a NUMERIC column holds only Decimals (ints are converted), a REAL
column only floats.

Speed: when the C extension `lightning._speedups` is built, encode_key and decode_key
run in C (lightning/_speedups_keys.c follows this module byte for byte): encode_key for
NULL, bool, 64-bit int, float, str and bytes elements, decode_key for every element
but decimals. `_py_encode_key` / `_py_decode_key` stay the complete reference and the
fallback for everything else (other values, malformed keys, the errors).
"""

import datetime as _dt
import struct
from decimal import Decimal

from ..errors import CorruptionError, DataError

__all__ = [
    "encode_key", "key_encoder", "decode_key", "key_decoder", "encode_value", "decode_value", "encode_int",
    "TAG_NULL", "TAG_FALSE", "TAG_TRUE", "TAG_INT_MIN", "TAG_INT_ZERO", "TAG_INT_MAX",
    "TAG_FLOAT", "TAG_DEC_NEG_INF", "TAG_DEC_NEG", "TAG_DEC_ZERO", "TAG_DEC_POS",
    "TAG_DEC_POS_INF", "TAG_DEC_NAN", "TAG_TEXT", "TAG_BYTES", "TAG_DATE", "TAG_TIME",
    "TAG_DATETIME",
]

# ---- type tags: ordered like the values they introduce; stored, never renumber ----
TAG_NULL = 0x05
TAG_FALSE = 0x10
TAG_TRUE = 0x11
TAG_INT_MIN = 0x20          # 0x20 + (8 - n): negative integers, n payload bytes
TAG_INT_ZERO = 0x28         # 0x27 + n: non-negative integers, n payload bytes
TAG_INT_MAX = 0x2F
TAG_FLOAT = 0x30
TAG_DEC_NEG_INF = 0x38
TAG_DEC_NEG = 0x39
TAG_DEC_ZERO = 0x3A
TAG_DEC_POS = 0x3B
TAG_DEC_POS_INF = 0x3C
TAG_DEC_NAN = 0x3D
TAG_TEXT = 0x40
TAG_BYTES = 0x50
TAG_DATE = 0x60
TAG_TIME = 0x61
TAG_DATETIME = 0x62

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_INVERT = bytes(range(255, -1, -1))       # bytes.translate table: x -> 0xff - x
_TERM = b"\x00\x01"
_ESC = b"\x00\xff"
_NAN_BITS = 0x7FF8000000000000
_SIGN = 1 << 63
_MASK64 = (1 << 64) - 1
_D = struct.Struct(">d")
_Q = struct.Struct(">Q")
_EPOCH = _dt.datetime(1, 1, 1)
_UTC = _dt.timezone.utc


# ---- encoders: append one element to a bytearray ------------------------------------

def _enc_int(buf, v):
    """Integer element. 0 -> 28 00, 255 -> 28 ff, 256 -> 29 01 00, -1 -> 27 ff."""
    if v >= 0:
        if v > _INT64_MAX:
            raise DataError(f"integer out of 64-bit range: {v}")
        n = (v.bit_length() + 7) >> 3 or 1
        buf.append(0x27 + n)
        buf += v.to_bytes(n, "big")
    else:
        if v < _INT64_MIN:
            raise DataError(f"integer out of 64-bit range: {v}")
        n = ((~v).bit_length() + 7) >> 3 or 1
        buf.append(0x28 - n)
        buf += (v + (1 << (n << 3))).to_bytes(n, "big")


def encode_int(v):
    """The integer element of `v` as bytes (used for table and index ids)."""
    buf = bytearray()
    _enc_int(buf, v)
    return bytes(buf)


def _enc_float(buf, f):
    """Float element: tag 0x30 then 8 sign-flipped big-endian bytes."""
    if f != f:
        bits = _NAN_BITS
    else:
        if f == 0.0:
            f = 0.0                        # -0.0 -> 0.0
        bits = _Q.unpack(_D.pack(f))[0]
    bits = (bits ^ _MASK64) if bits & _SIGN else (bits | _SIGN)
    buf.append(TAG_FLOAT)
    buf += _Q.pack(bits)


def _enc_decimal(buf, d):
    if not d.is_finite():
        if d.is_nan():
            buf.append(TAG_DEC_NAN)
        else:
            buf.append(TAG_DEC_NEG_INF if d < 0 else TAG_DEC_POS_INF)
        return
    if not d:
        buf.append(TAG_DEC_ZERO)
        return
    sign, digits, exp = d.as_tuple()
    # Strip trailing zeros: value = int(digits) * 10**exp.
    k = len(digits)
    while digits[k - 1] == 0:
        k -= 1
        exp += 1
    digits = digits[:k]
    # value = 0.d1...dk * 10**e10 with e10 = exp + k; make the exponent base 100.
    e10 = exp + k
    if e10 & 1:
        digits = (0,) + digits
        e10 += 1
    if len(digits) & 1:
        digits = digits + (0,)
    body = bytearray()
    _enc_int(body, e10 >> 1)
    last = len(digits) - 2
    for i in range(0, len(digits), 2):
        c = digits[i] * 10 + digits[i + 1]
        body.append(2 * c if i == last else 2 * c + 1)
    if sign:
        buf.append(TAG_DEC_NEG)
        buf += bytes(body).translate(_INVERT)
    else:
        buf.append(TAG_DEC_POS)
        buf += body


def _enc_escaped(buf, tag, raw):
    buf.append(tag)
    if b"\x00" in raw:
        raw = raw.replace(b"\x00", _ESC)
    buf += raw
    buf += _TERM


def _enc_text(buf, s):
    try:
        raw = s.encode("utf-8")
    except UnicodeEncodeError:
        raise DataError(f"text value cannot be encoded as UTF-8 (lone surrogate): {s!r}"
                        ) from None
    _enc_escaped(buf, TAG_TEXT, raw)


def _enc_bytes(buf, b):
    _enc_escaped(buf, TAG_BYTES, bytes(b))


def _enc_bool(buf, b):
    buf.append(TAG_TRUE if b else TAG_FALSE)


def _enc_date(buf, d):
    buf.append(TAG_DATE)
    buf += d.toordinal().to_bytes(4, "big")


def _time_micros(t):
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def _enc_time(buf, t):
    if t.utcoffset() is not None:
        raise DataError(f"time with a timezone cannot be stored (no date to convert it to "
                        f"UTC with): {t!r}")
    buf.append(TAG_TIME)
    buf += _time_micros(t).to_bytes(5, "big")


def _enc_datetime(buf, v):
    if v.tzinfo is not None and v.utcoffset() is not None:
        v = v.astimezone(_UTC).replace(tzinfo=None)
    elif v.tzinfo is not None:
        v = v.replace(tzinfo=None)
    delta = v - _EPOCH
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    buf.append(TAG_DATETIME)
    buf += micros.to_bytes(8, "big")


_ENCODERS = {
    int: _enc_int, float: _enc_float, Decimal: _enc_decimal, str: _enc_text,
    bytes: _enc_bytes, bytearray: _enc_bytes, memoryview: _enc_bytes, bool: _enc_bool,
    _dt.date: _enc_date, _dt.time: _enc_time, _dt.datetime: _enc_datetime,
}


def _encoder_for(value):
    enc = _ENCODERS.get(type(value))
    if enc is not None:
        return enc
    # Subclasses (IntEnum, str subclasses, ...): most specific base first.
    for base in (bool, int, float, Decimal, str, bytes, bytearray, memoryview,
                 _dt.datetime, _dt.date, _dt.time):
        if isinstance(value, base):
            return _ENCODERS[base]
    raise TypeError(f"cannot encode a {type(value).__name__} in a key: {value!r}")


def encode_value(buf, value, desc=False):
    """Append the element of `value` (None = NULL) to bytearray `buf`; inverted when
    `desc`."""
    if not desc:
        if value is None:
            buf.append(TAG_NULL)
        else:
            _encoder_for(value)(buf, value)
        return
    tmp = bytearray()
    encode_value(tmp, value)
    buf += bytes(tmp).translate(_INVERT)


def _desc_flags(directions, n):
    if directions is None:
        return None
    if len(directions) != n:
        raise ValueError(f"{len(directions)} directions for {n} values")
    flags = []
    for d in directions:
        if isinstance(d, str):
            u = d.upper()
            if u not in ("ASC", "DESC"):
                raise ValueError(f"direction must be 'ASC' or 'DESC', not {d!r}")
            flags.append(u == "DESC")
        else:
            flags.append(bool(d))
    return flags if any(flags) else None


def encode_key(values, directions=None):
    """The key of the tuple `values` (each None or an int, float, Decimal, str,
    bytes-like, bool, date, time or datetime); `directions` as in the module doc."""
    if _c_encode_key is not None:
        r = _c_encode_key(values, None if directions is None
                          else _desc_flags(directions, len(values)))
        if r is not NotImplemented:
            return r
    return _py_encode_key(values, directions)


def key_encoder(directions=None):
    """encode_key with `directions` fixed (one per value), for hot paths: returns
    f(values) -> bytes, with the directions checked and converted once."""
    flags = None if directions is None else _desc_flags(directions, len(directions))
    c = _c_encode_key
    if c is None:
        return lambda values: _py_encode_key(values, directions)

    def encode(values):
        r = c(values, flags)
        return _py_encode_key(values, directions) if r is NotImplemented else r
    return encode


def _py_encode_key(values, directions=None):
    """encode_key in pure Python: the reference implementation."""
    buf = bytearray()
    flags = _desc_flags(directions, len(values))
    if flags is None:
        for v in values:
            if v is None:
                buf.append(TAG_NULL)
            else:
                enc = _ENCODERS.get(type(v)) or _encoder_for(v)
                enc(buf, v)
    else:
        for v, desc in zip(values, flags):
            encode_value(buf, v, desc)
    return bytes(buf)


# ---- decoders: (value, next offset) ----------------------------------------------------

def _bad(data, off, what):
    raise CorruptionError(f"malformed key at offset {off}: {what} ({bytes(data)[:64].hex()})")


def _need(data, off, n):
    if off + n > len(data):
        _bad(data, off, "truncated element")


def _dec_int(data, off, tag):
    if tag >= TAG_INT_ZERO:
        n = tag - 0x27
        _need(data, off, n)
        return int.from_bytes(data[off:off + n], "big"), off + n
    n = 0x28 - tag
    _need(data, off, n)
    return int.from_bytes(data[off:off + n], "big") - (1 << (n << 3)), off + n


def _dec_escaped(data, off):
    """The unescaped payload of a text/bytes element starting at `off` and the offset
    after its terminator."""
    end = data.find(b"\x00", off)
    if end < 0 or end + 1 >= len(data):
        _bad(data, off, "unterminated string")
    if data[end + 1] == 0x01:
        return bytes(data[off:end]), end + 2
    parts = []
    while True:
        if end < 0 or end + 1 >= len(data):
            _bad(data, off, "unterminated string")
        nxt = data[end + 1]
        parts.append(data[off:end])
        if nxt == 0x01:
            return b"\x00".join(parts), end + 2
        if nxt != 0xFF:
            _bad(data, end, "bad escape in string")
        off = end + 2
        end = data.find(b"\x00", off)


def _dec_decimal_body(data, off):
    # The exponent is an integer element; anything else (another decimal above all,
    # which would recurse once per byte) is corruption.
    if off >= len(data) or not TAG_INT_MIN <= data[off] <= TAG_INT_MAX:
        _bad(data, off, "decimal exponent")
    exp, off = _dec_int(data, off + 1, data[off])
    digits = []
    while True:
        if off >= len(data):
            _bad(data, off, "unterminated decimal")
        b = data[off]
        off += 1
        c = b >> 1
        if c > 99:
            _bad(data, off - 1, "decimal digit")
        digits.append(c // 10)
        digits.append(c % 10)
        if not b & 1:
            break
    # value = 0.digits * 100**exp = int(digits) * 10**(2*exp - len(digits))
    return digits, 2 * exp - len(digits), off


def _make_decimal(sign, digits, exp):
    """The Decimal sign * int(digits) * 10**exp without padding zeros: trailing
    zeros are stripped, and a small positive exponent is written out (150, not
    1.5E+2)."""
    k = len(digits)
    while k and digits[k - 1] == 0:
        k -= 1
        exp += 1
    digits = digits[:k]
    if 0 < exp <= 64:
        digits = digits + [0] * exp
        exp = 0
    try:
        return Decimal((sign, digits, exp))
    except (ArithmeticError, ValueError):   # an exponent no stored Decimal has
        raise CorruptionError(f"malformed key: decimal exponent {exp} out of range"
                              ) from None


def _decode_at(data, off):
    if off >= len(data):
        _bad(data, off, "missing element")
    tag = data[off]
    off += 1
    if TAG_INT_MIN <= tag <= TAG_INT_MAX:
        return _dec_int(data, off, tag)
    if tag == TAG_NULL:
        return None, off
    if tag == TAG_TEXT:
        raw, off = _dec_escaped(data, off)
        try:
            return raw.decode("utf-8"), off
        except UnicodeDecodeError:
            _bad(data, off, "invalid UTF-8 in text")
    if tag == TAG_BYTES:
        return _dec_escaped(data, off)
    if tag == TAG_FLOAT:
        _need(data, off, 8)
        bits = _Q.unpack_from(data, off)[0]
        bits = (bits ^ _SIGN) if bits & _SIGN else (bits ^ _MASK64)
        return _D.unpack(_Q.pack(bits))[0], off + 8
    if tag == TAG_FALSE:
        return False, off
    if tag == TAG_TRUE:
        return True, off
    if tag == TAG_DEC_POS:
        digits, exp, off = _dec_decimal_body(data, off)
        return _make_decimal(0, digits, exp), off
    if tag == TAG_DEC_NEG:
        inv = bytes(data[off:]).translate(_INVERT)
        digits, exp, used = _dec_decimal_body(inv, 0)
        return _make_decimal(1, digits, exp), off + used
    if tag == TAG_DEC_ZERO:
        return Decimal(0), off
    if tag == TAG_DEC_POS_INF:
        return Decimal("Infinity"), off
    if tag == TAG_DEC_NEG_INF:
        return Decimal("-Infinity"), off
    if tag == TAG_DEC_NAN:
        return Decimal("NaN"), off
    if tag == TAG_DATE:
        _need(data, off, 4)
        try:
            return _dt.date.fromordinal(int.from_bytes(data[off:off + 4], "big")), off + 4
        except (ValueError, OverflowError):         # ordinal 0, or beyond a C int
            _bad(data, off, "date out of range")
    if tag == TAG_TIME:
        _need(data, off, 5)
        us = int.from_bytes(data[off:off + 5], "big")
        s, us = divmod(us, 1_000_000)
        m, s = divmod(s, 60)
        h, m = divmod(m, 60)
        if h > 23:
            _bad(data, off, "time out of range")
        return _dt.time(h, m, s, us), off + 5
    if tag == TAG_DATETIME:
        _need(data, off, 8)
        us = int.from_bytes(data[off:off + 8], "big")
        try:
            return _EPOCH + _dt.timedelta(microseconds=us), off + 8
        except OverflowError:
            _bad(data, off, "datetime out of range")
    _bad(data, off - 1, f"unknown tag 0x{tag:02x}")


def decode_value(data, off=0, desc=False):
    """Decode the element at `off` of `data`: (value, offset after it)."""
    if not desc:
        return _decode_at(data, off)
    inv = bytes(data[off:]).translate(_INVERT)
    value, used = _decode_at(inv, 0)
    return value, off + used


def decode_key(data, types_or_count, directions=None, offset=0):
    """Decode `types_or_count` elements (an int, or a sequence whose length is the
    count: elements are self-describing, so types only give the count) from `data`
    starting at `offset`. Returns (list of values, offset after the last element);
    bytes after that are the caller's (e.g. the pk after an index's values)."""
    if _c_decode_key is not None:
        n = types_or_count if isinstance(types_or_count, int) else len(types_or_count)
        r = _c_decode_key(data, n, None if directions is None
                          else _desc_flags(directions, n), offset)
        if r is not NotImplemented:
            return r
    return _py_decode_key(data, types_or_count, directions, offset)


def key_decoder(count, directions=None):
    """decode_key of `count` elements with `directions` fixed, for hot paths: returns
    f(data, offset=0) -> (values, offset after them)."""
    flags = None if directions is None else _desc_flags(directions, count)
    c = _c_decode_key

    def decode(data, offset=0):
        if c is not None:
            r = c(data, count, flags, offset)
            if r is not NotImplemented:
                return r
        return _py_decode_key(data, count, directions, offset)
    return decode


def _py_decode_key(data, types_or_count, directions=None, offset=0):
    """decode_key in pure Python: the reference implementation."""
    n = types_or_count if isinstance(types_or_count, int) else len(types_or_count)
    flags = _desc_flags(directions, n)
    values = []
    off = offset
    if flags is None:
        for _ in range(n):
            v, off = _decode_at(data, off)
            values.append(v)
    else:
        for desc in flags:
            v, off = decode_value(data, off, desc)
            values.append(v)
    return values, off


try:
    from .._speedups import decode_key as _c_decode_key, encode_key as _c_encode_key
except ImportError:                         # not built: the pure-Python reference
    _c_decode_key = _c_encode_key = None
