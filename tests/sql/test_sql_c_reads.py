"""The SQL layer's reads from C (lightning/_speedups_txn.c through select.PointRunner's
`c_point_row` and access.Access._index_rows's `_c_index_rows`): point SELECTs by
INTEGER PRIMARY KEY and index-equality SELECTs (a non-unique index, a DESC index
column, a two-column index with both columns pinned, DATE and NUMERIC indexes) give
exactly what sqlite3 gives on the same data (and, for the types sqlite3 stores
differently, the values inserted): every value type, more matches than the C limit
(16: the Python path takes over), the transaction's own uncommitted inserts, updates and
deletes, rolled-back changes. The C path must really be taken, and a row the C decoder
declines must read as the Python decoder reads it (or raise the same error)."""

import datetime as dt
import os
import sqlite3
import tempfile
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lightning
from lightning import CorruptionError
from lightning.sql import access as access_mod
from lightning.sql import catalog, rowcodec
from lightning.sql import select as select_mod

from lightning import _speedups as sp   # required: conftest.py

DDL = ("CREATE TABLE t (id INTEGER PRIMARY KEY, g INTEGER, r REAL, s TEXT, b BLOB, "
       "h INTEGER, k TEXT, d NUMERIC(10,2), day DATE, ts TIMESTAMP)")
INDEXES = ["CREATE INDEX t_g ON t (g)", "CREATE INDEX t_s ON t (s DESC)",
           "CREATE INDEX t_hk ON t (h, k)", "CREATE INDEX t_day ON t (day)",
           "CREATE INDEX t_d ON t (d)"]
COLUMNS = ["id", "g", "r", "s", "b", "h", "k", "d", "day", "ts"]
LITE = "id, g, r, s, b, h, k"           # the columns sqlite3 stores as lightning does
NCOL = 10
C_LIMIT = access_mod.C_INDEX_LIMIT

TEXTS = ["", "a", "é", "ß€\U0001d11e", "日本語", "a\x00b", "Z" * 40]
DAYS = [dt.date(1, 1, 1), dt.date(2020, 2, 29), dt.date(9999, 12, 31)]
DECS = [Decimal("0.00"), Decimal("1.50"), Decimal("-12345678.99")]


def make_rows(n=70):
    """Rows with every value type and NULLs; g = 1, s = "ß€𝄞", (h, k) = (7, "é"),
    day = 2020-02-29 and d = 1.50 each match more than C_LIMIT rows."""
    rows = []
    for i in range(1, n + 1):
        rows.append((
            i,
            None if i % 9 == 0 else (1 if i % 3 else i % 5),
            None if i % 11 == 0 else [0.0, -0.0, 1.5, -2.25e300, 5e-324, 1e16][i % 6] + i,
            None if i % 13 == 0 else TEXTS[3] if i % 2 else TEXTS[i % len(TEXTS)],
            None if i % 7 == 0 else bytes([i % 256, 0, 255]) * (i % 4),
            None if i % 10 == 0 else (7 if i % 4 else i % 3),
            None if i % 12 == 0 else ("é" if i % 5 else TEXTS[i % len(TEXTS)]),
            None if i % 8 == 0 else DECS[i % 3 if i % 4 else 1],
            None if i % 14 == 0 else DAYS[i % 3 if i % 4 else 1],
            None if i % 6 == 0 else dt.datetime(2000 + i, 1 + i % 12, 1 + i % 28,
                                                i % 24, i % 60, i % 60, i * 1001),
        ))
    return rows


