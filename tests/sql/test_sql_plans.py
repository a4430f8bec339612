"""Access paths (plan.py / access.py) through the DB-API: for each kind of plan the
EXPLAIN text, and the rows, compared with sqlite3 on the same data.

The table has a composite primary key (a INTEGER, b TEXT), a nullable INTEGER k with
an ASC index and a composite (k DESC, s) index, a TEXT s with a DESC index, a REAL r
without an index and an INTEGER u with a UNIQUE index. Data: negative numbers,
duplicates and NULLs in every indexed column. A hypothesis test then compares many
random conjunctions of `=`, IN, ranges and BETWEEN (plus ORDER BY ... LIMIT, which the
access path may serve without a sort) with SQLite's answers. Values compared with a
column are of its class only (SQLite's affinity would convert text and numbers), but
include NULL and non-integral numbers against the INTEGER columns, which exercise the
dropping of IN values and the fallback to a scan.
"""

import random
import sqlite3
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lightning
from conftest import stress

SCHEMA = [
    "CREATE TABLE t (a INTEGER NOT NULL, b TEXT NOT NULL, k INTEGER, s TEXT, r REAL, "
    "u INTEGER, PRIMARY KEY (a, b))",
    "CREATE INDEX t_k ON t (k)",
    "CREATE INDEX t_ks ON t (k DESC, s)",
    "CREATE INDEX t_sd ON t (s DESC)",
    "CREATE UNIQUE INDEX t_u ON t (u)",
]
TEXTS = ["", "a", "ab", "b", "B", "ba", "c", "z"]


def make_rows(rnd, n):
    rows, seen, us = [], set(), list(range(-n, n))
    rnd.shuffle(us)
    while len(rows) < n:
        a, b = rnd.randint(-4, 4), rnd.choice(TEXTS)
        if (a, b) in seen:
            continue
        seen.add((a, b))
        k = None if rnd.random() < 0.2 else rnd.randint(-3, 3)
        s = None if rnd.random() < 0.2 else rnd.choice(TEXTS)
        r = None if rnd.random() < 0.2 else rnd.randint(-8, 8) / 2
        u = None if rnd.random() < 0.3 else us.pop()
        rows.append((a, b, k, s, r, u))
    return rows


def load(rows):
    con = lightning.connect(":memory:")
    ref = sqlite3.connect(":memory:")
    for sql in SCHEMA:
        con.execute(sql)
        ref.execute(sql)
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", rows)
    ref.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", rows)
    return con, ref


@pytest.fixture(scope="module")
def dbs():
    con, ref = load(make_rows(random.Random(7), 40))
    yield con, ref
    con.close()
    ref.close()


def plan(con, sql, params=()):
    return [r[0] for r in con.execute("EXPLAIN " + sql, params).fetchall()]


def check(dbs, sql, params=(), ordered=False):
    con, ref = dbs
    got = [tuple(r) for r in con.execute(sql, params).fetchall()]
    want = ref.execute(sql, params).fetchall()
    if ordered:
        assert got == want, sql
    else:
        assert Counter(got) == Counter(want), sql
    return got


# ---------------------------------------------------------------- one test per plan kind

