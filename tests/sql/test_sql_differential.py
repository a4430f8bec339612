"""Differential tests of the single-table SQL engine against Python's sqlite3.

Hypothesis generates a schema (an INTEGER PRIMARY KEY `id` plus 1-4 columns of
INTEGER / REAL / TEXT, NULLs allowed, some columns covered by single- or two-column
secondary indexes), rows, and queries: SELECTs with filters (comparisons, AND/OR/NOT,
IN lists, BETWEEN, LIKE, IS [NOT] NULL, arithmetic, `||`, lower/upper/abs,
parameters), DISTINCT, GROUP BY with COUNT/SUM/MIN/MAX/AVG and HAVING, ORDER BY
(ASC/DESC, NULLS FIRST/LAST) and LIMIT/OFFSET; and UPDATE/DELETE with WHERE, each
followed by a full SELECT, the rowcount and a check that every index entry agrees
with the rows. Every result is compared with SQLite's on the same data.

Results are compared exactly, including the type of each value (an int is not a
float), except that -0.0 is taken as 0.0 (SQL-equal; SQLite does not keep the sign of
a stored zero). With ORDER BY the order is total (the primary key is the last key, or
the ordered output is DISTINCT / one row per group) and the row order is compared;
otherwise the rows are compared as multisets. LIMIT/OFFSET appear only with a total
order.

Excluded, because SQLite's semantics differ from Lightning's (or from SQL's) there:
  * values of another type than the column's declared type (SQLite's type affinity
    would convert or keep them; Lightning is strict and raises DataError), and
    comparisons between TEXT and numbers (affinity conversions on the SQLite side);
  * predicates as select-list values (Lightning returns True/False, SQLite 1/0);
  * `%` on REAL operands (SQLite converts them to integers) and integer `/`
    (both truncate, but the brief keeps it out to stay away from edge cases);
    `/` is generated only with a REAL divisor;
  * large numbers: integers stay small so no arithmetic overflows (Lightning does not
    detect 64-bit overflow; SQLite switches to REAL), and REAL values are multiples
    of 0.25 so sums and averages are exact whatever the summation order;
  * a bare non-boolean value as a condition (`WHERE 'abc'`: SQLite converts text to
    a number, Lightning takes non-empty text as true) - only predicates are generated;
  * UNIQUE indexes (SQLite checks uniqueness row by row during a multi-row UPDATE,
    which makes the outcome depend on the row order), UPDATE of the primary key,
    CAST, round() and float formatting; non-ASCII text (LIKE case folding).
"""

import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lightning
from conftest import stress
from sqlcheck import indexed_rows

TYPES = ("INTEGER", "REAL", "TEXT")
ALPHABET = "aAbB_%x'"