class Pair:
    """The same table in lightning (all columns), in sqlite3 (LITE columns) and in a
    Python model {id: row} for the columns sqlite3 stores otherwise."""

    def __init__(self, path, rows):
        self.con = lightning.connect(path)
        self.lite = sqlite3.connect(":memory:")
        self.con.execute(DDL)
        self.lite.execute(DDL)
        for ix in INDEXES:
            self.con.execute(ix)
            self.lite.execute(ix)
        self.model = {}
        self.insert(rows)
        self.commit()

    def insert(self, rows):
        self.con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self.lite.executemany("INSERT INTO t (id, g, r, s, b, h, k) VALUES (?, ?, ?, ?, ?, ?, ?)",
                              [r[:7] for r in rows])
        for r in rows:
            self.model[r[0]] = tuple(r)

    def update(self, pk, **cols):
        sets = ", ".join(f"{c} = ?" for c in cols)
        self.con.execute(f"UPDATE t SET {sets} WHERE id = ?", (*cols.values(), pk))
        lite = {c: v for c, v in cols.items() if c in LITE.split(", ")}
        if lite:
            self.lite.execute(f"UPDATE t SET {', '.join(f'{c} = ?' for c in lite)} "
                              "WHERE id = ?", (*lite.values(), pk))
        row = list(self.model[pk])
        for c, v in cols.items():
            row[COLUMNS.index(c)] = v
        self.model[pk] = tuple(row)

    def delete(self, pk):
        self.con.execute("DELETE FROM t WHERE id = ?", (pk,))
        self.lite.execute("DELETE FROM t WHERE id = ?", (pk,))
        self.model.pop(pk, None)

    def commit(self):
        self.con.commit()
        self.lite.commit()

    def snapshot(self):
        return dict(self.model)

    def rollback(self, model):
        self.con.rollback()
        self.lite.rollback()
        self.model = model

    def close(self):
        self.con.close()
        self.lite.close()

    # -- comparisons --

    def run(self, sql, params, times=2):
        """The lightning rows of `sql`, run `times` times (the driver learns its fast
        path on the first run): every run must give the same rows."""
        out = [sorted(self.con.execute(sql, params).fetchall(), key=repr)
               for _ in range(times)]
        assert all(o == out[0] for o in out), sql
        return out[0]

    def same_as_sqlite(self, where, params):
        sql = f"SELECT {LITE} FROM t WHERE {where}"
        got = self.run(sql, params)
        want = sorted(self.lite.execute(sql, params).fetchall(), key=repr)
        assert got == want, (where, params)
        return got

    def same_as_model(self, where, params, match):
        got = self.run(f"SELECT * FROM t WHERE {where}", params)
        want = sorted((r for r in self.model.values() if match(r)), key=repr)
        assert got == want, (where, params)
        assert all(type(a) is type(b) for g, w in zip(got, want) for a, b in zip(g, w))
        return got

    def check_all(self, extra_ids=(), extra_g=(), extra_s=()):
        """Every lookup form for the values present and some absent ones."""
        rows = list(self.model.values())
        ids = {r[0] for r in rows} | {0, -1, 10 ** 6, *extra_ids}
        for i in sorted(ids):
            self.same_as_sqlite("id = ?", (i,))
            self.same_as_model("id = ?", (i,), lambda r, i=i: r[0] == i)
        for g in sorted({r[1] for r in rows if r[1] is not None} | {-5, 99, *extra_g}):
            self.same_as_sqlite("g = ?", (g,))
            self.same_as_model("g = ?", (g,), lambda r, g=g: r[1] == g)
        for s in sorted({r[3] for r in rows if r[3] is not None} | {"nope", *extra_s}):
            self.same_as_sqlite("s = ?", (s,))
            self.same_as_model("s = ?", (s,), lambda r, s=s: r[3] == s)
        for h, k in sorted({(r[5], r[6]) for r in rows if None not in (r[5], r[6])} |
                           {(7, "nope"), (-1, "é")}):
            self.same_as_sqlite("h = ? AND k = ?", (h, k))
            self.same_as_model("h = ? AND k = ?", (h, k),
                               lambda r, h=h, k=k: r[5] == h and r[6] == k)
        for day in DAYS + [dt.date(2000, 1, 1)]:
            self.same_as_model("day = ?", (day,), lambda r, day=day: r[8] == day)
        for d in DECS + [Decimal("3.33")]:
            self.same_as_model("d = ?", (d,), lambda r, d=d: r[7] == d)
        # NULL never matches `=`
        self.same_as_sqlite("g = ?", (None,))
        self.same_as_sqlite("s = ?", (None,))