@pytest.mark.parametrize("where, params, text", [
    # primary key point and points
    ("a = ? AND b = ?", (1, "a"), "SEARCH t USING PRIMARY KEY (a=? AND b=?)"),
    ("a = 1 AND b IN ('a', 'z', 'a', 'q')", (),
     "SEARCH t USING PRIMARY KEY (a=1 AND b IN ('a', 'z', 'a', 'q'))"),
    ("a IN (3, -2, 2.5, NULL, 'x') AND b IN (?, ?)", ("a", "b"),
     "SEARCH t USING PRIMARY KEY (a IN (3, -2, 2.5, NULL, 'x') AND b IN (?, ?))"),
    # primary key ranges
    ("a = -1", (), "SEARCH t USING PRIMARY KEY RANGE (a=-1)"),
    ("a IN (2, -3)", (), "SEARCH t USING PRIMARY KEY RANGE (a IN (2, -3))"),
    ("a > -2 AND a <= 2", (), "SEARCH t USING PRIMARY KEY RANGE (a>-2 AND a<=2)"),
    ("a = 2 AND b >= 'b'", (), "SEARCH t USING PRIMARY KEY RANGE (a=2 AND b>='b')"),
    ("a IN (0, 1) AND b < 'b'", (),
     "SEARCH t USING PRIMARY KEY RANGE (a IN (0, 1) AND b<'b')"),
    ("a > 1.5", (), "SEARCH t USING PRIMARY KEY RANGE (a>1.5)"),    # falls back to a scan
    # a pk range beats a non-unique index; a unique point beats a pk range
    ("a > 0 AND k = 1", (), "SEARCH t USING PRIMARY KEY RANGE (a>0)"),
    ("a > 0 AND u = ?", (5,), "SEARCH t USING UNIQUE INDEX t_u (u=?)"),
    # unique index
    ("u = -3", (), "SEARCH t USING UNIQUE INDEX t_u (u=-3)"),
    ("u IS NULL", (), "SCAN t"),
    ("u = NULL", (), "SEARCH t USING UNIQUE INDEX t_u (u=NULL)"),
    ("u IN (1, 2, 3, -1)", (), "SEARCH t USING UNIQUE INDEX t_u (u IN (1, 2, 3, -1))"),
    ("u BETWEEN -5 AND 5", (), "SEARCH t USING UNIQUE INDEX t_u (u>=-5 AND u<=5)"),
    ("u < 0", (), "SEARCH t USING UNIQUE INDEX t_u (u<0)"),
    # non-unique index, ASC: equality, IN, ranges (NULLs excluded)
    ("k = 1", (), "SEARCH t USING INDEX t_k (k=1)"),
    ("k IN (1, -2, 1)", (), "SEARCH t USING INDEX t_k (k IN (1, -2, 1))"),
    ("k > 0", (), "SEARCH t USING INDEX t_k (k>0)"),
    ("k < 0", (), "SEARCH t USING INDEX t_k (k<0)"),
    ("k <= 0 AND k >= -1", (), "SEARCH t USING INDEX t_k (k>=-1 AND k<=0)"),
    ("0 < k", (), "SEARCH t USING INDEX t_k (k>0)"),
    ("k > ?", (0.5,), "SEARCH t USING INDEX t_k (k>?)"),           # falls back to a scan
    ("k > NULL", (), "SEARCH t USING INDEX t_k (k>NULL)"),
    # composite DESC index: equality prefix then a range on s
    ("k = 1 AND s > 'a'", (), "SEARCH t USING INDEX t_ks (k=1 AND s>'a')"),
    ("k IN (0, 2) AND s <= 'b'", (), "SEARCH t USING INDEX t_ks (k IN (0, 2) AND s<='b')"),
    ("k = ? AND s BETWEEN ? AND ?", (-1, "a", "c"),
     "SEARCH t USING INDEX t_ks (k=? AND s>=? AND s<=?)"),
    # single DESC index
    ("s > 'a'", (), "SEARCH t USING INDEX t_sd (s>'a')"),
    ("s < 'b'", (), "SEARCH t USING INDEX t_sd (s<'b')"),
    ("s >= 'B' AND s < 'c'", (), "SEARCH t USING INDEX t_sd (s>='B' AND s<'c')"),
    ("s IN ('a', '', 'zz')", (), "SEARCH t USING INDEX t_sd (s IN ('a', '', 'zz'))"),
    # no usable condition
    ("r > 1", (), "SCAN t"),
    ("k = 1 OR k = 2", (), "SCAN t"),
    ("k + 0 = 1", (), "SCAN t"),
])
def test_plan_text_and_rows(dbs, where, params, text):
    sql = "SELECT * FROM t WHERE " + where
    assert plan(dbs[0], sql, params) == [text, "FILTER (WHERE)"]
    check(dbs, sql, params)


