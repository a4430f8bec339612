"""Placeholder scanning and parameter binding (lightning/dbapi/params.py, lexer.py):
placeholders inside literals, quoted identifiers and comments are not parameters;
counts, kinds and value types are checked with ProgrammingError naming the problem."""

import datetime
import decimal

import pytest

import lightning
from lightning.sql.lexer import tokenize
from lightning.dbapi.params import bind, bind_each, scan
from lightning.dbapi.statements import prepare


def ph(sql):
    return scan(tokenize(sql))


@pytest.mark.parametrize("sql, positions", [
    ("SELECT ?", [7]),
    ("SELECT '?', ?", [12]),
    ("SELECT 'it''s ?', ?", [18]),
    ('SELECT "a?b", ?', [14]),
    ('SELECT "a""?", ?', [15]),
    ("SELECT [x?], ?", [13]),
    ("SELECT `x?`, ?", [13]),
    ("SELECT ? -- ?\n, ?", [7, 16]),
    ("SELECT ? /* ? ' */ , ?", [7, 21]),
    ("SELECT 1 /* ? unterminated", []),
    ("SELECT ?-- ?", [7]),
    ("x'3f' = ?", [8]),
])
def test_qmark_positions_skip_literals_and_comments(sql, positions):
    p = ph(sql)
    assert [x.pos for x in p.items] == positions
    assert all(sql[x.pos] == "?" for x in p.items)
    assert p.style == ("qmark" if positions else None)
    assert [x.key for x in p.items] == list(range(len(positions)))


def test_named_placeholders():
    p = ph("SELECT :a, ':b', :c_1, :a -- :d\n")
    assert p.style == "named"
    assert [x.key for x in p.items] == ["a", "c_1", "a"]
    assert p.names == ("a", "c_1")
    assert bind(p, {"a": 1, "c_1": "x", "extra": 3}) == {"a": 1, "c_1": "x"}


def test_cast_and_time_text_are_not_named_placeholders():
    assert ph("SELECT x::int, '12:30:00' FROM t").items == ()
    assert ph("SELECT a : b").items == ()


def test_mixed_styles_rejected():
    with pytest.raises(lightning.ProgrammingError, match=r"mixed parameter styles: :b at position 10"):
        ph("SELECT ?, :b")
    with pytest.raises(lightning.ProgrammingError, match="mixed"):
        ph("SELECT :a, ?")


def test_numbered_placeholders_not_supported():
    with pytest.raises(lightning.NotSupportedError, match=r"\?1 at position 7"):
        ph("SELECT ?1")


def test_unterminated_literal_names_position():
    with pytest.raises(lightning.ProgrammingError, match="unterminated string literal starting at position 7"):
        ph("SELECT 'abc")
    with pytest.raises(lightning.ProgrammingError, match="unterminated quoted identifier starting at position 10"):
        ph("SELECT a, \"b")


def test_counts():
    p = ph("INSERT INTO t VALUES (?, ?)")
    assert bind(p, (1, 2)) == (1, 2)
    assert bind(p, [1, 2]) == (1, 2)
    with pytest.raises(lightning.ProgrammingError, match="2 placeholder.*1 supplied"):
        bind(p, (1,))
    with pytest.raises(lightning.ProgrammingError, match="2 placeholder.*3 supplied"):
        bind(p, (1, 2, 3))
    none = ph("SELECT 1")
    assert bind(none, ()) == ()
    assert bind(none, None) == ()
    assert bind(none, {}) == ()
    with pytest.raises(lightning.ProgrammingError, match="0 placeholder.*1 supplied"):
        bind(none, (1,))


def test_wrong_container_kinds():
    q = ph("SELECT ?")
    with pytest.raises(lightning.ProgrammingError, match="needs a sequence"):
        bind(q, {"a": 1})
    n = ph("SELECT :a")
    with pytest.raises(lightning.ProgrammingError, match="needs a mapping"):
        bind(n, (1,))
    with pytest.raises(lightning.ProgrammingError, match=r"no value supplied for parameter :a at position 7"):
        bind(n, {"b": 1})
    with pytest.raises(lightning.ProgrammingError, match="not str"):
        bind(q, "x")
    with pytest.raises(lightning.ProgrammingError, match="not int"):
        bind(q, 5)


def test_value_types():
    values = (None, 1, True, 1.5, "s", b"b", bytearray(b"ba"), memoryview(b"mv"),
              decimal.Decimal("1.10"), datetime.date(2024, 1, 2), datetime.time(3, 4),
              datetime.datetime(2024, 1, 2, 3, 4))
    p = ph("VALUES (" + ", ".join("?" * len(values)) + ")")
    out = bind(p, values)
    assert out[:6] == values[:6]
    assert out[6] == b"ba" and type(out[6]) is bytes
    assert out[7] == b"mv" and type(out[7]) is bytes
    assert out[8:] == values[8:]


def test_unsupported_value_type_names_parameter():
    p = ph("SELECT ?, ?")
    with pytest.raises(lightning.ProgrammingError, match=r"parameter 2 \(the \? at position 10\) has unsupported type list"):
        bind(p, (1, [1]))
    n = ph("SELECT :x")
    with pytest.raises(lightning.ProgrammingError, match=r"parameter :x has unsupported type object"):
        bind(n, {"x": object()})


def test_one_statement_per_string():
    assert prepare("SELECT 1;").kind == "SELECT"
    assert prepare("SELECT 1; ; -- done").kind == "SELECT"
    assert prepare("SELECT ';' ").kind == "SELECT"
    with pytest.raises(lightning.ProgrammingError, match="one statement at a time.*position 10"):
        prepare("SELECT 1; SELECT 2")


@pytest.mark.parametrize("sql, kind", [
    ("  -- c\n /* x */ select 1", "SELECT"),
    ("create table t (x)", "CREATE TABLE"),
    ("CREATE UNIQUE INDEX i ON t (x)", "CREATE UNIQUE INDEX"),
    ("CREATE TEMP TABLE t (x)", "CREATE TEMP TABLE"),
    ("drop table if exists t", "DROP TABLE"),
    ("ALTER TABLE t ADD COLUMN y", "ALTER TABLE"),
    ("insert into t values (1)", "INSERT"),
    ("", None),
    ("  -- only a comment", None),
])
def test_statement_kind(sql, kind):
    assert prepare(sql).kind == kind


def _outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except Exception as e:                   # noqa: BLE001 - the type and text are compared
        return "raised", type(e), str(e)


@pytest.mark.parametrize("sql", ["INSERT INTO t VALUES (?, ?, ?)",
                                 "INSERT INTO t VALUES (:a, :b, :c)",
                                 "INSERT INTO t VALUES (1, 2, 3)"])
def test_bind_each_is_bind_of_each(sql):
    """executemany binds through bind_each (its common case in C): the same values and
    errors as bind() of each parameter set, in order."""
    placeholders = prepare(sql).placeholders
    sets = [(1, "a", 2.5), [1, "a", None], (True, b"x", 3), (1, 2), (1, 2, 3, 4),
            (decimal.Decimal("1.5"), datetime.date(2020, 1, 2), bytearray(b"z")),
            {"a": 1, "b": 2, "c": 3}, "abc", (1, 2, object()), ()]
    for p in sets:
        want = _outcome(bind, placeholders, p)
        got = _outcome(lambda: next(bind_each(placeholders, [p])))
        assert got == want, p
    if placeholders.style == "qmark":                # plain values: the tuple itself
        p = sets[0]
        assert next(bind_each(placeholders, [p])) is p