@pytest.fixture
def pair(tmp_path):
    p = Pair(str(tmp_path / "c.ldb"), make_rows())
    yield p
    p.close()


@pytest.fixture
def calls(monkeypatch):
    """Counting wrappers around the C entry points: a list of
    ("point" | "index", returned NotImplemented?) per call."""
    seen = []
    assert select_mod.c_point_row is sp.point_row and select_mod.c_pk_row is sp.pk_row
    assert select_mod.c_index_point is sp.index_point
    assert access_mod._c_index_rows is sp.index_rows

    def counting(module, name, kind):
        real = getattr(module, name)

        def wrapper(*a):
            out = real(*a)
            seen.append((kind, out is NotImplemented))
            return out
        monkeypatch.setattr(module, name, wrapper)
    counting(select_mod, "c_point_row", "point")
    counting(select_mod, "c_pk_row", "point")
    counting(select_mod, "c_index_point", "index")
    counting(access_mod, "_c_index_rows", "index")
    return seen


def test_c_path_is_taken(pair, calls):
    con = pair.con
    for _ in range(3):
        assert con.execute("SELECT id, s FROM t WHERE id = ?", (5,)).fetchall() == \
            [(5, TEXTS[3])]
    assert ("point", False) in calls
    calls.clear()
    zero = [(i,) for i in sorted(pair.model) if pair.model[i][1] == 0]
    assert 0 < len(zero) <= C_LIMIT
    for _ in range(3):
        assert sorted(con.execute("SELECT id FROM t WHERE g = ?", (0,)).fetchall()) == zero
    assert calls and all(c == ("index", False) for c in calls)
    calls.clear()
    assert pair.same_as_sqlite("s = ?", (TEXTS[2],))
    assert ("index", False) in calls
    calls.clear()
    pair.same_as_sqlite("h = ? AND k = ?", (1, TEXTS[5 % len(TEXTS)]))
    assert ("index", False) in calls
    calls.clear()
    # the statement's normal path (a literal, no fast path) reads through C too
    assert sorted(con.execute("SELECT id FROM t WHERE g = 0").fetchall()) == zero
    assert ("index", False) in calls


def test_more_matches_than_the_c_limit(pair, calls):
    big = [r for r in pair.model.values() if r[1] == 1]
    assert len(big) > C_LIMIT
    got = pair.same_as_sqlite("g = ?", (1,))
    assert len(got) == len(big)
    assert ("index", True) in calls             # C declined: the Python scan answered
    calls.clear()
    assert len(pair.same_as_sqlite("s = ?", (TEXTS[3],))) > C_LIMIT
    assert len(pair.same_as_sqlite("h = ? AND k = ?", (7, "é"))) > C_LIMIT
    assert ("index", True) in calls
    # exactly the limit, and one over it
    pair.con.execute("DELETE FROM t")
    pair.lite.execute("DELETE FROM t")
    pair.model.clear()
    rows = [(i, 3, None, "x", None, None, None, None, None, None)
            for i in range(1, C_LIMIT + 1)]
    pair.insert(rows)
    calls.clear()
    assert len(pair.same_as_sqlite("g = ?", (3,))) == C_LIMIT
    assert calls and ("index", True) not in calls
    pair.insert([(C_LIMIT + 1, 3, None, "x", None, None, None, None, None, None)])
    calls.clear()
    assert len(pair.same_as_sqlite("g = ?", (3,))) == C_LIMIT + 1
    assert ("index", True) in calls


def test_every_lookup_matches_sqlite(pair):
    pair.check_all()


