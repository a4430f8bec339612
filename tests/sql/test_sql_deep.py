"""Deep and long SQL expressions: 1000-term chains in every clause, 100 levels of
nesting, and a ProgrammingError naming the limit beyond MAX_EXPR_DEPTH (never a
RecursionError). Results are compared with sqlite3 where sqlite3 takes the statement
(its parser stops near 100 levels of nesting), else with values computed in Python."""

import functools
import sqlite3
import sys

import pytest

import lightning
from lightning.sql.parse import MAX_EXPR_DEPTH, MAX_TEXT_DEPTH

from sqlcheck import run_threads

ROWS = [(i, i * 3 % 17, f"s{i}") for i in range(60)]


@pytest.fixture
def both():
    lt = lightning.connect(":memory:")
    sq = sqlite3.connect(":memory:")
    for c in (lt, sq):
        c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, s TEXT)")
        c.executemany("INSERT INTO t VALUES (?, ?, ?)", ROWS)
    c = lt.cursor()
    yield lt, sq
    c.close()
    lt.close()
    sq.close()


def same(both, sql, params=()):
    lt, sq = both
    got = lt.execute(sql, params).fetchall()
    want = sq.execute(sql, params).fetchall()
    assert sorted(got) == sorted(want)
    return got


# name -> (SQL of an n-term chain, whether its result is the same for every n >= 998).
# sqlite3 refuses trees deeper than 1000 ("Expression tree is too large"), which its
# binary nodes reach at about 999 terms; Lightning runs chains in a loop, any length.
CHAINS = {
    "or_where": (lambda n: "SELECT id FROM t WHERE " +
                 " OR ".join(f"a = {i % 40}" for i in range(n)), True),
    "and_where": (lambda n: "SELECT id FROM t WHERE " +
                  " AND ".join(f"id >= {i % 7}" for i in range(n)), True),
    "andor_where": (lambda n: "SELECT id FROM t WHERE " + " OR ".join(
        f"(a = {i % 17} AND id > {i % 50})" for i in range(n)), True),
    "mixed_andor": (lambda n: "SELECT id FROM t WHERE " + " ".join(
        f"a = {i % 17} {'AND' if i % 3 else 'OR'}" for i in range(n - 1)) + " id > 3",
        False),
    "in_list": (lambda n: "SELECT id FROM t WHERE id IN (" +
                ", ".join(str(i * 7 % 1000) for i in range(n)) + ")", False),
    "plus_select": (lambda n: "SELECT id, " + " + ".join("a" for _ in range(n)) +
                    " FROM t", False),
    "arith_mixed": (lambda n: "SELECT id, a" + "".join(
        f" {'+-*'[i % 3]} {i % 5 + 1}" for i in range(n - 1)) + " FROM t WHERE id < 5",
        False),
    "concat": (lambda n: "SELECT " + " || ".join("s" for _ in range(n)) + " FROM t",
               False),
    "select_list": (lambda n: "SELECT " + ", ".join(f"a + {i}" for i in range(n)) +
                    " FROM t", False),
    "case_arms": (lambda n: "SELECT id, CASE " + " ".join(
        f"WHEN a = {i} THEN {i * 10}" for i in range(n)) + " END FROM t", False),
    "having": (lambda n: "SELECT a, count(*) FROM t GROUP BY a HAVING " +
               " OR ".join(f"a = {i}" for i in range(n)), True),
    "order_by": (lambda n: "SELECT id FROM t ORDER BY " +
                 " + ".join("a" for _ in range(n - 1)) + " + id", False),
}


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_long_chains_match_sqlite(both, name):
    make, any_n = CHAINS[name]
    lt, sq = both
    sql = make(998)
    got = lt.execute(sql).fetchall()
    want = sq.execute(sql).fetchall()
    assert sorted(got) == sorted(want)
    if name == "order_by":
        assert got == want
    n = 1500 if any_n else 1000         # beyond what sqlite3 takes
    assert sorted(lt.execute(make(n)).fetchall()) == sorted(want) or not any_n
    lt.execute(make(n)).fetchall()


def test_1000_term_chain_of_parameters(both):
    lt, _ = both
    sql = "SELECT id FROM t WHERE " + " OR ".join("a = ?" for _ in range(1000))
    got = lt.execute(sql, tuple(i % 5 for i in range(1000))).fetchall()
    assert sorted(got) == [(i,) for i, a, _ in ROWS if a < 5]