def test_every_plan_kind_returns_rows(dbs):
    # the data set is not degenerate: the queries above see rows
    for where in ("a = -1", "k > 0", "k < 0", "s > 'a'", "s < 'b'", "u < 0",
                  "k = 1 AND s > 'a'"):
        assert check(dbs, "SELECT * FROM t WHERE " + where), where


# ---------------------------------------------------------------- ORDER BY served by keys

@pytest.mark.parametrize("sql, text", [
    ("SELECT * FROM t ORDER BY a, b LIMIT 7", "SCAN t"),
    ("SELECT * FROM t ORDER BY a DESC, b DESC LIMIT 7", "SCAN t REVERSE"),
    ("SELECT a, b FROM t WHERE a > -2 ORDER BY 1 DESC, 2 DESC",
     "SEARCH t USING PRIMARY KEY RANGE (a>-2) REVERSE"),
    ("SELECT * FROM t WHERE a = 1 ORDER BY b", "SEARCH t USING PRIMARY KEY RANGE (a=1)"),
    ("SELECT * FROM t WHERE a IN (1, -1, 3) ORDER BY a, b DESC", None),
    ("SELECT * FROM t WHERE a IN (1, -1, 3) ORDER BY a DESC, b DESC",
     "SEARCH t USING PRIMARY KEY RANGE (a IN (1, -1, 3)) REVERSE"),
    ("SELECT * FROM t WHERE k > -2 ORDER BY k, a, b", "SEARCH t USING INDEX t_k (k>-2)"),
    ("SELECT * FROM t WHERE k > -2 ORDER BY k DESC, a DESC, b DESC LIMIT 5",
     "SEARCH t USING INDEX t_k (k>-2) REVERSE"),
    ("SELECT * FROM t WHERE k > -2 ORDER BY k NULLS LAST, a, b", None),
    ("SELECT * FROM t WHERE k = 2 ORDER BY a, b", "SEARCH t USING INDEX t_k (k=2)"),
    ("SELECT * FROM t WHERE k = 2 ORDER BY k, a, k, b", "SEARCH t USING INDEX t_k (k=2)"),
    ("SELECT * FROM t WHERE k IN (2, 0) ORDER BY k, a, b",
     "SEARCH t USING INDEX t_k (k IN (2, 0))"),
    ("SELECT * FROM t WHERE k IN (2, 0) ORDER BY a, b", None),
    ("SELECT * FROM t WHERE k = 1 AND s > '' ORDER BY s DESC, a DESC, b DESC",
     "SEARCH t USING INDEX t_ks (k=1 AND s>'') REVERSE"),
    ("SELECT * FROM t WHERE k = 1 AND s > '' ORDER BY s, a, b",
     "SEARCH t USING INDEX t_ks (k=1 AND s>'')"),
    ("SELECT s, a, b FROM t WHERE s < 'c' ORDER BY s DESC, a, b",
     "SEARCH t USING INDEX t_sd (s<'c')"),
    ("SELECT DISTINCT s FROM t WHERE s > 'a' ORDER BY s",
     "SEARCH t USING INDEX t_sd (s>'a') REVERSE"),
    ("SELECT * FROM t WHERE u > -10 ORDER BY u LIMIT 4",
     "SEARCH t USING UNIQUE INDEX t_u (u>-10)"),
    ("SELECT * FROM t WHERE u > -10 ORDER BY u DESC NULLS FIRST", None),
    ("SELECT k, count(*) FROM t WHERE k > -5 GROUP BY k ORDER BY k", None),
    ("SELECT * FROM t WHERE r > 0 ORDER BY r, a, b", None),
    ("SELECT * FROM t ORDER BY -a, b", None),
])
def test_order_by_served_by_the_access_path(dbs, sql, text):
    lines = plan(dbs[0], sql)
    if text is None:
        assert "SORT (ORDER BY)" in lines
    else:
        assert lines[0] == text and "SORT (ORDER BY)" not in lines
    check(dbs, sql, ordered=True)


