"""What the DB-API says when things go wrong: commit conflicts name the table or
index and the key values (not the engine's raw key), writes on a read-only
connection say so, and a cursor fetched from by two threads at once raises
ProgrammingError instead of losing rows."""

import functools
import threading

import pytest

import lightning
from lightning.sql.interface import Result

from sqlcheck import run_threads


@pytest.fixture
def pair(tmp_path):
    path = str(tmp_path / "c.ldb")
    a, b = lightning.connect(path), lightning.connect(path)
    a.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE, "
              "name TEXT)")
    a.execute("CREATE INDEX users_name ON users (name)")
    a.execute("CREATE TABLE k (a TEXT, b INTEGER, PRIMARY KEY (a, b))")
    a.execute("INSERT INTO users VALUES (5, 'a@x', 'n')")
    a.commit()
    yield a, b
    a.close()
    b.close()


def conflict(pair, sql_a, sql_b, params_a=(), params_b=()):
    a, b = pair
    a.execute(sql_a, params_a)
    b.execute(sql_b, params_b)
    a.commit()
    with pytest.raises(lightning.ConflictError) as info:
        b.commit()
    assert info.value.sqlstate == "40001"
    assert "conflict on key" not in str(info.value)
    return str(info.value)


def test_conflict_on_a_row_names_table_and_key(pair):
    msg = conflict(pair, "UPDATE users SET name = 'p' WHERE id = 5",
                   "UPDATE users SET name = 'q' WHERE id = 5")
    assert "conflict on table users, id=5 " in msg
    assert "retry the transaction" in msg


def test_conflict_on_a_unique_index_names_index_and_value(pair):
    msg = conflict(pair, "INSERT INTO users VALUES (6, 'b@x', 'z')",
                   "INSERT INTO users VALUES (7, 'b@x', 'z')")
    assert "conflict on index lightning_autoindex_users_1, email='b@x' " in msg


def test_conflict_on_a_composite_key(pair):
    msg = conflict(pair, "INSERT INTO k VALUES ('x', 1)", "INSERT INTO k VALUES ('x', 1)")
    assert "conflict on table k, a='x', b=1 " in msg


def test_conflict_on_a_long_key_names_the_table(pair):
    big = "x" * 100                 # the engine's message shows 64 bytes of a key
    msg = conflict(pair, "INSERT INTO k VALUES (?, 1)", "INSERT INTO k VALUES (?, 1)",
                   (big,), (big,))
    assert "conflict on table k " in msg


def test_conflict_on_the_schema(pair):
    msg = conflict(pair, "CREATE TABLE t2 (x INTEGER)", "CREATE TABLE t3 (x INTEGER)")
    assert "conflict on the schema of the database" in msg


def test_kv_users_keep_the_engine_message(tmp_path):
    db = lightning.open(str(tmp_path / "kv.ldb"))
    t1, t2 = db.transaction(), db.transaction()
    t1.put(b"\x02k", b"1")
    t2.put(b"\x02k", b"2")
    t1.commit()
    with pytest.raises(lightning.ConflictError, match=r"conflict on key '\\x02k'"):
        t2.commit()
    db.close()


# -- read-only connections --

@pytest.mark.parametrize("sql, kind", [
    ("INSERT INTO users VALUES (9, 'q', 'r')", "INSERT"),
    ("update users SET name = 'x'", "UPDATE"),
    ("DELETE FROM users", "DELETE"),
    ("REPLACE INTO users VALUES (5, 'a@x', 'm')", "REPLACE"),
    ("CREATE TABLE zz (a INTEGER)", "CREATE TABLE"),
    ("CREATE INDEX zi ON users (name)", "CREATE INDEX"),
    ("DROP TABLE users", "DROP TABLE"),
    ("ALTER TABLE users ADD COLUMN c INTEGER", "ALTER TABLE"),
])
@pytest.mark.parametrize("autocommit", [False, True])
def test_write_on_a_read_only_connection_says_so(pair, sql, kind, autocommit):
    a, _ = pair
    c = lightning.connect(f"file:{a.database}?mode=ro", autocommit=autocommit)
    try:
        want = f"attempt to write a read-only database: {kind} on a connection opened " \
            r"read-only \(mode=ro\)"
        with pytest.raises(lightning.OperationalError, match=want):
            c.execute(sql)
        if "VALUES" in sql:
            with pytest.raises(lightning.OperationalError, match=want):
                c.executemany(sql, [()])
        assert c.execute("SELECT count(*) FROM users").fetchall() == [(1,)]
        assert c.execute("EXPLAIN DELETE FROM users").fetchall()
    finally:
        c.close()


# -- one cursor, two threads --

class _SlowExecutor:
    """Rows read lazily; the generator waits for `go` after its first row."""

    def __init__(self, connection):
        self.inside, self.go = threading.Event(), threading.Event()

    def execute(self, txn, sql, params):
        def rows():
            yield (0,)
            self.inside.set()
            self.go.wait(10)
            for i in range(1, 100):
                yield (i,)
        return Result(description=[("n", "INTEGER")], rows=rows())


@pytest.mark.parametrize("fetch", ["fetchone", "fetchmany", "fetchall", "next"])
def test_cursor_fetched_by_two_threads_raises(fetch):
    c = lightning.connect(":memory:", executor=_SlowExecutor)
    ex = c._executor
    cur = c.execute("SELECT n")
    assert cur.fetchone() == (0,)
    got = []
    t = threading.Thread(target=lambda: got.extend(cur.fetchall()))
    t.start()
    assert ex.inside.wait(10)               # the thread is inside the generator
    calls = {"fetchone": cur.fetchone, "fetchmany": lambda: cur.fetchmany(5),
             "fetchall": cur.fetchall, "next": lambda: next(cur)}
    try:
        with pytest.raises(lightning.ProgrammingError, match="two threads at once"):
            calls[fetch]()
    finally:
        ex.go.set()
        t.join()
    assert got == [(i,) for i in range(1, 100)]     # the first thread lost nothing
    c.close()


def test_cursor_shared_by_threads_delivers_each_row_once():
    c = lightning.connect(":memory:")
    c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER)")
    c.executemany("INSERT INTO t VALUES (?, ?)", [(i, i) for i in range(30000)])
    c.commit()
    cur = c.execute("SELECT id FROM t WHERE a >= 0")
    got = [[], [], []]

    def work(k):
        try:
            while True:
                rows = cur.fetchmany(64)
                if not rows:
                    return
                got[k] += rows
        except lightning.ProgrammingError:
            pass                                    # the other thread goes on
    run_threads(*(functools.partial(work, k) for k in range(3)))
    rows = sorted(got[0] + got[1] + got[2])
    assert rows == [(i,) for i in range(30000)]
    c.close()