def test_long_chains_in_writes(both):
    lt, sq = both
    where = " OR ".join(f"id = {i * 3}" for i in range(998))
    expr = " + ".join("1" for _ in range(998))
    for c in (lt, sq):
        c.execute(f"UPDATE t SET a = {expr} WHERE {where}")
        c.execute("DELETE FROM t WHERE " + " OR ".join(f"id = {i * 5}" for i in range(998)))
    same(both, "SELECT * FROM t")
    lt.execute("UPDATE t SET a = " + " + ".join("1" for _ in range(3000)) + " WHERE " +
               " OR ".join(f"id = {i}" for i in range(3000)))
    assert lt.execute("SELECT DISTINCT a FROM t").fetchall() == [(3000,)]


def nest(depth, inner, fmt):
    s = inner
    for i in range(depth):
        s = fmt.format(s, i=i)
    return s


# (wrapper format, Python value of the whole after `depth` levels around a=3)
NESTINGS = {
    "parens": ("({})", lambda d: 3),
    "arith": ("(1 + {})", lambda d: 3 + d),
    "function": ("abs({})", lambda d: 3),
    "two_arg_function": ("max({}, 0)", lambda d: 3),
    "case": ("CASE WHEN a > 0 THEN {} ELSE -1 END", lambda d: 3),
    "case_paren": ("(CASE WHEN a > 0 THEN ({} + 1) ELSE -1 END)", lambda d: 3 + d),
    "coalesce": ("coalesce(NULL, {})", lambda d: 3),
    "neg": ("-({})", lambda d: 3 if d % 2 == 0 else -3),
}


@pytest.mark.parametrize("name", sorted(NESTINGS))
@pytest.mark.parametrize("depth", [12, 100, 140])
def test_nesting(both, name, depth):
    fmt, value = NESTINGS[name]
    e = nest(depth, "a", fmt)
    lt, sq = both
    sql = f"SELECT {e} FROM t WHERE id = 1"
    assert lt.execute(sql).fetchall() == [(value(depth),)]
    cond = f"SELECT id FROM t WHERE {e} = {value(depth)} ORDER BY id"
    want = [(i,) for i, a, _ in ROWS if a == 3]
    assert lt.execute(cond).fetchall() == want
    if depth <= 12:         # sqlite3's parser stack is 100 entries
        same(both, sql)
        same(both, cond)


def test_nested_in_lists_and_not(both):
    e = nest(100, "a IN (1, 2, 3)", "({}) IN (1, 0)")
    same(both, f"SELECT id FROM t WHERE {nest(12, 'a IN (1, 2, 3)', '({}) IN (1, 0)')}")
    lt, _ = both
    assert len(lt.execute(f"SELECT id FROM t WHERE {e}").fetchall()) == len(ROWS)
    nots = "NOT " * 100 + "a = 3"
    assert lt.execute(f"SELECT id FROM t WHERE {nots}").fetchall() == \
        [(i,) for i, a, _ in ROWS if a == 3]


def test_nesting_in_check_and_default(tmp_path):
    e = nest(100, "a", "(1 + {})")
    c = lightning.connect(":memory:")
    c.execute(f"CREATE TABLE u (id INTEGER PRIMARY KEY, a INTEGER, "
              f"b INTEGER DEFAULT ({nest(100, '2', '(1 + {})')}), CHECK ({e} > 0))")
    c.execute("INSERT INTO u (id, a) VALUES (1, 5)")
    assert c.execute("SELECT a, b FROM u").fetchall() == [(5, 102)]
    with pytest.raises(lightning.IntegrityError):
        c.execute("INSERT INTO u (id, a) VALUES (2, -200)")