def test_read_your_writes_and_rollback(pair, calls):
    pair.check_all()                          # learns the fast paths, begins a txn
    before = pair.snapshot()
    pair.insert([(100, 0, 2.5, "é", b"\x00", 7, "é", Decimal("1.50"), DAYS[1],
                  dt.datetime(2001, 2, 3)),
                 (101, 42, None, "new ☃", None, 42, "k", None, None, None)])
    pair.update(15, g=42, s="new ☃", h=42, k="k", d=Decimal("0.00"), day=DAYS[0])
    pair.update(2, r=None, s=None, b=b"", ts=None)
    pair.update(3, g=0)
    pair.delete(30)                           # g = 0 before
    pair.delete(4)
    assert pair.con.in_transaction
    calls.clear()
    pair.check_all(extra_ids=(30, 4, 100, 101), extra_g=(42,), extra_s=("new ☃",))
    assert ("index", False) in calls and ("point", False) in calls
    assert sorted(pair.con.execute("SELECT id FROM t WHERE g = ?", (0,)).fetchall()) == \
        [(i,) for i in sorted(pair.model) if pair.model[i][1] == 0]
    # a rolled-back change is not visible
    pair.rollback(before)
    pair.check_all(extra_ids=(30, 4, 100, 101), extra_g=(42,), extra_s=("new ☃",))
    assert pair.con.execute("SELECT id FROM t WHERE g = ?", (42,)).fetchall() == []
    assert pair.con.execute("SELECT * FROM t WHERE id = ?", (101,)).fetchall() == []
    # the same changes committed, then read by a new transaction
    pair.update(15, g=42)
    pair.delete(30)
    pair.commit()
    pair.check_all(extra_ids=(30,), extra_g=(42,))


def test_savepoint_rollback_is_not_visible(pair):
    con = pair.con
    zero = sorted(i for i in pair.model if pair.model[i][1] == 0)
    assert 15 in zero and 1 not in zero

    def ids(g):
        return [i for i, in sorted(con.execute("SELECT id FROM t WHERE g = ?", (g,)))]
    for _ in range(2):
        assert ids(0) == zero
    con.execute("SAVEPOINT a")
    con.execute("UPDATE t SET g = 0 WHERE id = 1")
    con.execute("DELETE FROM t WHERE id = 15")
    for _ in range(2):
        assert ids(0) == sorted({1, *zero} - {15})
        assert con.execute("SELECT g FROM t WHERE id = ?", (15,)).fetchall() == []
    con.execute("ROLLBACK TO a")
    for _ in range(2):
        assert ids(0) == zero
        assert con.execute("SELECT g FROM t WHERE id = ?", (15,)).fetchall() == [(0,)]
    con.rollback()


def test_long_indexed_values(tmp_path):
    # 14 entries of ~400 bytes: more than one 4096-byte batch, fewer than the limit
    v = "é" * 200
    rows = [(i, None, None, v, None, None, None, None, None, None) for i in range(1, 15)]
    p = Pair(str(tmp_path / "long.ldb"), rows)
    try:
        assert len(p.same_as_sqlite("s = ?", (v,))) == 14
    finally:
        p.close()


# ---- random data ---------------------------------------------------------------------

G = st.one_of(st.none(), st.integers(-2, 3))
S = st.one_of(st.none(), st.sampled_from(["", "a", "é", "ß€\U0001d11e", "x" * 30]))
ROW = st.tuples(G, st.one_of(st.none(), st.floats(allow_nan=False)), S,
                st.one_of(st.none(), st.binary(max_size=8)), st.one_of(st.none(), G), S)
OPS = st.lists(st.tuples(st.sampled_from(["update", "delete", "insert"]),
                         st.integers(1, 60), ROW), max_size=12)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rows=st.lists(ROW, max_size=60), ops=OPS)
def test_random_rows_match_sqlite(rows, ops):
    full = [(i + 1, g, r, s, b, h, k, None, None, None)
            for i, (g, r, s, b, h, k) in enumerate(rows)]
    with tempfile.TemporaryDirectory() as d:
        p = Pair(os.path.join(d, "h.ldb"), full)
        try:
            p.check_all()
            before = p.snapshot()
            for op, pk, (g, r, s, b, h, k) in ops:          # uncommitted changes
                if op == "delete":
                    p.delete(pk)
                elif pk in p.model:
                    p.update(pk, g=g, r=r, s=s, b=b, h=h, k=k)
                else:
                    p.insert([(pk, g, r, s, b, h, k, None, None, None)])
            p.check_all(extra_ids=range(1, 61))
            p.rollback(before)
            p.check_all(extra_ids=range(1, 61))
        finally:
            p.close()