SETTINGS = settings(max_examples=stress(100, 2000), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


# ---------------------------------------------------------------- values and literals

def ints():
    return st.integers(-20, 20)


def reals():
    return st.integers(-80, 80).map(lambda k: k / 4)


def texts():
    return st.text(alphabet=ALPHABET, max_size=4)


VALUE = {"INTEGER": ints, "REAL": reals, "TEXT": texts}


def render(v):
    if v is None:
        return "NULL"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    s = repr(v)
    return f"({s})" if v < 0 else s


class Q:
    """SQL text being built left to right, with its `?` parameters in order."""

    def __init__(self):
        self.params = []

    def lit(self, draw, v):
        if v is not None and draw(st.integers(0, 3)) == 0:
            self.params.append(v)
            return "?"
        return render(v)


# ---------------------------------------------------------------- expressions

def num_expr(draw, q, cols, want, depth):
    """An expression of class `want` ('INTEGER' or 'REAL'); a REAL may mix in ints."""
    own = [c for c, t in cols if t == want] + (["id"] if want == "INTEGER" else [])
    choice = draw(st.integers(0, 5 if depth > 0 else 1))
    if choice == 0 and own:
        return draw(st.sampled_from(own))
    if choice <= 1:
        return q.lit(draw, draw(VALUE[want]()))
    if choice == 2:
        a = num_expr(draw, q, cols, want, depth - 1)
        op = draw(st.sampled_from(["+", "-", "*"]))
        b = num_expr(draw, q, cols, want, depth - 1)
        return f"({a} {op} {b})"
    if choice == 3 and want == "REAL":
        # mixed arithmetic and division (REAL divisor only; x / 0.0 is NULL in both)
        a = num_expr(draw, q, cols, draw(st.sampled_from(["INTEGER", "REAL"])), depth - 1)
        op = draw(st.sampled_from(["+", "-", "*", "/"]))
        b = num_expr(draw, q, cols, "REAL", depth - 1)
        return f"({a} {op} {b})"
    if choice == 3:
        a = num_expr(draw, q, cols, "INTEGER", depth - 1)
        b = num_expr(draw, q, cols, "INTEGER", depth - 1)
        return f"({a} % {b})"            # integer modulo (sign of the dividend in both)
    if choice == 4:
        return f"abs({num_expr(draw, q, cols, want, depth - 1)})"
    return f"(-{num_expr(draw, q, cols, want, depth - 1)})"


def text_expr(draw, q, cols, depth):
    own = [c for c, t in cols if t == "TEXT"]
    choice = draw(st.integers(0, 4 if depth > 0 else 1))
    if choice == 0 and own:
        return draw(st.sampled_from(own))
    if choice <= 1:
        return q.lit(draw, draw(texts()))
    if choice == 2:
        return f"({text_expr(draw, q, cols, depth - 1)} || {text_expr(draw, q, cols, depth - 1)})"
    fn = "lower" if choice == 3 else "upper"
    return f"{fn}({text_expr(draw, q, cols, depth - 1)})"


def typed_expr(draw, q, cols, kind, depth=1):
    if kind == "TEXT":
        return text_expr(draw, q, cols, depth)
    return num_expr(draw, q, cols, kind, depth)


def column_or_expr(draw, q, cols):
    """A column (often, so index plans are exercised) or a small expression."""
    name, kind = draw(st.sampled_from(cols + [("id", "INTEGER")]))
    if draw(st.integers(0, 2)):
        return name, kind
    if kind == "REAL" or kind == "INTEGER":
        kind = draw(st.sampled_from(["INTEGER", "REAL"])) if kind == "INTEGER" else kind
    return typed_expr(draw, q, cols, kind), kind


def class_of(kind):
    return "TEXT" if kind == "TEXT" else "NUM"


def other_side(draw, q, cols, kind):
    """A value expression comparable with `kind` without affinity games."""
    if kind == "TEXT":
        return typed_expr(draw, q, cols, "TEXT", 0) if draw(st.booleans()) \
            else q.lit(draw, draw(texts()))
    k = draw(st.sampled_from(["INTEGER", "REAL"]))
    if draw(st.booleans()):
        return q.lit(draw, draw(VALUE[k]()))
    return typed_expr(draw, q, cols, k, 0)


def predicate(draw, q, cols, depth=2):
    choice = draw(st.integers(0, 9 if depth > 0 else 6))
    if choice <= 1:
        a, kind = column_or_expr(draw, q, cols)
        op = draw(st.sampled_from(["=", "<>", "<", "<=", ">", ">="]))
        return f"{a} {op} {other_side(draw, q, cols, kind)}"
    if choice == 2:
        a, kind = column_or_expr(draw, q, cols)
        neg = draw(st.sampled_from(["", "NOT "]))
        items = []
        for _ in range(draw(st.integers(1, 4))):
            k = "TEXT" if kind == "TEXT" else draw(st.sampled_from(["INTEGER", "REAL"]))
            items.append(q.lit(draw, draw(st.one_of(st.none(), VALUE[k]()))))
        return f"{a} {neg}IN ({', '.join(items)})"
    if choice == 3:
        a, kind = column_or_expr(draw, q, cols)
        neg = draw(st.sampled_from(["", "NOT "]))
        lo = other_side(draw, q, cols, kind)
        hi = other_side(draw, q, cols, kind)
        return f"{a} {neg}BETWEEN {lo} AND {hi}"
    if choice == 4:
        tcols = [c for c, t in cols if t == "TEXT"]
        a = draw(st.sampled_from(tcols)) if tcols and draw(st.booleans()) \
            else text_expr(draw, q, cols, 1)
        pat = draw(st.text(alphabet="aAbx%_'", max_size=4))
        neg = draw(st.sampled_from(["", "NOT "]))
        return f"{a} {neg}LIKE {render(pat)}"
    if choice == 5:
        a, _ = column_or_expr(draw, q, cols)
        return f"{a} IS {draw(st.sampled_from(['', 'NOT ']))}NULL"
    if choice == 6:
        # a pinned column: equality with a constant of its own type (index / pk plans)
        name, kind = draw(st.sampled_from(cols + [("id", "INTEGER")]))
        v = draw(VALUE[kind]()) if kind != "INTEGER" or draw(st.integers(0, 4)) \
            else draw(reals())           # INTEGER = 2.5 must fall back to a scan
        return f"{name} = {q.lit(draw, v)}"
    if choice == 7:
        return f"NOT ({predicate(draw, q, cols, depth - 1)})"
    op = "AND" if choice == 8 else "OR"
    a = predicate(draw, q, cols, depth - 1)
    return f"({a} {op} {predicate(draw, q, cols, depth - 1)})"


# ---------------------------------------------------------------- schema and data

@st.composite
def databases(draw):
    n = draw(st.integers(1, 4))
    cols = [(f"c{i}", draw(st.sampled_from(TYPES))) for i in range(n)]
    indexes = []
    for i in range(draw(st.integers(0, 2))):
        k = draw(st.integers(1, min(2, n)))
        ix_cols = draw(st.permutations([c for c, _ in cols]))[:k]
        dirs = [draw(st.sampled_from(["", " DESC"])) for _ in ix_cols]
        indexes.append(f"CREATE INDEX ix{i} ON t ("
                       + ", ".join(c + d for c, d in zip(ix_cols, dirs)) + ")")
    ids = draw(st.lists(st.integers(1, 300), max_size=25, unique=True))
    rows = [tuple([i] + [draw(st.one_of(st.none(), VALUE[t]())) for _, t in cols])
            for i in ids]
    ddl = "CREATE TABLE t (id INTEGER PRIMARY KEY, " + \
        ", ".join(f"{c} {t}" for c, t in cols) + ")"
    return cols, ddl, indexes, rows


@st.composite
def selects(draw, cols):
    q = Q()
    where = ""
    if draw(st.integers(0, 4)):
        where = " WHERE " + predicate(draw, q, cols)
    where_params = q.params
    form = draw(st.sampled_from(["plain", "plain", "distinct", "aggregate"]))
    q = Q()
    if form == "plain":
        proj = [typed_expr(draw, q, cols, draw(st.sampled_from(TYPES)), 1)
                if draw(st.integers(0, 2)) == 0 else draw(st.sampled_from(
                    [c for c, _ in cols] + ["id"]))
                for _ in range(draw(st.integers(1, 3)))]
        proj_params = q.params
        sql = f"SELECT {', '.join(proj)} FROM t{where}"
        ordered = draw(st.booleans())
        if ordered:
            keys = []
            for _ in range(draw(st.integers(0, 2))):
                name, kind = draw(st.sampled_from(cols))
                key = name
                if draw(st.booleans()):
                    # an expression over the column (a constant integer key would be
                    # an output position in SQLite)
                    other = typed_expr(draw, Q(), cols, kind, 0).replace("?", "NULL")
                    key = f"({name} || {other})" if kind == "TEXT" else f"({name} - {other})"
                key += draw(st.sampled_from(["", " ASC", " DESC"]))
                key += draw(st.sampled_from(["", "", " NULLS FIRST", " NULLS LAST"]))
                keys.append(key)
            keys.append("id" + draw(st.sampled_from(["", " DESC"])))
            sql += " ORDER BY " + ", ".join(keys)
        params = proj_params + where_params
    elif form == "distinct":
        names = draw(st.lists(st.sampled_from([c for c, _ in cols]), min_size=1,
                              max_size=3, unique=True))
        sql = f"SELECT DISTINCT {', '.join(names)} FROM t{where}"
        ordered = draw(st.booleans())
        if ordered:   # every output column is a key: a total order of distinct rows
            sql += " ORDER BY " + ", ".join(
                f"{i + 1}{draw(st.sampled_from(['', ' DESC']))}" for i in range(len(names)))
        params = where_params
    else:
        group = draw(st.lists(st.sampled_from([c for c, _ in cols]), max_size=2, unique=True))
        aggs = ["COUNT(*)"]
        for _ in range(draw(st.integers(1, 4))):
            name, kind = draw(st.sampled_from(cols + [("id", "INTEGER")]))
            fns = ["COUNT", "MIN", "MAX"] + (["SUM", "AVG"] if kind != "TEXT" else [])
            fn = draw(st.sampled_from(fns))
            arg = name
            if fn == "COUNT" and draw(st.booleans()):
                arg = "DISTINCT " + name
            aggs.append(f"{fn}({arg})")
        sql = f"SELECT {', '.join(group + aggs)} FROM t{where}"
        if group:
            sql += " GROUP BY " + ", ".join(group)
            if draw(st.booleans()):
                sql += f" HAVING COUNT(*) > {draw(st.integers(0, 2))}"
        ordered = bool(group) and draw(st.booleans())
        if ordered:   # one row per group: ordering by every group column is total
            sql += " ORDER BY " + ", ".join(
                f"{g}{draw(st.sampled_from(['', ' DESC']))}" for g in group)
        params = where_params
    if ordered and draw(st.booleans()):
        sql += f" LIMIT {draw(st.integers(0, 10))}"
        if draw(st.booleans()):
            sql += f" OFFSET {draw(st.integers(0, 10))}"
    return sql, params, ordered


@st.composite
def dml_statements(draw, cols):
    q = Q()
    if draw(st.booleans()):
        sets = []
        for name, kind in draw(st.lists(st.sampled_from(cols), min_size=1, max_size=2,
                                        unique=True)):
            if draw(st.integers(0, 4)) == 0:
                sets.append(f"{name} = NULL")
            else:
                # a REAL column may take an INTEGER expression (widened to REAL)
                k = draw(st.sampled_from(["INTEGER", "REAL"])) if kind == "REAL" else kind
                sets.append(f"{name} = {typed_expr(draw, q, cols, k, 1)}")
        sql = "UPDATE t SET " + ", ".join(sets)
    else:
        sql = "DELETE FROM t"
    if draw(st.integers(0, 5)):
        sql += " WHERE " + predicate(draw, q, cols)
    return sql, q.params


# ---------------------------------------------------------------- comparison

def norm(v):
    if isinstance(v, float):
        return ("float", v + 0.0)        # -0.0 -> 0.0
    return (type(v).__name__, v)


def norm_rows(rows):
    return [tuple(norm(v) for v in r) for r in rows]


def run_both(a, b, sql, params):
    """(rows, error class) of each side; an error must be the same kind on both."""
    out = []
    for con in (a, b):
        try:
            cur = con.execute(sql, params)
            out.append((norm_rows(cur.fetchall()), cur.rowcount, None))
        except (lightning.Error, sqlite3.Error) as e:
            out.append((None, None, e))
    return out


def setup(cols, ddl, indexes, rows):
    a = lightning.connect(":memory:")
    b = sqlite3.connect(":memory:")
    marks = ", ".join("?" * (len(cols) + 1))
    for con in (a, b):
        con.execute(ddl)
        for ix in indexes:
            con.execute(ix)
        con.executemany(f"INSERT INTO t VALUES ({marks})", rows)
    return a, b


def check_indexes(con):
    """Every index entry of t matches a row and every row has its entries."""
    con.commit()
    indexed_rows(con, "t")


@SETTINGS
@given(st.data())
def test_select_matches_sqlite(data):
    cols, ddl, indexes, rows = data.draw(databases(), "database")
    a, b = setup(cols, ddl, indexes, rows)
    try:
        for _ in range(4):
            sql, params, ordered = data.draw(selects(cols), "query")
            (got, _, gerr), (want, _, werr) = run_both(a, b, sql, params)
            assert (gerr is None) == (werr is None), (sql, params, gerr, werr)
            if not ordered and got is not None:
                got, want = sorted(got, key=repr), sorted(want, key=repr)
            assert got == want, (sql, params)
    finally:
        a.close()
        b.close()


@SETTINGS
@given(st.data())
def test_update_delete_match_sqlite(data):
    cols, ddl, indexes, rows = data.draw(databases(), "database")
    a, b = setup(cols, ddl, indexes, rows)
    try:
        for _ in range(data.draw(st.integers(1, 4), "statements")):
            sql, params = data.draw(dml_statements(cols), "dml")
            ra = a.execute(sql, params)
            rb = b.execute(sql, params)
            assert ra.rowcount == rb.rowcount, (sql, params)
            full = "SELECT * FROM t ORDER BY id"
            assert norm_rows(a.execute(full).fetchall()) == \
                norm_rows(b.execute(full).fetchall()), (sql, params)
        check_indexes(a)
        # after the writes, queries through the (maintained) indexes still agree
        for _ in range(2):
            sql, params, ordered = data.draw(selects(cols), "query")
            (got, _, gerr), (want, _, werr) = run_both(a, b, sql, params)
            assert (gerr is None) == (werr is None), (sql, params, gerr, werr)
            if not ordered and got is not None:
                got, want = sorted(got, key=repr), sorted(want, key=repr)
            assert got == want, (sql, params)
    finally:
        a.close()
        b.close()


def test_differential_harness_detects_a_difference():
    """The comparison is not vacuous: different data gives a failing comparison."""
    a = lightning.connect(":memory:")
    b = sqlite3.connect(":memory:")
    for con, v in ((a, 1.0), (b, 1)):
        con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, c0 REAL)")
        con.execute("INSERT INTO t VALUES (1, ?)", (v,))
    b.execute("CREATE TABLE u (c0 INTEGER)")
    b.execute("INSERT INTO u VALUES (1)")
    ra = norm_rows(a.execute("SELECT c0 FROM t").fetchall())
    rb = norm_rows(b.execute("SELECT c0 FROM u").fetchall())
    assert ra != rb                       # 1.0 vs 1: types are compared
    a.close()
    b.close()


