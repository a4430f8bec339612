"""The Cursor: fetchone/fetchmany/fetchall/iteration, arraysize, description and its
type codes, rowcount and lastrowid, executemany, closed-cursor and no-result-set
errors, the optional PEP 249 methods, and rows read before a transaction ends."""

import pytest

import lightning
from dbapi_kvexec import KVExecutor
from lightning.dbapi import Result


@pytest.fixture
def con():
    c = lightning.connect(":memory:", executor=KVExecutor)
    for i in range(7):
        c.execute("PUT ? ?", (f"k{i}", f"v{i}"))
    yield c
    c.close()


def rows(n):
    return [(f"k{i}".encode(), f"v{i}".encode()) for i in range(n)]


def test_fetch_methods(con):
    cur = con.execute("SCAN k")
    assert cur.fetchone() == rows(1)[0]
    assert cur.fetchmany(2) == rows(3)[1:]
    assert cur.arraysize == 1
    assert cur.fetchmany() == rows(4)[3:]
    cur.arraysize = 2
    assert cur.fetchmany() == rows(6)[4:]
    assert cur.fetchmany(0) == []
    assert cur.fetchall() == rows(7)[6:]
    assert cur.fetchone() is None
    assert cur.fetchmany(5) == [] and cur.fetchall() == []


def test_iteration(con):
    cur = con.execute("SCAN k")
    assert iter(cur) is cur
    assert list(cur) == rows(7)
    assert [r for r in con.execute("SCAN k")] == rows(7)


def test_description(con):
    cur = con.cursor()
    assert cur.description is None and cur.rowcount == -1 and cur.lastrowid is None
    cur.execute("SCAN k")
    assert cur.description == (("key", "BLOB", None, None, None, None, None),
                               ("value", "BLOB", None, None, None, None, True))
    assert all(len(col) == 7 for col in cur.description)
    assert cur.description[0][1] == lightning.BINARY
    assert cur.description[0][1] != lightning.STRING
    assert cur.rowcount == -1
    cur.execute("PUT a b")
    assert cur.description is None
    assert cur.rowcount == 1 and cur.lastrowid == 1


def test_statement_without_rows_then_fetch_is_programming_error(con):
    cur = con.cursor()
    with pytest.raises(lightning.ProgrammingError, match="no result set"):
        cur.fetchone()
    cur.execute("PUT a b")
    for fetch in (cur.fetchone, cur.fetchall, cur.fetchmany, lambda: next(cur)):
        with pytest.raises(lightning.ProgrammingError, match="no result set"):
            fetch()
    cur.execute("BEGIN") if not con.in_transaction else cur.execute("SAVEPOINT x")
    with pytest.raises(lightning.ProgrammingError, match="no result set"):
        cur.fetchall()


def test_new_execute_replaces_result(con):
    cur = con.execute("SCAN k")
    cur.fetchone()
    cur.execute("GET k3")
    assert cur.fetchall() == [(b"v3",)]


def test_closed_cursor(con):
    cur = con.execute("SCAN k")
    cur.close()
    cur.close()
    for call in (cur.fetchone, cur.fetchall, cur.fetchmany, lambda: cur.execute("GET a"),
                 lambda: cur.executemany("PUT ? x", [("a",)]), cur.nextset,
                 lambda: cur.setinputsizes([1]), lambda: next(cur)):
        with pytest.raises(lightning.ProgrammingError, match="closed cursor"):
            call()
    assert cur.connection is con
    with con.cursor() as c2:
        c2.execute("GET k1")
    with pytest.raises(lightning.ProgrammingError, match="closed cursor"):
        c2.fetchall()


def test_executemany(con):
    cur = con.cursor()
    cur.executemany("PUT :k :v", ({"k": f"m{i}", "v": "x" * i} for i in range(5)))
    assert cur.rowcount == 5 and cur.lastrowid == 4 and cur.description is None
    assert len(con.execute("SCAN m").fetchall()) == 5
    cur.executemany("PUT ? ?", [])
    assert cur.rowcount == 0
    with pytest.raises(lightning.ProgrammingError, match="return no rows"):
        cur.executemany("GET ?", [("m1",)])
    with pytest.raises(lightning.ProgrammingError, match="transaction control"):
        cur.executemany("COMMIT", [()])
    with pytest.raises(lightning.ProgrammingError, match="iterable"):
        cur.executemany("PUT ? ?", 3)


def test_executemany_is_one_statement(con):
    """A bad parameter set in the middle undoes the sets before it."""
    con.commit()
    with pytest.raises(lightning.ProgrammingError, match="1 supplied"):
        con.executemany("PUT ? ?", [("n1", "1"), ("n2",)])
    assert con.execute("SCAN n").fetchall() == []
    with pytest.raises(lightning.IntegrityError):
        con.executemany("PUTFAIL ? ?", [("n3", "1")])
    assert con.execute("SCAN n").fetchall() == []


