"""The driver's transaction handling, observed through `conn.kv` and a test executor
that writes KV keys inside the transaction it is given (dbapi_kvexec.py): implicit
transactions, commit/rollback, BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE/ROLLBACK TO,
autocommit, the context manager, close, statement atomicity and conflicts (40001)."""

import threading

import pytest

import lightning
from dbapi_kvexec import KVExecutor


@pytest.fixture
def connect(dbpath):
    conns = []

    def make(**kw):
        c = lightning.connect(dbpath, executor=KVExecutor, **kw)
        conns.append(c)
        return c
    yield make
    for c in conns:
        c.close()


def committed(conn, key):
    """What a reader outside every transaction sees."""
    return conn.kv.get(key)


def test_implicit_transaction_commit(connect):
    con = connect()
    assert not con.in_transaction
    cur = con.execute("PUT a 1")
    assert cur.rowcount == 1 and cur.lastrowid == 1
    assert con.in_transaction
    assert committed(con, b"a") is None
    assert con.execute("GET a").fetchall() == [(b"1",)]   # own write visible
    con.commit()
    assert not con.in_transaction
    assert committed(con, b"a") == b"1"


def test_implicit_transaction_rollback(connect):
    con = connect()
    con.execute("PUT a 1")
    con.rollback()
    assert not con.in_transaction
    assert committed(con, b"a") is None
    con.commit()   # no transaction: a no-op
    con.rollback()


def test_other_connection_sees_only_committed(connect):
    a, b = connect(), connect()
    a.execute("PUT k v")
    assert b.execute("GET k").fetchall() == []
    b.rollback()
    a.commit()
    assert b.execute("GET k").fetchall() == [(b"v",)]


@pytest.mark.parametrize("begin", ["BEGIN", "begin transaction", "BEGIN DEFERRED",
                                   "Begin Immediate Transaction;", "START TRANSACTION",
                                   "/* c */ BEGIN -- x"])
@pytest.mark.parametrize("commit", ["COMMIT", "end", "END TRANSACTION", "commit;"])
def test_begin_commit_statements(connect, begin, commit):
    con = connect(autocommit=True)
    con.execute(begin)
    assert con.in_transaction
    con.execute("PUT a 1")
    assert committed(con, b"a") is None
    con.execute(commit)
    assert not con.in_transaction
    assert committed(con, b"a") == b"1"


@pytest.mark.parametrize("rollback", ["ROLLBACK", "rollback transaction", "ROLLBACK;"])
def test_rollback_statement(connect, rollback):
    con = connect()
    con.execute("BEGIN")
    con.execute("PUT a 1")
    con.execute(rollback)
    assert not con.in_transaction
    con.commit()
    assert committed(con, b"a") is None


def test_begin_inside_transaction_is_operational_error(connect):
    con = connect()
    con.execute("PUT a 1")
    with pytest.raises(lightning.OperationalError, match="within a transaction"):
        con.execute("BEGIN")
    assert con.in_transaction
    con.commit()
    assert committed(con, b"a") == b"1"


def test_bad_control_syntax(connect):
    con = connect()
    for sql, msg in [("BEGIN foo", "near 'foo' at position 6"),
                     ("COMMIT now", "near 'now' at position 7"),
                     ("SAVEPOINT", "at end of statement: expected a savepoint name"),
                     ("ROLLBACK TO", "at end of statement"),
                     ("RELEASE SAVEPOINT 1x", "near '1x'"),
                     ("START", "at end of statement: expected TRANSACTION")]:
        with pytest.raises(lightning.ProgrammingError, match="syntax error " + msg):
            con.execute(sql)
    assert not con.in_transaction


def test_savepoints(connect):
    con = connect()
    con.execute("PUT a 1")
    con.execute("SAVEPOINT s1")
    con.execute("PUT b 2")
    con.execute("savepoint \"S2\"")
    con.execute("PUT c 3")
    con.execute("ROLLBACK TO SAVEPOINT s2")        # names are case-insensitive
    assert con.execute("GET c").fetchall() == []
    assert con.execute("GET b").fetchall() == [(b"2",)]
    con.execute("PUT c 4")
    con.execute("rollback transaction to s2")      # s2 survives a rollback to it
    assert con.execute("GET c").fetchall() == []
    con.execute("RELEASE s1")                      # releases s2 as well
    with pytest.raises(lightning.OperationalError, match="no such savepoint: s2"):
        con.execute("ROLLBACK TO s2")
    with pytest.raises(lightning.OperationalError, match="no such savepoint: s1"):
        con.execute("RELEASE SAVEPOINT s1")
    assert con.in_transaction
    con.commit()
    assert [committed(con, k) for k in (b"a", b"b", b"c")] == [b"1", b"2", None]