@pytest.mark.parametrize("sql", [
    "SELECT id FROM t WHERE c0 NOT LIKE 'a%'",
    "SELECT id FROM t WHERE c0 NOT LIKE 'A!_%' ESCAPE '!'",
    "SELECT id, CASE WHEN c0 NOT LIKE '%b' THEN 1 WHEN c0 LIKE '%b' THEN 0 END FROM t",
    "SELECT CASE WHEN '' NOT LIKE '' THEN 1 ELSE 0 END, "
    "CASE WHEN 'a' NOT LIKE 'b' THEN 1 ELSE 0 END",
])
def test_not_like_regression(sql):
    """Found by the differential test: sqlglot parses NOT LIKE as Like(negate=True),
    and the engine dropped the NOT. (Predicates are wrapped in CASE in the select
    list: Lightning returns them as booleans, SQLite as 0/1.)"""
    a, b = setup([("c0", "TEXT")], "CREATE TABLE t (id INTEGER PRIMARY KEY, c0 TEXT)", [],
                 [(1, "abc"), (2, "A_x"), (3, None), (4, "bb"), (5, "Ab")])
    try:
        got, want = a.execute(sql).fetchall(), b.execute(sql).fetchall()
        assert sorted(norm_rows(got), key=repr) == sorted(norm_rows(want), key=repr)
    finally:
        a.close()
        b.close()