def test_ordered_index_path_keeps_its_order_when_it_falls_back(dbs):
    # 0.5 cannot be coerced to INTEGER: the path reads the whole index, in order
    sql = "SELECT * FROM t WHERE k > ? ORDER BY k DESC, a DESC, b DESC"
    assert "SORT (ORDER BY)" not in plan(dbs[0], sql, (0.5,))
    check(dbs, sql, (0.5,), ordered=True)
    check(dbs, sql, (-1,), ordered=True)


def test_update_and_delete_use_the_access_paths():
    con, ref = load(make_rows(random.Random(11), 40))
    for sql in ("UPDATE t SET r = 9.5 WHERE k IN (1, 2) AND s > 'a'",
                "DELETE FROM t WHERE a IN (-1, 3) AND b < 'c'",
                "UPDATE t SET k = k + 10 WHERE k > 1",
                "DELETE FROM t WHERE s <= 'b'",
                "UPDATE t SET u = NULL WHERE u BETWEEN -3 AND 3"):
        assert plan(con, sql)[1].startswith("SEARCH t USING")
        assert con.execute(sql).rowcount == ref.execute(sql).rowcount
        check((con, ref), "SELECT * FROM t")
    con.close()


def test_pk_point_key_and_integer_primary_key():
    con = lightning.connect(":memory:")
    con.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, v TEXT)")
    con.executemany("INSERT INTO p VALUES (?, ?)", [(i, str(i)) for i in range(-5, 30)])
    assert plan(con, "SELECT v FROM p WHERE id = ?", (3,))[0] == \
        "SEARCH p USING PRIMARY KEY (id=?)"
    assert con.execute("SELECT v FROM p WHERE id = ?", (3,)).fetchall() == [("3",)]
    assert con.execute("SELECT v FROM p WHERE id = ?", (3.0,)).fetchall() == [("3",)]
    assert con.execute("SELECT v FROM p WHERE id = ?", (3.5,)).fetchall() == []
    assert con.execute("SELECT v FROM p WHERE id = ?", (None,)).fetchall() == []
    assert con.execute("SELECT v FROM p WHERE id = ?", (2 ** 70,)).fetchall() == []
    assert con.execute("SELECT v FROM p WHERE id IN (?, ?, ?)",
                       (7, True, "7")).fetchall() == [("1",), ("7",)]
    assert plan(con, "SELECT v FROM p WHERE id IN (9, 2, 2)")[0] == \
        "SEARCH p USING PRIMARY KEY (id IN (9, 2, 2))"
    assert con.execute("SELECT v FROM p WHERE id IN (9, 2, 2)").fetchall() == \
        [("2",), ("9",)]
    assert con.execute("SELECT id FROM p WHERE id < -3").fetchall() == [(-5,), (-4,)]
    assert con.execute("SELECT id FROM p ORDER BY id DESC LIMIT 2").fetchall() == \
        [(29,), (28,)]
    con.close()


# ---------------------------------------------------------------- differential (hypothesis)

COLUMNS = {"a": "INT", "b": "TEXT", "k": "INT", "s": "TEXT", "r": "REAL", "u": "INT"}


def _lit(draw, kind, params):
    if draw(st.integers(0, 9)) == 0:
        v = None
    elif kind == "TEXT":
        v = draw(st.sampled_from(TEXTS + ["aa", "bb", "y"]))
    elif kind == "REAL":
        v = draw(st.integers(-10, 10)) / 2
    else:
        v = draw(st.integers(-6, 6))
        if draw(st.integers(0, 7)) == 0:
            v += 0.5                      # cannot equal an INTEGER: dropped or scan
    if draw(st.booleans()):
        params.append(v)
        return "?"
    if v is None:
        return "NULL"
    if isinstance(v, str):
        return "'" + v + "'"
    return f"({v})" if v < 0 else repr(v)