def test_rollback_to_keeps_earlier_savepoints(connect):
    con = connect()
    con.execute("SAVEPOINT a")
    con.execute("PUT x 1")
    con.execute("SAVEPOINT b")
    con.execute("PUT y 1")
    con.execute("SAVEPOINT c")
    con.execute("ROLLBACK TO b")
    with pytest.raises(lightning.OperationalError, match="no such savepoint: c"):
        con.execute("RELEASE c")
    con.execute("ROLLBACK TO a")
    con.commit()
    assert committed(con, b"x") is None and committed(con, b"y") is None


def test_duplicate_savepoint_names_use_the_latest(connect):
    con = connect()
    con.execute("SAVEPOINT s")
    con.execute("PUT x 1")
    con.execute("SAVEPOINT s")
    con.execute("PUT y 1")
    con.execute("ROLLBACK TO s")
    con.commit()
    assert committed(con, b"x") == b"1" and committed(con, b"y") is None


def test_savepoint_outside_transaction_in_autocommit_commits_on_release(connect):
    con = connect(autocommit=True)
    con.execute("SAVEPOINT outer")
    assert con.in_transaction
    con.execute("PUT a 1")
    con.execute("SAVEPOINT inner")
    con.execute("PUT b 1")
    con.execute("RELEASE inner")
    assert con.in_transaction and committed(con, b"a") is None
    con.execute("RELEASE outer")
    assert not con.in_transaction
    assert committed(con, b"a") == b"1" and committed(con, b"b") == b"1"


def test_release_does_not_commit_an_explicit_transaction(connect):
    con = connect(autocommit=True)
    con.execute("BEGIN")
    con.execute("SAVEPOINT s")
    con.execute("PUT a 1")
    con.execute("RELEASE s")
    assert con.in_transaction and committed(con, b"a") is None
    con.execute("COMMIT")
    assert committed(con, b"a") == b"1"


def test_autocommit_each_statement_commits(connect):
    con = connect(autocommit=True)
    assert con.autocommit and con.isolation_level is None
    con.execute("PUT a 1")
    assert not con.in_transaction
    assert committed(con, b"a") == b"1"
    # a failing statement leaves nothing behind
    with pytest.raises(lightning.IntegrityError):
        con.execute("PUTFAIL b 1")
    assert committed(con, b"b") is None
    assert not con.in_transaction


def test_isolation_level_none_means_autocommit(connect):
    con = connect(isolation_level=None)
    assert con.autocommit
    con.execute("PUT a 1")
    assert committed(con, b"a") == b"1"
    con2 = connect(isolation_level=None, autocommit=False)   # autocommit wins
    con2.execute("PUT b 1")
    assert con2.in_transaction and committed(con2, b"b") is None


def test_switching_autocommit_on_commits(connect):
    con = connect()
    assert con.autocommit is False and con.isolation_level == "SERIALIZABLE"
    con.execute("PUT a 1")
    con.autocommit = True
    assert not con.in_transaction and committed(con, b"a") == b"1"
    con.isolation_level = "REPEATABLE READ"
    assert not con.autocommit and con.isolation_level == "SNAPSHOT"
    con.execute("PUT b 1")
    con.isolation_level = None
    assert con.autocommit and committed(con, b"b") == b"1"
    with pytest.raises(lightning.ProgrammingError):
        con.autocommit = 1
    with pytest.raises(lightning.ProgrammingError, match="isolation_level"):
        con.isolation_level = "READ COMMITTED"


def test_isolation_levels_reach_the_transaction(connect):
    seen = []

    class Spy(KVExecutor):
        def execute(self, txn, sql, params):
            seen.append(txn.isolation)
            return super().execute(txn, sql, params)

    for level, expect in [("SERIALIZABLE", "serializable"), ("repeatable read", "snapshot"),
                          ("SNAPSHOT", "snapshot"), ("DEFERRED", "serializable")]:
        con = lightning.connect(":memory:", executor=Spy, isolation_level=level)
        con.execute("GET a")
        con.close()
        assert seen[-1] == expect, level