# ---- rows the C decoder declines -------------------------------------------------------

HUGE = rowcodec._py_encode_row({1: 2 ** 70, 2: "x", 3: -(2 ** 100)})   # varints > 64 bits
TRUNC = b"\x01\x11" + b"\xff" * 12          # an over-long varint that then runs out
BADHEAD = b"\x01" + b"\xff" * 10 + b"\x01"  # an over-long column header


def outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except Exception as e:                   # noqa: BLE001 - the type is compared
        return "raised", type(e)


@pytest.mark.parametrize("raw", [HUGE, TRUNC, BADHEAD], ids=["huge", "trunc", "badhead"])
def test_declined_row_point_row_matches_python(dbpath, raw):
    db = lightning.open(dbpath)
    try:
        db.put(b"row", raw)
        t = db.transaction()
        for ids in [(1, 2, 3), (3,), (2,), ()]:
            want = outcome(rowcodec._py_decode_row, raw, ids)
            assert outcome(rowcodec.decode_row_ids, raw, ids) == want
            got = outcome(sp.point_row, t._reader, b"row", ids)
            if want[0] == "ok":
                assert got == ("ok", [tuple(want[1])])
            else:
                assert got == want
            assert not t._lock.locked()
        t.rollback()
    finally:
        db.close()


def test_declined_row_through_sql(tmp_path, monkeypatch):
    """A stored row with a 70-bit INTEGER (only a hand-written value can hold one) and
    a malformed row read by point and index SELECTs: the C path gives what the Python
    path gives."""
    con = lightning.connect(str(tmp_path / "d.ldb"))
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, g INTEGER, s TEXT)")
    con.execute("CREATE INDEX t_g ON t (g)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", [(1, 5, "a"), (2, 5, "b"), (3, 6, "c")])
    con.commit()
    with con.kv.transaction() as txn:
        table = catalog.load_table(txn, "t")
        ids = {c.name: c.id for c in table.columns}
        keys = dict((rowcodec.decode_row(v, table.columns)[0], k)
                    for k, v in txn.scan(prefix=catalog.row_prefix(table.id)))
        txn.put(keys[1], rowcodec._py_encode_row({ids["id"]: 1, ids["g"]: 5,
                                                  ids["s"]: "x" * 2 ** 7,
                                                  99: 2 ** 80}))       # a dropped id
        txn.put(keys[3], b"\x01" + bytes([(ids["g"] << 4) | 1]) + b"\xff" * 11)

    def results():
        out = []
        for sql, params in [("SELECT * FROM t WHERE id = ?", (1,)),
                            ("SELECT * FROM t WHERE id = ?", (3,)),
                            ("SELECT id, s FROM t WHERE g = ?", (5,)),
                            ("SELECT * FROM t WHERE g = ?", (6,))]:
            for _ in range(2):
                r = outcome(lambda: sorted(con.execute(sql, params).fetchall()))
                out.append(r)
        con.rollback()
        return out

    with_c = results()
    monkeypatch.setattr(select_mod, "c_point_row", lambda *a: NotImplemented)
    monkeypatch.setattr(access_mod, "_c_index_rows", lambda *a: NotImplemented)
    without_c = results()
    assert with_c == without_c
    assert with_c[0] == ("ok", [(1, 5, "x" * 2 ** 7)])
    assert with_c[2] == ("raised", CorruptionError)
    assert with_c[4] == ("ok", [(1, "x" * 2 ** 7), (2, "b")])
    assert with_c[6] == ("raised", CorruptionError)
    con.close()


# ---- other primary keys, and serializable validation through SQL ----------------------