@st.composite
def queries(draw):
    params, conds = [], []
    for _ in range(draw(st.integers(1, 3))):
        col = draw(st.sampled_from(sorted(COLUMNS)))
        kind = COLUMNS[col]
        form = draw(st.integers(0, 4))
        if form == 0:
            conds.append(f"{col} = {_lit(draw, kind, params)}")
        elif form == 1:
            items = [_lit(draw, kind, params) for _ in range(draw(st.integers(1, 4)))]
            conds.append(f"{col} IN ({', '.join(items)})")
        elif form == 2:
            conds.append(f"{col} BETWEEN {_lit(draw, kind, params)} AND "
                         f"{_lit(draw, kind, params)}")
        else:
            op = draw(st.sampled_from(["<", "<=", ">", ">="]))
            v = _lit(draw, kind, params)
            conds.append(f"{col} {op} {v}" if draw(st.booleans()) else
                         f"{v} {dict(zip('<>', '><')).get(op[0]) + op[1:]} {col}")
    sql = "SELECT * FROM t WHERE " + " AND ".join(conds)
    ordered = draw(st.booleans())
    if ordered:
        lead = draw(st.sampled_from([[], ["k"], ["s"], ["u"], ["k", "s"], ["a"]]))
        desc = draw(st.booleans())
        terms = [f"{c}{' DESC' if desc else ''}" for c in lead + ["a", "b"]]
        sql += " ORDER BY " + ", ".join(terms)
        if draw(st.booleans()):
            sql += f" LIMIT {draw(st.integers(0, 6))}"
    return sql, params, ordered


@settings(max_examples=stress(60, 1000), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.randoms(use_true_random=False), st.lists(queries(), min_size=1, max_size=6))
def test_random_range_and_in_queries_match_sqlite(rnd, qs):
    con, ref = load(make_rows(rnd, rnd.randint(0, 40)))
    try:
        for sql, params, ordered in qs:
            check((con, ref), sql, tuple(params), ordered)
    finally:
        con.close()
        ref.close()


@pytest.mark.parametrize("where", ["k > -1", "k < 1", "k <= 3", "s < 'b'", "s >= 'a'",
                                   "k = 1 AND s < 'c'", "k IN (0, 1) AND s > 'a'"])
def test_ranges_do_not_read_null_entries(dbs, monkeypatch, where):
    # the filter would drop them anyway; the key range must not even reach them
    import lightning.transaction
    from lightning.sql import catalog
    con = dbs[0]
    con.commit()
    with con.kv.transaction() as txn:
        t = catalog.load_table(txn, "t")
    bases = [(catalog.index_prefix(t.id, ix.id), ix) for ix in t.indexes]
    seen, real = [], lightning.transaction.Transaction.scan

    def spy(self, *args, **kw):         # every index entry a scan delivers
        for k, v in real(self, *args, **kw):
            for base, ix in bases:
                if k.startswith(base):
                    seen.append(catalog.decode_index_key(k, t, ix, v, base)[0])
            yield k, v
    monkeypatch.setattr(lightning.transaction.Transaction, "scan", spy)
    rows = check(dbs, "SELECT * FROM t WHERE " + where)
    assert seen and len(seen) >= len(rows)
    assert all(None not in vals[:2] for vals in seen), where


def test_pinned_index_fallback_reads_whole_index_in_order():
    # a value the path cannot use as a key (a bool for an INTEGER column) makes an
    # ordered index path read the whole index; rows must still match a table scan
    results = []
    for with_index in (True, False):
        con = lightning.connect(":memory:")
        con.execute("CREATE TABLE f (id INTEGER PRIMARY KEY, k INTEGER, s TEXT)")
        if with_index:
            con.execute("CREATE INDEX f_k ON f (k)")
        con.executemany("INSERT INTO f VALUES (?, ?, ?)",
                        [(i, i % 3, str(i)) for i in range(1, 10)])
        q = "SELECT id, k FROM f WHERE k = ? ORDER BY k"
        assert ("INDEX f_k" in plan(con, q, (True,))[0]) == with_index
        results.append([con.execute(q, (v,)).fetchall() for v in (True, 1, 2.0)])
    assert results[0] == results[1]
