"""Size limits seen through SQL: the transaction's write limit (connect's
max_write_bytes) and the engine's key size limit, on reads and on writes."""

import pytest

import lightning
from lightning.kv import MAX_KEY_SIZE
from lightning.sql.executor import SqlExecutor

BIG = "x" * (MAX_KEY_SIZE + 100)


# -- the transaction's write limit --

def test_executemany_past_the_write_limit_is_operational_error():
    """The first batch of an executemany() INSERT that goes past the limit raised
    BufferError (a buffer was cleared while a memoryview of it was still alive),
    masking the engine's error; and the retried flush then wrote the batch again."""
    db = lightning.open(":memory:")
    ex = SqlExecutor(None)
    ex._db = db
    with db.transaction() as t:
        ex.execute(t, "CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)", ())
    t = db.transaction(max_write_bytes=100_000)
    with pytest.raises(lightning.OperationalError, match="limit of 100000 bytes"):
        ex.execute_many(t, "INSERT INTO t VALUES (?, ?)",
                        iter([(i, b"x" * 100) for i in range(3000)]))
    t.rollback()
    db.close()


@pytest.mark.parametrize("autocommit", [False, True])
def test_connect_max_write_bytes(autocommit):
    c = lightning.connect(":memory:", max_write_bytes=100_000, autocommit=autocommit)
    assert c.max_write_bytes == 100_000
    c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)")
    c.commit()
    rows = [(i, b"x" * 100) for i in range(3000)]
    with pytest.raises(lightning.OperationalError, match="limit of 100000 bytes"):
        c.executemany("INSERT INTO t VALUES (?, ?)", rows)
    with pytest.raises(lightning.OperationalError, match="limit of 100000 bytes"):
        c.execute("INSERT INTO t VALUES (1, ?)", (b"y" * 200_000,))
    # the statements were undone; the connection (and its transaction) go on
    assert c.execute("SELECT count(*) FROM t").fetchall() == [(0,)]
    c.executemany("INSERT INTO t VALUES (?, ?)", rows[:100])
    c.commit()
    assert c.execute("SELECT count(*) FROM t").fetchall() == [(100,)]
    c.close()


def test_default_write_limit():
    c = lightning.connect(":memory:")
    assert c.max_write_bytes == 64 << 20
    c.close()


@pytest.mark.parametrize("bad", [0, -1, True, "1000", 1.5])
def test_connect_max_write_bytes_checked(bad):
    with pytest.raises(lightning.ProgrammingError, match="max_write_bytes"):
        lightning.connect(":memory:", max_write_bytes=bad)


# -- the key size limit --

@pytest.fixture
def con():
    c = lightning.connect(":memory:")
    c.execute("CREATE TABLE u (name TEXT PRIMARY KEY, v INTEGER)")
    c.execute("CREATE TABLE w (id INTEGER PRIMARY KEY, email TEXT UNIQUE, tag TEXT, "
              "n TEXT)")
    c.execute("CREATE INDEX w_tag ON w (tag, n)")
    c.execute("INSERT INTO u VALUES ('a', 1), ('zz', 2)")
    c.execute("INSERT INTO w VALUES (1, 'a@x', 'a', 'b')")
    yield c
    c.close()


@pytest.mark.parametrize("sql, want", [
    ("SELECT * FROM u WHERE name = ?", []),
    ("SELECT v FROM u WHERE name = ?", []),
    ("SELECT * FROM u WHERE name IN (?, 'a')", [("a", 1)]),
    ("SELECT * FROM u WHERE name > ?", [("zz", 2)]),
    ("SELECT * FROM u WHERE name < ?", [("a", 1)]),
    ("SELECT * FROM u WHERE name <= ? ORDER BY name DESC", [("a", 1)]),
    ("SELECT * FROM u WHERE name BETWEEN 'a' AND ?", [("a", 1)]),
    ("SELECT id FROM w WHERE email = ?", []),
    ("SELECT id FROM w WHERE tag = ?", []),
    ("SELECT id FROM w WHERE tag = 'a' AND n = ?", []),
    ("SELECT id FROM w WHERE tag = 'a' AND n < ?", [(1,)]),
])
def test_select_with_a_too_long_key_finds_nothing(con, sql, want):
    for _ in range(3):              # the normal path, then the fast paths
        assert con.execute(sql, (BIG.replace("x", "b"),)).fetchall() == want


def test_update_delete_with_a_too_long_key_touch_nothing(con):
    for _ in range(2):
        assert con.execute("UPDATE u SET v = 5 WHERE name = ?", (BIG,)).rowcount == 0
        assert con.execute("DELETE FROM u WHERE name = ?", (BIG,)).rowcount == 0
    assert con.execute("SELECT name FROM u WHERE name = '" + BIG + "'").fetchall() == []


@pytest.mark.parametrize("sql, what", [
    ("INSERT INTO u VALUES (?, 1)", "the PRIMARY KEY of table u: column name "),
    ("INSERT INTO w VALUES (2, ?, 'a', 'b')",
     "index lightning_autoindex_w_1 on table w: column email "),
    ("INSERT INTO w VALUES (2, 'b@x', 'a', ?)", "index w_tag on table w: columns tag "
                                                r"\(text of 1 characters\), n "),
    ("UPDATE u SET name = ?", "the PRIMARY KEY of table u: column name "),
    ("UPDATE w SET tag = ?", "index w_tag on table w: columns tag "),
])
def test_a_too_long_key_on_write_names_the_column(con, sql, what):
    with pytest.raises(lightning.DataError,
                       match=f"key too long for {what}.*the limit is {MAX_KEY_SIZE} bytes"):
        con.execute(sql, (BIG,))
    assert con.execute("SELECT count(*) FROM w").fetchall() == [(1,)]


def test_a_too_long_key_in_executemany_names_the_column(con):
    with pytest.raises(lightning.DataError, match="key too long for the PRIMARY KEY of "
                       "table u: column name "):
        con.executemany("INSERT INTO u VALUES (?, 1)",
                        [(str(i),) for i in range(3000)] + [(BIG,)])
    with pytest.raises(lightning.DataError, match="key too long for index w_tag"):
        con.executemany("INSERT INTO w VALUES (NULL, NULL, 'a', ?)",
                        [(str(i),) for i in range(1500)] + [(BIG,)])
    assert con.execute("SELECT count(*) FROM u").fetchall() == [(2,)]
    assert con.execute("SELECT count(*) FROM w").fetchall() == [(1,)]


@pytest.mark.parametrize("sql", [
    "INSERT OR IGNORE INTO w VALUES (2, ?, 'a', 'b')",
    "INSERT OR REPLACE INTO w VALUES (2, ?, 'a', 'b')",
    "INSERT INTO w VALUES (2, ?, 'a', 'b') ON CONFLICT DO NOTHING",
    "INSERT INTO w VALUES (2, ?, 'a', 'b') ON CONFLICT (email) DO NOTHING",
])
def test_conflict_checks_with_a_too_long_key_name_the_column(con, sql):
    with pytest.raises(lightning.DataError, match="key too long for index "
                       "lightning_autoindex_w_1 on table w: column email "):
        con.execute(sql, (BIG,))


def test_foreign_key_with_a_too_long_value_has_no_parent(con):
    con.execute("CREATE TABLE ch (id INTEGER PRIMARY KEY, pn TEXT REFERENCES u(name))")
    with pytest.raises(lightning.IntegrityError, match="FOREIGN KEY constraint failed"):
        con.execute("INSERT INTO ch VALUES (1, ?)", (BIG,))
