"""The row value format: how a table row's column values are stored as a KV value.

One responsibility: serialise {column id: value} compactly and back. The bytes need not
sort (keys do that, keycodec.py); they must survive schema changes cheaply:

  * columns are tagged by their column id (ids are never reused within a table), so
    ADD COLUMN is a catalog change only: old rows simply lack the id and the caller
    fills in NULL or the column's default;
  * NULLs are omitted;
  * ids the schema no longer knows (a dropped column) are skipped, so DROP COLUMN does
    not rewrite rows. Every value is self-delimiting, so skipping needs no schema.

Format version 1 (stored; kinds never renumber)
-----------------------------------------------
    byte 0        0x01 (format version)
    then, for each non-NULL column in ascending id order:
      varint      (column_id << 4) | kind
      payload     by kind:
        1 INT       zigzag varint                     -5 -> 09
        2 FLOAT     8 bytes IEEE 754 little-endian
        3 FALSE     (none)
        4 TRUE      (none)
        5 TEXT      varint length, UTF-8 bytes        (also JSON text)
        6 BYTES     varint length, bytes
        7 DECIMAL   varint length, ASCII str(Decimal): the exact representation, so
                    NUMERIC(10,2) 1.50 reads back as Decimal('1.50')
        8 DATE      varint date.toordinal()
        9 TIME      varint microseconds since midnight
       10 DATETIME  varint microseconds since 0001-01-01T00:00 (naive; aware values
                    are converted to UTC first, the policy of types.py)
    varint = unsigned LEB128 (7 bits a byte, low first, high bit = more).

Example: {1: 7, 3: "hi", 4: None} -> 01 11 0e 35 02 68 69
  (01 format; 0x11 = id 1 << 4 | INT, 0e = zigzag(7); 0x35 = id 3 << 4 | TEXT,
   length 2, "hi"; id 4 is NULL and omitted).

The encoding is chosen by the value's Python type: the caller has coerced every value
to its column's type (types.py), so one column always gets one kind.

Speed: when the C extension `lightning._speedups` is built, encode_row and decode_row
run in C (lightning/_speedups_rows.c, which follows this module byte for byte); the
`_py_*` functions here stay the complete reference and the fallback for what C does
not handle. Hot loops that decode many rows of one table should precompute
`ids = column_ids(table.columns)` once and call `decode_row_ids(data, ids)`.
"""

import datetime as _dt
import struct
from decimal import Decimal

from ..errors import CorruptionError

__all__ = ["encode_row", "decode_row", "decode_row_ids", "column_ids", "decode_row_dict",
           "FORMAT_VERSION"]

FORMAT_VERSION = 1

K_INT = 1
K_FLOAT = 2
K_FALSE = 3
K_TRUE = 4
K_TEXT = 5
K_BYTES = 6
K_DECIMAL = 7
K_DATE = 8
K_TIME = 9
K_DATETIME = 10

_F = struct.Struct("<d")
_EPOCH = _dt.datetime(1, 1, 1)
_UTC = _dt.timezone.utc


def _varint(buf, n):
    while n > 0x7F:
        buf.append((n & 0x7F) | 0x80)
        n >>= 7
    buf.append(n)


