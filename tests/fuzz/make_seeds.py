"""Writes the seed corpora of the Python fuzz targets with the real encoders:
tests/fuzz/corpus/rows/ (row values) and tests/fuzz/corpus/keys/ (keys, behind the
one-byte header of codec_props.split_key_input). Deterministic; run by hand after a
format change:  python tests/fuzz/make_seeds.py"""

import datetime as dt
import os
from decimal import Decimal

from lightning.sql.keycodec import encode_key
from lightning.sql.rowcodec import encode_row

HERE = os.path.dirname(os.path.abspath(__file__))

ROWS = [
    {},
    {1: 7, 3: "hi", 4: None},
    {0: -5, 1: 1.5, 2: True, 3: False, 4: b"\x00\xff", 5: "h\u00e9\u2603"},
    {1: Decimal("1.50"), 2: Decimal("-0.000123"), 3: Decimal("1E+30")},
    {1: dt.date(2024, 2, 29), 2: dt.time(23, 59, 59, 999999), 3: dt.datetime(1, 1, 1),
     4: dt.datetime(9999, 12, 31, 23, 59, 59, 999999)},
    {15: -(1 << 63), 40: (1 << 63) - 1, 1000: float("-inf"), 2: float("nan")},
    {(1 << 40): "far", 7: "x" * 40},
]

# (values, directions)
KEYS = [
    ((None,), None),
    ((0, -1, 256, -257), None),
    (((1 << 63) - 1, -(1 << 63)), (True, False)),
    ((1.0, -0.0, float("inf"), float("nan")), None),
    (("a\x00b", b"\x00\xff\x01"), (False, True)),
    ((Decimal("1.5"), Decimal("-150"), Decimal(0), Decimal("NaN")), None),
    ((Decimal("-1.5"), Decimal("Infinity")), (True, False)),
    ((dt.date(2000, 1, 1), dt.time(12, 0), dt.datetime(2020, 5, 17, 1, 2, 3)), None),
    ((True, False, "text"), (True, True, False)),
]


def key_input(values, directions):
    n = len(values)
    head = n - 1
    for i, d in enumerate(directions or ()):
        head |= int(d) << (2 + i)
    return bytes([head]) + encode_key(values, directions)


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    for i, row in enumerate(ROWS):
        write("rows", f"row-{i}", encode_row(row))
    for i, (values, directions) in enumerate(KEYS):
        write("keys", f"key-{i}", key_input(values, directions))


if __name__ == "__main__":
    main()