def test_text_and_composite_primary_keys(tmp_path, calls):
    con = lightning.connect(str(tmp_path / "pk.ldb"))
    lite = sqlite3.connect(":memory:")
    rows = [("é", 1, b"\x00"), ("", 2, None), ("ß€\U0001d11e", None, b""), ("a\x00b", 4, b"z")]
    for c in (con, lite):
        c.execute("CREATE TABLE p (name TEXT PRIMARY KEY, n INTEGER, b BLOB)")
        c.execute("CREATE TABLE q (a INTEGER, b TEXT, v REAL, PRIMARY KEY (a, b))")
        c.executemany("INSERT INTO p VALUES (?, ?, ?)", rows)
        c.executemany("INSERT INTO q VALUES (?, ?, ?)",
                      [(i % 3, s, i / 7) for i, (s, _, _) in enumerate(rows)])
        c.commit()
    for sql, params in [("SELECT * FROM p WHERE name = ?", (r[0],)) for r in rows] + \
            [("SELECT * FROM p WHERE name = ?", ("nope",))] + \
            [("SELECT v, b FROM q WHERE a = ? AND b = ?", (i % 3, r[0]))
             for i, r in enumerate(rows)] + \
            [("SELECT v FROM q WHERE a = ? AND b = ?", (1, "é"))]:
        for _ in range(2):
            assert con.execute(sql, params).fetchall() == lite.execute(sql, params).fetchall()
    assert ("point", False) in calls
    con.close()
    lite.close()