def test_executemany_autocommit_single_transaction():
    con = lightning.connect(":memory:", executor=KVExecutor, autocommit=True)
    con.executemany("PUT ? ?", [("a", "1"), ("b", "2")])
    assert con.kv.get(b"a") == b"1" and con.kv.get(b"b") == b"2"
    with pytest.raises(lightning.ProgrammingError):
        con.executemany("PUT ? ?", [("c", "1"), ("d", "1", "x")])
    assert con.kv.get(b"c") is None
    con.close()


def test_parameters_reach_the_executor(con):
    cur = con.cursor()
    cur.execute("GET ?", ["k2"])
    assert cur.fetchall() == [(b"v2",)]
    cur.execute("GET :key", {"key": "k5", "unused": 1})
    assert cur.fetchall() == [(b"v5",)]
    assert con._executor.calls[-1] == ("GET :key", {"key": "k5"})
    assert con._executor.calls[-2] == ("GET ?", ("k2",))
    with pytest.raises(lightning.ProgrammingError, match="1 placeholder.*2 supplied"):
        cur.execute("GET ?", ("a", "b"))


def test_optional_methods(con):
    cur = con.execute("SCAN k")
    cur.setinputsizes([None])
    cur.setoutputsize(10)
    cur.setoutputsize(10, 0)
    assert cur.nextset() is None
    with pytest.raises(lightning.NotSupportedError, match="stored procedures"):
        cur.callproc("p")


def test_empty_statement_does_nothing(con):
    con.commit()
    cur = con.execute("  -- nothing\n")
    assert cur.description is None and cur.rowcount == -1
    assert not con.in_transaction


def test_sql_must_be_str(con):
    with pytest.raises(TypeError):
        con.execute(b"GET a")


def test_rows_survive_commit_and_rollback(con):
    """Unread rows are read before the transaction ends, so fetching after commit()
    (or rollback()) returns the rest, as with sqlite3."""
    cur = con.execute("SCAN k")
    assert cur.fetchone() == rows(1)[0]
    con.commit()
    assert cur.fetchall() == rows(7)[1:]
    cur = con.execute("SCAN k")
    con.execute("PUT k9 v9")
    con.rollback()
    assert len(cur.fetchall()) == 7


def test_row_error_after_commit_is_raised_by_fetch():
    class Broken(KVExecutor):
        def execute(self, txn, sql, params):
            def gen():
                yield (1,)
                raise lightning.DataError("bad row")
            return Result(description=[("x", "INTEGER")], rows=gen())
    con = lightning.connect(":memory:", executor=Broken)
    cur = con.execute("ANY")
    con.commit()
    assert cur.fetchone() == (1,)
    with pytest.raises(lightning.DataError, match="bad row"):
        cur.fetchone()
    con.close()


def test_autocommit_query_rows_are_complete():
    con = lightning.connect(":memory:", executor=KVExecutor, autocommit=True)
    con.executemany("PUT ? ?", [(f"k{i}", "v") for i in range(3)])
    cur = con.execute("SCAN k")
    assert not con.in_transaction
    assert len(cur.fetchall()) == 3
    con.close()


def test_default_executor_names_the_statement(dbpath):
    con = lightning.connect(dbpath)
    cur = con.cursor()
    # the SQL layer's executor names constructs it does not support yet
    for sql, kind in [("SELECT * FROM a JOIN b ON a.x = b.x", "JOIN"),
                      ("WITH c AS (SELECT 1) SELECT * FROM c", "WITH"),
                      ("SELECT ? UNION SELECT 2", "UNION")]:
        with pytest.raises(lightning.NotSupportedError, match=f"{kind}.* is not supported"):
            cur.execute(sql, (1,) if "?" in sql else ())
    # the first statement began the implicit transaction, failed or not (PEP 249)
    assert con.in_transaction
    cur.execute("ROLLBACK")
    # transaction control works with the default executor
    cur.execute("BEGIN")
    cur.execute("SAVEPOINT a")
    cur.execute("RELEASE a")
    cur.execute("COMMIT")
    assert not con.in_transaction
    con.close()


class NotAvailableExecutor:
    """An executor that runs no data statement: it names the statement kind the
    driver's statement classifier (statements.prepare) gives it."""

    def __init__(self, connection=None):
        pass

    def execute(self, txn, sql, params):
        from lightning.dbapi.statements import prepare
        kind = prepare(sql).kind or "SQL"
        raise lightning.NotSupportedError(f"SQL statements are not available yet: {kind} "
                                          "statements")


def test_not_available_executor_names_the_statement(dbpath):
    con = lightning.connect(dbpath, executor=NotAvailableExecutor)
    cur = con.cursor()
    for sql, kind in [("SELECT 1", "SELECT"), ("create table t (x int)", "CREATE TABLE"),
                      ("INSERT INTO t VALUES (?)", "INSERT")]:
        with pytest.raises(lightning.NotSupportedError,
                           match=f"SQL statements are not available yet: {kind} statements"):
            cur.execute(sql, (1,) if "?" in sql else ())
    con.close()