def _kind_and_payload(buf, cid, v):
    t = type(v)
    if t is int or (isinstance(v, int) and t is not bool):
        _varint(buf, (cid << 4) | K_INT)
        _varint(buf, (v << 1) if v >= 0 else ((-v << 1) - 1))
    elif t is str:
        raw = v.encode("utf-8")
        _varint(buf, (cid << 4) | K_TEXT)
        _varint(buf, len(raw))
        buf += raw
    elif t is float:
        _varint(buf, (cid << 4) | K_FLOAT)
        buf += _F.pack(v)
    elif t is bool:
        _varint(buf, (cid << 4) | (K_TRUE if v else K_FALSE))
    elif t in (bytes, bytearray, memoryview):
        raw = bytes(v)
        _varint(buf, (cid << 4) | K_BYTES)
        _varint(buf, len(raw))
        buf += raw
    elif t is Decimal:
        raw = str(v).encode("ascii")
        _varint(buf, (cid << 4) | K_DECIMAL)
        _varint(buf, len(raw))
        buf += raw
    elif t is _dt.datetime:
        if v.tzinfo is not None:
            if v.utcoffset() is not None:
                v = v.astimezone(_UTC)
            v = v.replace(tzinfo=None)
        d = v - _EPOCH
        _varint(buf, (cid << 4) | K_DATETIME)
        _varint(buf, (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds)
    elif t is _dt.date:
        _varint(buf, (cid << 4) | K_DATE)
        _varint(buf, v.toordinal())
    elif t is _dt.time:
        if v.utcoffset() is not None:
            raise ValueError(f"column {cid}: a time with a timezone cannot be stored: {v!r}")
        _varint(buf, (cid << 4) | K_TIME)
        _varint(buf, ((v.hour * 60 + v.minute) * 60 + v.second) * 1_000_000
                + v.microsecond)
    elif isinstance(v, str):
        _kind_and_payload(buf, cid, str(v))
    elif isinstance(v, (bytes, bytearray)):
        _kind_and_payload(buf, cid, bytes(v))
    elif isinstance(v, float):
        _kind_and_payload(buf, cid, float(v))
    else:
        raise TypeError(f"column {cid}: cannot store a {t.__name__} in a row: {v!r}")


def _py_encode_row(values, types=None):
    """The row value of `values`, a mapping column id -> value (None = NULL, omitted).
    `types` (optional mapping column id -> SqlType) is checked when given: each value
    must be an instance of its column's `python_type` (a caller bug otherwise)."""
    buf = bytearray(b"\x01")
    for cid in sorted(values):
        v = values[cid]
        if v is None:
            continue
        if cid < 0:
            raise ValueError(f"column id must be >= 0, not {cid}")
        if types is not None:
            pt = types[cid].python_type
            if not isinstance(v, pt) or (type(v) is bool and pt is not bool):
                raise TypeError(f"column {cid}: expected {pt.__name__}, got "
                                f"{type(v).__name__}: {v!r}")
        _kind_and_payload(buf, cid, v)
    return bytes(buf)


def _bad(data, off, what):
    raise CorruptionError(f"malformed row value at offset {off}: {what}")


def _read_varint(data, off):
    n = shift = 0
    end = len(data)
    while True:
        if off >= end:
            _bad(data, off, "truncated varint")
        b = data[off]
        off += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, off
        shift += 7


def _iter_row(data):
    """Yield (column id, value) of every stored column."""
    if not data or data[0] != FORMAT_VERSION:
        _bad(data, 0, f"unknown row format {data[0] if data else None}")
    off = 1
    end = len(data)
    while off < end:
        head, off = _read_varint(data, off)
        cid, kind = head >> 4, head & 0xF
        if kind == K_INT:
            z, off = _read_varint(data, off)
            v = (z >> 1) if not z & 1 else -((z + 1) >> 1)
        elif kind == K_TEXT or kind == K_BYTES or kind == K_DECIMAL:
            n, off = _read_varint(data, off)
            if off + n > end:
                _bad(data, off, "truncated string")
            raw = data[off:off + n]
            start = off
            off += n
            if kind == K_TEXT:
                try:
                    v = raw.decode("utf-8")
                except UnicodeDecodeError:
                    _bad(data, start, "invalid UTF-8 in text")
            elif kind == K_BYTES:
                v = bytes(raw)
            else:
                try:
                    v = Decimal(raw.decode("ascii"))
                except (UnicodeDecodeError, ArithmeticError):
                    _bad(data, start, "bad decimal")
        elif kind == K_FLOAT:
            if off + 8 > end:
                _bad(data, off, "truncated float")
            v = _F.unpack_from(data, off)[0]
            off += 8
        elif kind == K_FALSE:
            v = False
        elif kind == K_TRUE:
            v = True
        elif kind == K_DATE:
            start = off
            n, off = _read_varint(data, off)
            try:
                v = _dt.date.fromordinal(n)
            except (ValueError, OverflowError):
                _bad(data, start, "date out of range")
        elif kind == K_TIME:
            start = off
            n, off = _read_varint(data, off)
            s, us = divmod(n, 1_000_000)
            m, s = divmod(s, 60)
            h, m = divmod(m, 60)
            try:
                v = _dt.time(h, m, s, us)
            except (ValueError, OverflowError):
                _bad(data, start, "time out of range")
        elif kind == K_DATETIME:
            start = off
            n, off = _read_varint(data, off)
            try:
                v = _EPOCH + _dt.timedelta(microseconds=n)
            except (ValueError, OverflowError):
                _bad(data, start, "datetime out of range")
        else:
            _bad(data, off, f"unknown value kind {kind}")
        yield cid, v


def decode_row_dict(data):
    """{column id: value} of every stored (non-NULL) column, dropped ones included."""
    return dict(_iter_row(data))


def _py_decode_row(data, schema):
    """The values of the columns in `schema` (a sequence of column ids, or of objects
    with an `.id`, e.g. catalog.Column), in that order. A column the row does not hold
    (NULL, or added after the row was written) is None: defaults are the caller's.
    Stored ids not in `schema` (dropped columns) are ignored."""
    ids = [c if isinstance(c, int) else c.id for c in schema]
    pos = {cid: i for i, cid in enumerate(ids)}
    out = [None] * len(ids)
    for cid, v in _iter_row(data):
        i = pos.get(cid)
        if i is not None:
            out[i] = v
    return out


def column_ids(schema):
    """The tuple of column ids of `schema` (ids, or objects with an `.id`): compute it
    once per table for decode_row_ids."""
    return tuple(c if isinstance(c, int) else c.id for c in schema)


try:
    from .. import _speedups as _c
except ImportError:                         # not built: the pure-Python reference
    _c = None
else:
    _c._init(CorruptionError, Decimal, _py_decode_row)


if _c is not None:
    _c_encode_row = _c.encode_row
    # The fast entry point: the C function itself (it calls _py_decode_row for the
    # rare inputs it declines, e.g. varints over 64 bits).
    decode_row_ids = _c_decode_row = _c.decode_row

    def encode_row(values, types=None):
        r = _c_encode_row(values, types)
        return _py_encode_row(values, types) if r is NotImplemented else r

    def decode_row(data, schema):
        return _c_decode_row(data, schema)

    _c_encode_row_ids = _c.encode_row_ids

    def encode_row_ids(ids, values):
        """encode_row(dict(zip(ids, values))) for hot paths: `ids` a tuple of column
        ids (column_ids()), `values` a list or tuple aligned with it."""
        r = _c_encode_row_ids(ids, values)
        return _py_encode_row(dict(zip(ids, values))) if r is NotImplemented else r

    encode_row.__doc__ = _py_encode_row.__doc__
    decode_row.__doc__ = _py_decode_row.__doc__
else:
    encode_row = _py_encode_row
    decode_row = decode_row_ids = _py_decode_row

    def encode_row_ids(ids, values):
        """encode_row(dict(zip(ids, values))) for hot paths."""
        return _py_encode_row(dict(zip(ids, values)))