def test_failed_statement_is_undone_but_transaction_stays(connect):
    con = connect()
    con.execute("PUT a 1")
    with pytest.raises(lightning.IntegrityError):
        con.execute("PUTFAIL b 2")
    assert con.in_transaction
    assert con.execute("GET b").fetchall() == []
    con.commit()
    assert committed(con, b"a") == b"1" and committed(con, b"b") is None


def test_context_manager(connect):
    con = connect()
    with con as c:
        assert c is con
        con.execute("PUT a 1")
    assert not con.in_transaction and committed(con, b"a") == b"1"
    with pytest.raises(ZeroDivisionError):
        with con:
            con.execute("PUT b 1")
            1 / 0
    assert committed(con, b"b") is None
    con.execute("PUT c 1")   # still open: the context manager does not close
    con.commit()
    assert committed(con, b"c") == b"1"


def test_close_rolls_back(dbpath):
    con = lightning.connect(dbpath, executor=KVExecutor)
    con.execute("PUT a 1")
    con.close()
    con.close()   # idempotent
    with lightning.open(dbpath) as db:
        assert db.get(b"a") is None


def test_closed_connection_raises_programming_error(connect):
    con = connect()
    cur = con.cursor()
    con.close()
    for call in (con.cursor, con.commit, con.rollback, lambda: con.execute("PUT a 1"),
                 lambda: con.kv, lambda: con.in_transaction, lambda: con.autocommit,
                 lambda: cur.execute("GET a"), cur.fetchone, lambda: con.__enter__()):
        with pytest.raises(lightning.ProgrammingError, match="closed"):
            call()
    assert con.closed


def test_kv_shares_the_engine(connect, dbpath):
    a, b = connect(), connect()
    a.kv.put(b"direct", b"1")
    assert b.kv.get(b"direct") == b"1"
    assert b.execute("GET direct").fetchall() == [(b"1",)]
    assert isinstance(a.kv, lightning.Database)


def test_memory_databases_are_private():
    a = lightning.connect(":memory:", executor=KVExecutor, autocommit=True)
    b = lightning.connect(":memory:", executor=KVExecutor, autocommit=True)
    a.execute("PUT k 1")
    assert b.execute("GET k").fetchall() == []
    assert a.execute("GET k").fetchall() == [(b"1",)]
    a.close(), b.close()


def test_conflict_from_interleaved_transactions(connect):
    a, b = connect(), connect()
    a.execute("GET k")
    b.execute("GET k")
    a.execute("PUT k a")
    b.execute("PUT k b")
    a.commit()
    with pytest.raises(lightning.OperationalError) as ei:
        b.commit()
    assert isinstance(ei.value, lightning.ConflictError)
    assert ei.value.sqlstate == "40001"
    assert not b.in_transaction   # over either way
    assert committed(a, b"k") == b"a"
    b.execute("PUT k b")          # a new transaction works
    b.commit()
    assert committed(a, b"k") == b"b"


def test_conflict_on_commit_statement_and_autocommit(connect):
    a, b = connect(), connect(autocommit=True)
    a.execute("PUT k a")
    b.execute("BEGIN")
    b.execute("PUT k b")
    a.commit()
    with pytest.raises(lightning.OperationalError) as ei:
        b.execute("COMMIT")
    assert ei.value.sqlstate == "40001"
    assert committed(a, b"k") == b"a"


def test_conflict_between_threads(connect):
    """Two threads increment one counter in their own connections; every lost update
    is a 40001 error, and the counter equals the number of successful commits."""
    ok = [0, 0]
    conflicts = [0, 0]
    barrier = threading.Barrier(2)
    conns = [connect(), connect()]

    def work(i):
        con = conns[i]
        for _ in range(50):
            barrier.wait()
            rows = con.execute("GET n").fetchall()
            n = int(rows[0][0]) if rows else 0
            con.execute("PUT n ?", (str(n + 1),))
            barrier.wait()
            try:
                con.commit()
                ok[i] += 1
            except lightning.OperationalError as e:
                assert e.sqlstate == "40001"
                conflicts[i] += 1
    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    # both read the same n in every round, so exactly one of the two commits conflicts
    assert conflicts[0] + conflicts[1] == 50 and ok[0] + ok[1] == 50
    assert int(committed(conns[0], b"n")) == sum(ok)
