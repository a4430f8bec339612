"""executemany() INSERT takes a C path (_speedups.insert_row) for rows whose values
are storable as they are; it must leave exactly the bytes, rowcounts, lastrowids and
errors of the Python path (TableWriter.prepare_row + insert_items)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lightning
from conftest import stress
from lightning.sql import catalog, dml

C_INSERT = dml._c_insert_row
assert C_INSERT is not None, "lightning._speedups is built (conftest.py) but insert_row is missing"

SCHEMA = [
    "CREATE TABLE t (id INTEGER PRIMARY KEY, s VARCHAR(6) NOT NULL, n SMALLINT, "
    "f REAL, b BLOB, u TEXT UNIQUE, j JSON, flag BOOLEAN)",
    "CREATE INDEX t_sn ON t (s DESC, n)",
    "CREATE INDEX t_f ON t (f)",
    "CREATE TABLE k (a TEXT, b INTEGER, v TEXT, PRIMARY KEY (a, b))",
    "CREATE UNIQUE INDEX k_v ON k (v)",
]

ODD = st.one_of(
    st.none(), st.integers(-40000, 40000), st.sampled_from([2 ** 63 - 1, -2 ** 63, 2 ** 63]),
    st.floats(allow_nan=True), st.text(max_size=8), st.sampled_from(["\ud800", "é", "ab"]),
    st.binary(max_size=6), st.booleans())


def mostly(good):
    """Mostly values of the column's own type (so statements get far), sometimes NULL
    (5%) or anything else (3%)."""
    return st.integers(0, 99).flatmap(
        lambda p: st.none() if p < 5 else ODD if p < 8 else good)


ROW_T = st.tuples(st.one_of(st.none(), st.integers(1, 400)),
                  mostly(st.text(max_size=6)), mostly(st.integers(-33000, 33000)),
                  mostly(st.floats(allow_nan=True)), mostly(st.binary(max_size=5)),
                  mostly(st.text(max_size=3)), mostly(st.booleans()))
ROW_K = st.tuples(mostly(st.text(max_size=2)), mostly(st.integers(-3, 3)),
                  mostly(st.text(max_size=4)))


def open_db(use_c, monkeypatch):
    monkeypatch.setattr(dml, "_c_insert_row", C_INSERT if use_c else None)
    con = lightning.connect(":memory:")
    for sql in SCHEMA:
        con.execute(sql)
    con.commit()
    return con


# The auto-increment counters may differ: the C path draws a NULL id before it knows
# whether the row is valid (ids may have gaps, catalog.py), so they are left out.
COUNTERS = catalog.CATALOG + catalog.encode_key(("rowid",))[:-2]


def outcome(con, sql, rows):
    try:
        cur = con.executemany(sql, rows)
        res = ("ok", cur.rowcount, cur.lastrowid)
    except lightning.Error as e:
        res = (type(e).__name__, str(e))
    con.commit()
    return res, [kv for kv in con.kv.scan() if not kv[0].startswith(COUNTERS)]


@settings(max_examples=stress(60, 600), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(ROW_T, max_size=25), st.lists(ROW_K, max_size=15))
def test_c_path_matches_python_path(monkeypatch, rows_t, rows_k):
    statements = [
        ("INSERT INTO t (id, s, n, f, b, u, flag) VALUES (?, ?, ?, ?, ?, ?, ?)", rows_t),
        ("INSERT INTO t (s, n) VALUES (?, ?)", [(r[1], r[2]) for r in rows_t]),
        ("INSERT INTO k VALUES (?, ?, ?)", rows_k),
    ]
    for sql, rows in statements:        # each on fresh databases: ids start alike
        results = []
        for use_c in (True, False):
            con = open_db(use_c, monkeypatch)
            results.append(outcome(con, sql, rows))
            con.close()
        assert results[0] == results[1], sql


def test_c_path_is_taken(monkeypatch):
    calls = []
    real = C_INSERT

    def spy(*args):
        r = real(*args)
        calls.append(r)
        return r
    monkeypatch.setattr(dml, "_c_insert_row", spy)
    con = lightning.connect(":memory:")
    for sql in SCHEMA:
        con.execute(sql)
    con.executemany("INSERT INTO t (s, n, f, u) VALUES (?, ?, ?, ?)",
                    [("a", 1, 1.5, "x"), ("b", None, 2.0, None), ("c", 3, 1, "z")])
    assert calls == [True, True, False]      # 1 for a REAL column goes through coerce()
    assert con.execute("SELECT id, s, f FROM t ORDER BY id").fetchall() == [
        (1, "a", 1.5), (2, "b", 2.0), (3, "c", 1.0)]


def test_insert_row_rejects_malformed_input():
    bufs = tuple(bytearray() for _ in range(7))
    good = ((1,), (0,), (9,), (-1,), (False,), (1,), b"p", (0,), None, ())
    assert C_INSERT(good, [5], bufs, 0) is True
    assert [len(b) for b in bufs] == [len(b"p") + 2, 4, 3, 4, 1, 4, 4]
    bad_specs = [good[:9], good[:6] + ("p",) + good[7:], good[:8] + ((True, False),) + good[9:],
                 good[:9] + (("ix",),), good[:9] + (((None, b"q", (0,), (True, False), False),),),
                 ((1, 2),) + good[1:], ((1.0,),) + good[1:]]     # a float kind: no __index__
    for spec in bad_specs:
        with pytest.raises(TypeError):
            C_INSERT(spec, [5], bufs, 0)
    with pytest.raises(TypeError):
        C_INSERT(good, (5,), bufs, 0)
    with pytest.raises(TypeError):
        C_INSERT(good, [5], bufs[:6], 0)
    with pytest.raises(OverflowError):
        C_INSERT(good, [5], bufs, 2 ** 32)
    assert C_INSERT(good, [10], bufs, 1) is False        # above the column's range
    assert C_INSERT(good, ["x"], bufs, 1) is False       # another type: Python's
    assert [len(b) for b in bufs] == [len(b"p") + 2, 4, 3, 4, 1, 4, 4]   # untouched