def test_serializable_conflicts_through_sql(tmp_path, calls):
    path = str(tmp_path / "s.ldb")
    con, other = lightning.connect(path), lightning.connect(path)
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, g INTEGER)")
    con.execute("CREATE INDEX t_g ON t (g)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(1, 1), (2, 1), (3, 2)])
    con.execute("CREATE TABLE log (x INTEGER)")
    con.commit()

    def read_then(change, read):
        for _ in range(2):
            calls.clear()
            read()
        assert calls and all(not declined for _, declined in calls)   # read via C
        other.execute(*change)
        other.commit()
        con.execute("INSERT INTO log VALUES (1)")
        with pytest.raises(lightning.ConflictError):
            con.commit()
        con.rollback()

    def point():
        assert con.execute("SELECT g FROM t WHERE id = ?", (3,)).fetchall() == [(2,)]
        assert con._txn.isolation == "serializable"

    def absent():
        assert con.execute("SELECT g FROM t WHERE id = ?", (9,)).fetchall() == []

    def index():
        assert sorted(con.execute("SELECT id FROM t WHERE g = ?", (1,))) == [(1,), (2,)]

    read_then(("UPDATE t SET g = 5 WHERE id = 3",), point)
    other.execute("UPDATE t SET g = 2 WHERE id = 3")
    other.commit()
    read_then(("INSERT INTO t VALUES (9, 9)",), absent)            # an absent row
    other.execute("DELETE FROM t WHERE id = 9")
    other.commit()
    read_then(("INSERT INTO t VALUES (4, 1)",), index)             # a phantom
    other.execute("DELETE FROM t WHERE id = 4")
    other.commit()
    read_then(("UPDATE t SET g = 7 WHERE id = 2",), index)         # a row leaves
    other.execute("UPDATE t SET g = 1 WHERE id = 2")
    other.commit()
    # the same reads with an unrelated concurrent change commit fine
    for _ in range(2):
        point(), index()
    other.execute("INSERT INTO t VALUES (50, 50)")
    other.commit()
    con.execute("INSERT INTO log VALUES (2)")
    con.commit()
    con.close()
    other.close()


# ---- pk_row: the fused point read of the driver's fast path ------------------------

def test_pk_row_matches_point_row_and_declines(dbpath):
    """pk_row(reader, prefix, params, nparams, cols, plain, ids) reads what
    point_row reads at prefix + encode_key([params[k]]), and declines (NotImplemented)
    every input the Python runner would treat differently."""
    from lightning.sql.types import PLAIN_TYPES
    from lightning.sql.keycodec import encode_key
    db = lightning.open(dbpath)
    try:
        prefix, ids = b"T", (1, 2)
        for i in (-300, -1, 0, 1, 255, 256, 2 ** 40):
            db.put(prefix + encode_key([i]), rowcodec.encode_row({1: i, 2: str(i)}))
        t = db.transaction()
        r = t._reader
        lo, hi = -(2 ** 63), 2 ** 63 - 1

        def pk(params, nparams=1, k=0, lo=lo, hi=hi, plain=PLAIN_TYPES):
            return sp.pk_row(r, prefix, params, nparams, ((k, 1, lo, hi, -1, False),),
                             plain, ids)
        for i in (-300, -1, 0, 1, 255, 256, 2 ** 40, 7, -(2 ** 63), 2 ** 63 - 1):
            want = sp.point_row(r, prefix + encode_key([i]), ids)
            assert pk((i,)) == want == ([(i, str(i))] if want else [])
        assert pk(("x", 256), nparams=2, k=1) == [(256, "256")]
        for params, kw in [((1, 2), {}),                  # wrong count
                           ([1], {}),                       # not a tuple
                           ((True,), {}),                   # bool: not an exact int
                           ((1.0,), {}),                    # float
                           ((2 ** 63,), {}),                # past int64
                           ((300,), {"hi": 299}),           # past the column's range
                           ((-2,), {"lo": -1}),
                           ((1, bytearray(b"x")), {"nparams": 2}),  # not a plain type
                           ((1,), {"k": 1}),                # k out of range
                           ((1,), {"plain": {int}})]:       # not a frozenset
            assert pk(params, **kw) is NotImplemented, (params, kw)
        with t._lock:                                     # busy lock: declined
            assert pk((1,)) is NotImplemented
        assert not t._lock.locked()
        t.rollback()
        assert pk((1,)) is NotImplemented                 # ended transaction
    finally:
        db.close()


def test_index_point_is_used_and_declines(pair, calls):
    """Index equalities on ? parameters that make up the whole WHERE go through
    index_point (one C call); other shapes and values take the other paths, and every
    answer matches sqlite3."""
    con = pair.con
    for where, params in [("g = ?", (0,)), ("s = ?", (TEXTS[2],)),
                          ("h = ? AND k = ?", (1, "é")), ("k = ? AND h = ?", ("é", 1))]:
        calls.clear()
        pair.same_as_sqlite(where, params)
        assert ("index", False) in calls, where
    # values index_point does not take as they are: declined, Python answers
    for where, params in [("g = ?", (0.0,)), ("g = ?", (True,)), ("g = ?", (None,))]:
        calls.clear()
        pair.same_as_sqlite(where, params)
        assert ("index", True) in calls, (where, params)  # index_point declined
    for params in [(2 ** 63,), ("lone \ud800",)]:          # sqlite3 cannot take these
        for _ in range(2):
            assert con.execute("SELECT id FROM t WHERE g = ?", params).fetchall() == []
    # an extra condition: not the fused path (the filter must run), still right
    pair.same_as_sqlite("g = ? AND id > ?", (0, 10))
    pair.same_as_sqlite("g = ? AND g = ?", (0, 1))


def test_index_point_direct_declines(pair):
    from lightning.sql.types import PLAIN_TYPES
    con = pair.con
    con.execute("SELECT id FROM t WHERE id = ?", (1,)).fetchall()     # begins one
    r = con._txn._reader
    col = (0, 1, -(2 ** 63), 2 ** 63 - 1, -1, False)

    def ip(params, nparams=1, cols=(col,), plain=PLAIN_TYPES, limit=C_LIMIT):
        return sp.index_point(r, b"\x7f", params, nparams, cols, plain, b"\x7e", (1,),
                              limit)
    for params, kw in [((1, 2), {}), ([1], {}), ((1.5,), {}), ((True,), {}),
                       ((1,), {"limit": 65}), ((1,), {"plain": {int}}),
                       ((1,), {"cols": ((1, 1, 0, 9, -1, False),)}),     # k out of range
                       ((1,), {"cols": ((0, 1, 5, 9, -1, False),)}),     # below lo
                       (("abcd",), {"cols": ((0, 3, 0, 0, 3, False),)}),  # too long
                       ((bytearray(b"x"),), {}),
                       ((1,), {"cols": ((0, 1, 0),)})]:                   # bad spec
        assert ip(params, **kw) is NotImplemented, (params, kw)
    assert ip((1,)) == []                                  # (nothing under 0x7f)
    con.rollback()