@pytest.mark.parametrize("sql", [
    "SELECT " + nest(MAX_EXPR_DEPTH + 1, "1", "abs({})"),
    "SELECT " + nest(MAX_EXPR_DEPTH + 1, "1", "CASE WHEN 1 THEN {} END"),
    "SELECT " + nest(MAX_EXPR_DEPTH + 1, "1", "(1 + {})"),
    "SELECT 1 WHERE " + "NOT " * (MAX_EXPR_DEPTH + 1) + "1",
    "SELECT " + "- " * (MAX_EXPR_DEPTH + 1) + "1",
    "SELECT " + nest(MAX_EXPR_DEPTH // 2 + 1, "1", "abs(1 + {})"),
    "SELECT " + nest(MAX_EXPR_DEPTH + 1, "1", "1 + abs({})"),
    "SELECT " + nest(MAX_EXPR_DEPTH + 1, "1", "1 = ({})"),
])
def test_beyond_the_limit_is_programming_error(both, sql):
    lt, _ = both
    with pytest.raises(lightning.ProgrammingError, match=f"limit is {MAX_EXPR_DEPTH} "):
        lt.execute(sql)
    assert lt.execute("SELECT 1").fetchall() == [(1,)]       # still usable


@pytest.mark.parametrize("sql", [
    "SELECT " + "(" * (MAX_TEXT_DEPTH + 1) + "1" + ")" * (MAX_TEXT_DEPTH + 1),
    "SELECT " + "(" * 20000 + "1" + ")" * 20000,
    "SELECT " + "- " * 20000 + "1",
    "SELECT 1 WHERE " + "NOT " * 20000 + "1",
    "SELECT " + "CASE WHEN 1 THEN " * 20000 + "1" + " END" * 20000,
])
def test_text_beyond_the_limit_is_programming_error(both, sql):
    lt, _ = both
    with pytest.raises(lightning.ProgrammingError, match=f"limit is {MAX_TEXT_DEPTH} "):
        lt.execute(sql)


def test_parentheses_alone_do_not_count(both):
    lt, _ = both
    d = MAX_TEXT_DEPTH - 10
    assert lt.execute("SELECT " + "(" * d + "a" + ")" * d + " FROM t WHERE id = 1"
                      ).fetchall() == [(3,)]


def test_limit_error_names_the_position(both):
    lt, _ = both
    sql = "SELECT 1,\n  " + "(" * (MAX_TEXT_DEPTH + 5) + "1" + ")" * (MAX_TEXT_DEPTH + 5)
    with pytest.raises(lightning.ProgrammingError,
                       match=f"at line 2, column {MAX_TEXT_DEPTH + 3}"):
        lt.execute(sql)


def test_at_the_limit_works_and_limit_is_restored(both):
    lt, _ = both
    before = sys.getrecursionlimit()
    e = nest(MAX_EXPR_DEPTH - 10, "a", "abs({})")
    assert lt.execute(f"SELECT {e} FROM t WHERE id = 2").fetchall() == [(6,)]
    e = nest(MAX_EXPR_DEPTH - 10, "a", "max({}, 0)")
    assert lt.execute(f"SELECT {e} FROM t WHERE id = 2").fetchall() == [(6,)]
    assert sys.getrecursionlimit() == before


def test_deep_statements_in_threads():
    """Statements prepared in several threads at once (the raised recursion limit is
    shared) all work, and the limit is restored afterwards."""
    before = sys.getrecursionlimit()

    def work(k):
        c = lightning.connect(":memory:")
        for d in range(80, 101, 5):
            e = nest(d, str(k), "(1 + {})")
            assert c.execute(f"SELECT {e}").fetchall() == [(k + d,)]
        c.close()
    run_threads(*(functools.partial(work, k) for k in range(4)))
    assert sys.getrecursionlimit() == before


def test_nesting_in_every_clause(both):
    lt, sq = both
    for depth, check in ((12, True), (100, False)):
        e = nest(depth, "a", "(1 + {})")
        queries = [
            f"SELECT id FROM t ORDER BY {e} DESC, id LIMIT 5",
            f"SELECT {e}, count(*) FROM t GROUP BY {e} ORDER BY 1",
            f"SELECT a, count(*) FROM t GROUP BY a HAVING {e} > {depth + 5} ORDER BY a",
            f"SELECT id FROM t WHERE id IN ({e}, {nest(depth, 'id', 'abs({})')}) "
            "ORDER BY id",
            f"SELECT id FROM t ORDER BY id LIMIT {nest(depth, '3', '(0 + {})')}",
        ]
        for sql in queries:
            got = lt.execute(sql).fetchall()
            if check:
                assert got == sq.execute(sql).fetchall(), sql
            else:
                assert got
        for c in ([lt, sq] if check else [lt]):
            c.execute(f"UPDATE t SET a = {e} - {depth} WHERE id < 10")
            c.execute(f"INSERT INTO t VALUES ({nest(depth, '1000', '(1 + {})')}, "
                      f"{nest(depth, '7', '(0 + {})')}, 'n')")
        assert lt.execute(f"SELECT a FROM t WHERE id = {1000 + depth}").fetchall() == [(7,)]
    same(both, "SELECT * FROM t WHERE id < 10")
