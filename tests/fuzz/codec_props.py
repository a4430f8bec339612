"""The promises the SQL value decoders keep on arbitrary bytes, checked by the atheris
fuzz targets (fuzz_rows.py, fuzz_keys.py) and by test_fuzz_corpus.py, which replays
their seeds and kept regression inputs under pytest.

For the row codec (lightning/sql/rowcodec.py, C: lightning/_speedups_rows.c) and the
key codec (lightning/sql/keycodec.py, C: lightning/_speedups_keys.c):

  * decoding any bytes either returns values or raises a PEP 249 DatabaseError
    (CorruptionError for malformed bytes), never another exception, never a crash;
  * the C decoder and the pure-Python reference agree: the same values (same types,
    same reprs, so -0.0, NaNs and Decimal exponents count) and offsets, or both raise.
    The C key decoder may decline (NotImplemented): the reference then decides.

A broken promise raises AssertionError (atheris reports it with the input).
"""

import lightning.errors as errors
from lightning.sql import keycodec, rowcodec

try:
    from lightning import _speedups as _c
except ImportError:                     # not built: only the Python promises are checked
    _c = None

# Column ids a fuzzed row is decoded for: small ones (rows use those), a gap, big ones.
ROW_SCHEMA = tuple(range(16)) + (40, 1000, 1 << 40)


def _canon(values):
    """Values as comparable data: (type name, repr) of each."""
    return [(type(v).__name__, repr(v)) for v in values]


def _outcome(fn, *args):
    """('ok', result) or ('error', exception class); anything but a DatabaseError is a
    broken promise."""
    try:
        return "ok", fn(*args)
    except errors.DatabaseError as e:
        assert str(e), f"{type(e).__name__} without a message"
        return "error", type(e)
    except Exception as e:  # noqa: BLE001 - the promise is about every other class
        raise AssertionError(f"{fn.__qualname__} raised {type(e).__name__}: {e!r}") from e


def check_row(data):
    """The row decoders' promises on `data` (bytes)."""
    py = _outcome(rowcodec._py_decode_row, data, ROW_SCHEMA)
    as_dict = _outcome(rowcodec.decode_row_dict, data)
    assert py[0] == as_dict[0], f"decode_row {py[0]}, decode_row_dict {as_dict[0]}"
    if _c is not None:
        c = _outcome(_c.decode_row, data, ROW_SCHEMA)
        assert c[0] == py[0], f"C {c}, Python {py}"
        if c[0] == "ok":
            assert _canon(c[1]) == _canon(py[1]), f"C {c[1]!r}, Python {py[1]!r}"


def split_key_input(data):
    """A key fuzz input: byte 0 gives the element count (low 2 bits + 1) and which
    elements are DESC (the next 4 bits); the rest is the key."""
    if not data:
        return b"", 1, None
    count = (data[0] & 3) + 1
    flags = [bool(data[0] >> (2 + i) & 1) for i in range(count)]
    return bytes(data[1:]), count, (flags if any(flags) else None)


def check_key(data):
    """The key decoders' promises on a fuzz input (see split_key_input)."""
    key, count, flags = split_key_input(data)
    py = _outcome(keycodec._py_decode_key, key, count, flags)
    if py[0] == "ok":
        values, off = py[1]
        assert len(values) == count and 0 <= off <= len(key)
    for desc in (False, True):
        _outcome(keycodec.decode_value, key, 0, desc)
    if keycodec._c_decode_key is not None:
        c = _outcome(keycodec._c_decode_key, key, count, flags, 0)
        if c[0] == "ok" and c[1] is NotImplemented:
            return
        assert c[0] == py[0], f"C {c}, Python {py}"
        if c[0] == "ok":
            assert _canon(c[1][0]) == _canon(py[1][0]) and c[1][1] == py[1][1], \
                f"C {c[1]!r}, Python {py[1]!r}"
