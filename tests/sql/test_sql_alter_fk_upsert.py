"""ALTER TABLE, foreign keys, INSERT ... ON CONFLICT and RETURNING through the public
DB-API; compared with sqlite3 (PRAGMA foreign_keys=ON) where the semantics agree, and
every index checked against the rows after the writes."""

import sqlite3

import pytest

import lightning
from sqlcheck import indexed_rows


@pytest.fixture
def con():
    c = lightning.connect(":memory:")
    yield c
    c.close()


_OPEN = []


@pytest.fixture(autouse=True)
def _close_connections():
    yield
    while _OPEN:
        _OPEN.pop().close()


def _both(*stmts):
    a = lightning.connect(":memory:")
    b = sqlite3.connect(":memory:")
    _OPEN.extend((a, b))
    b.execute("PRAGMA foreign_keys=ON")
    for s in stmts:
        a.execute(s)
        b.execute(s)
    return a, b


def _same(a, b, sql, params=()):
    ra = a.execute(sql, params).fetchall()
    rb = b.execute(sql, params).fetchall()
    assert ra == rb, sql
    return ra


def _check_indexes(con, name):
    """Every index entry matches a row and every row has its entries; returns the rows."""
    con.commit()
    return indexed_rows(con, name)[1]


def test_add_column_default_and_not_null_like_sqlite():
    a, b = _both("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)",
                 "INSERT INTO t VALUES (1, 'x'), (2, 'y')",
                 "ALTER TABLE t ADD COLUMN n INTEGER NOT NULL DEFAULT 7",
                 "ALTER TABLE t ADD COLUMN note TEXT",
                 "ALTER TABLE t ADD w REAL DEFAULT 1.5",
                 "INSERT INTO t (id, name, note) VALUES (3, 'z', 'new')",
                 "INSERT INTO t (id, name, n, w) VALUES (4, 'q', 1, NULL)")
    _same(a, b, "SELECT * FROM t ORDER BY id")
    _same(a, b, "SELECT id FROM t WHERE n = 7 ORDER BY id")
    _same(a, b, "SELECT id FROM t WHERE w IS NULL")
    assert [d[0] for d in a.execute("SELECT * FROM t").description] == \
        ["id", "name", "n", "note", "w"]
    for c in (a, b):
        with pytest.raises((lightning.IntegrityError, sqlite3.IntegrityError)):
            c.execute("INSERT INTO t (id, name, n) VALUES (5, 'e', NULL)")
    with pytest.raises(lightning.ProgrammingError, match="NOT NULL column without"):
        a.execute("ALTER TABLE t ADD COLUMN m INTEGER NOT NULL")
    with pytest.raises(lightning.ProgrammingError, match="(?i)duplicate column name: name"):
        a.execute("ALTER TABLE t ADD COLUMN NAME TEXT")
    with pytest.raises(lightning.ProgrammingError, match="UNIQUE column"):
        a.execute("ALTER TABLE t ADD COLUMN u TEXT UNIQUE")
    with pytest.raises(lightning.ProgrammingError, match="no such table: nope"):
        a.execute("ALTER TABLE nope ADD COLUMN c INTEGER")
    with pytest.raises(lightning.DataError):
        a.execute("ALTER TABLE t ADD COLUMN bad INTEGER DEFAULT 'abc'")
    _same(a, b, "SELECT * FROM t ORDER BY id")


def test_add_column_check_validates_existing_rows(con):
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    con.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(lightning.IntegrityError, match="CHECK constraint failed"):
        con.execute("ALTER TABLE t ADD COLUMN c INTEGER DEFAULT -1 CHECK (c >= 0)")
    assert [d[0] for d in con.execute("SELECT * FROM t").description] == ["id"]
    con.execute("ALTER TABLE t ADD COLUMN c INTEGER DEFAULT 0 CHECK (c >= 0)")
    with pytest.raises(lightning.IntegrityError, match="CHECK constraint failed"):
        con.execute("UPDATE t SET c = -5")
    assert con.execute("SELECT * FROM t").fetchall() == [(1, 0)]


def test_drop_column(con):
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b INTEGER, c INTEGER, "
                "d INTEGER CHECK (d > 0))")
    con.execute("CREATE INDEX tb ON t (b)")
    con.execute("INSERT INTO t VALUES (1, 'x', 10, 100, 1), (2, 'y', 20, 200, 2)")
    for col, why in [("id", "PRIMARY KEY"), ("b", "indexed"), ("d", "CHECK"),
                     ("zz", "no such column: zz")]:
        with pytest.raises(lightning.ProgrammingError, match=why):
            con.execute(f"ALTER TABLE t DROP COLUMN {col}")
    con.execute("ALTER TABLE t DROP COLUMN a")
    con.execute("ALTER TABLE t DROP c")                       # COLUMN is optional
    assert con.execute("SELECT * FROM t ORDER BY id").fetchall() == [(1, 10, 1), (2, 20, 2)]
    with pytest.raises(lightning.ProgrammingError, match="no such column: a"):
        con.execute("SELECT a FROM t")
    # a new column with the old name reads NULL, not the stale stored value
    con.execute("ALTER TABLE t ADD COLUMN a TEXT")
    con.execute("INSERT INTO t (id, b, d, a) VALUES (3, 30, 3, 'new')")
    assert con.execute("SELECT id, a FROM t ORDER BY id").fetchall() == \
        [(1, None), (2, None), (3, "new")]
    assert len(_check_indexes(con, "t")) == 3


def test_rename_column_and_table_with_indexes_checks_and_cache(con):
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER CHECK (a < 100), "
                "b TEXT UNIQUE)")
    con.execute("CREATE INDEX ta ON t (a)")
    con.execute("INSERT INTO t VALUES (1, 5, 'x'), (2, 6, 'y')")
    q = "SELECT * FROM t WHERE a = 5"
    assert con.execute(q).fetchall() == [(1, 5, "x")]
    con.execute("ALTER TABLE t RENAME COLUMN a TO alpha")
    with pytest.raises(lightning.ProgrammingError, match="no such column: a"):
        con.execute(q)                                       # cached plan invalidated
    assert con.execute("SELECT alpha FROM t WHERE alpha = 6").fetchall() == [(6,)]
    assert "INDEX ta" in con.execute("EXPLAIN SELECT * FROM t WHERE alpha = 6").fetchone()[0]
    with pytest.raises(lightning.IntegrityError, match="CHECK constraint failed"):
        con.execute("INSERT INTO t VALUES (3, 500, 'z')")     # renamed CHECK still enforced
    with pytest.raises(lightning.ProgrammingError, match="duplicate column name: b"):
        con.execute("ALTER TABLE t RENAME COLUMN alpha TO b")
    con.execute("ALTER TABLE t RENAME TO u")
    with pytest.raises(lightning.ProgrammingError, match="no such table: t"):
        con.execute("SELECT * FROM t")
    con.execute("INSERT INTO u VALUES (3, 7, 'z')")
    with pytest.raises(lightning.IntegrityError, match="UNIQUE constraint failed.*table u"):
        con.execute("INSERT INTO u VALUES (4, 8, 'z')")
    assert con.execute("SELECT id FROM u WHERE alpha = 7").fetchall() == [(3,)]
    assert "INDEX ta" in con.execute("EXPLAIN SELECT * FROM u WHERE alpha = 7").fetchone()[0]
    con.execute("DROP INDEX ta")                               # index name still known
    assert len(_check_indexes(con, "u")) == 3
    con.execute("CREATE TABLE t (x INTEGER)")                  # the old name is free
    with pytest.raises(lightning.ProgrammingError, match="already exists"):
        con.execute("ALTER TABLE t RENAME TO U")


def test_alter_is_transactional(tmp_path):
    path = str(tmp_path / "a.ldb")
    con = lightning.connect(path)
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT)")
    con.execute("INSERT INTO t VALUES (1, 'x')")
    con.commit()
    con.execute("ALTER TABLE t ADD COLUMN n INTEGER DEFAULT 3")
    con.execute("ALTER TABLE t RENAME COLUMN a TO b")
    con.execute("ALTER TABLE t RENAME TO u")
    assert con.execute("SELECT * FROM u").fetchall() == [(1, "x", 3)]
    other = lightning.connect(path)
    assert other.execute("SELECT * FROM t").fetchall() == [(1, "x")]   # not yet visible
    other.rollback()
    con.rollback()
    assert con.execute("SELECT * FROM t").fetchall() == [(1, "x")]
    assert [d[0] for d in con.execute("SELECT * FROM t").description] == ["id", "a"]
    with pytest.raises(lightning.ProgrammingError, match="no such table: u"):
        con.execute("SELECT * FROM u")
    con.execute("ALTER TABLE t DROP COLUMN a")
    con.rollback()
    assert con.execute("SELECT a FROM t").fetchall() == [("x",)]
    con.execute("ALTER TABLE t ADD COLUMN n INTEGER DEFAULT 9")
    con.commit()
    assert other.execute("SELECT * FROM t").fetchall() == [(1, "x", 9)]
    other.close()
    con.close()


# ---- RETURNING ----------------------------------------------------------------------------

def test_returning_on_insert_update_delete_like_sqlite():
    a, b = _both("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER DEFAULT 1)")
    for sql, params in [
            ("INSERT INTO t (name) VALUES ('a'), ('b'), ('c') RETURNING id, name, qty", ()),
            ("INSERT INTO t VALUES (10, ?, 5) RETURNING *", ("d",)),
            ("UPDATE t SET qty = qty * 10 WHERE id >= 2 RETURNING id, qty + 1 AS q", ()),
            ("DELETE FROM t WHERE qty > 20 RETURNING name", ()),
            ("DELETE FROM t WHERE id = 99 RETURNING *", ())]:
        ca, cb = a.cursor(), b.cursor()
        ca.execute(sql, params)
        cb.execute(sql, params)
        assert sorted(ca.fetchall()) == sorted(cb.fetchall()), sql
        assert [d[0] for d in ca.description] == [d[0] for d in cb.description], sql
        assert ca.rowcount == cb.rowcount, sql
    _same(a, b, "SELECT * FROM t ORDER BY id")
    cur = a.cursor()
    cur.execute("INSERT INTO t (name) VALUES ('e') RETURNING id")
    assert cur.description[0][1] == lightning.ROWID
    assert cur.fetchone() == (cur.lastrowid,)
    with pytest.raises(lightning.ProgrammingError, match="no such column: nope"):
        a.execute("UPDATE t SET qty = 1 RETURNING nope")
    with pytest.raises(lightning.ProgrammingError, match="aggregate"):
        a.execute("DELETE FROM t RETURNING count(*)")
    assert a.execute("SELECT count(*) FROM t").fetchone() == (4,)   # nothing deleted


def test_returning_failed_statement_writes_nothing(con):
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE)")
    con.execute("INSERT INTO t VALUES (1, 1), (2, 2)")
    with pytest.raises(lightning.IntegrityError):
        con.execute("INSERT INTO t VALUES (3, 3), (4, 1) RETURNING *")
    with pytest.raises(lightning.IntegrityError):
        con.execute("UPDATE t SET v = 5 RETURNING *")
    assert con.execute("SELECT * FROM t ORDER BY id").fetchall() == [(1, 1), (2, 2)]
    assert len(_check_indexes(con, "t")) == 2


# ---- ON CONFLICT --------------------------------------------------------------------------

UPSERT_SCHEMA = ("CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER, hits INTEGER DEFAULT 0, "
                 "email TEXT UNIQUE)")


def test_upsert_like_sqlite():
    a, b = _both(UPSERT_SCHEMA, "INSERT INTO kv (k, v, email) VALUES ('a', 1, 'a@x'), "
                 "('b', 2, 'b@x')")
    stmts = [
        "INSERT INTO kv (k, v) VALUES ('a', 10) ON CONFLICT DO NOTHING",
        "INSERT INTO kv (k, v) VALUES ('c', 3), ('a', 11) ON CONFLICT (k) DO NOTHING",
        "INSERT INTO kv (k, v) VALUES ('a', 5), ('d', 4) ON CONFLICT (k) DO UPDATE SET "
        "v = excluded.v + kv.v, hits = hits + 1",
        "INSERT INTO kv (k, v, email) VALUES ('z', 9, 'b@x') ON CONFLICT (email) DO UPDATE "
        "SET v = excluded.v, email = 'b2@x'",
        "INSERT INTO kv (k, v) VALUES ('a', 100), ('b', 100) ON CONFLICT (k) DO UPDATE "
        "SET v = excluded.v WHERE kv.v < 5",
        "INSERT INTO kv (k, v) VALUES ('e', 1), ('e', 2) ON CONFLICT (k) DO UPDATE "
        "SET v = v + excluded.v",
        "INSERT INTO kv (k, v) VALUES ('d', 7) ON CONFLICT (k) DO UPDATE SET v = excluded.v "
        "RETURNING k, v, hits",
        "INSERT INTO kv (k, v) VALUES ('d', 8) ON CONFLICT (k) DO NOTHING RETURNING *",
    ]
    for sql in stmts:
        ca, cb = a.execute(sql), b.execute(sql)
        if "RETURNING" in sql:      # sqlite3 counts RETURNING rows as they are fetched
            assert ca.fetchall() == cb.fetchall(), sql
        assert ca.rowcount == cb.rowcount, sql
        _same(a, b, "SELECT * FROM kv ORDER BY k")
    assert _same(a, b, "SELECT v, hits FROM kv WHERE k = 'a'") == [(6, 1)]
    for c in (a, b):    # a conflict on another constraint than the target is an error
        with pytest.raises((lightning.IntegrityError, sqlite3.IntegrityError)):
            c.execute("INSERT INTO kv (k, email) VALUES ('q', 'a@x') ON CONFLICT (k) "
                      "DO NOTHING")
        with pytest.raises((lightning.IntegrityError, sqlite3.IntegrityError)):
            c.execute("INSERT INTO kv (k, v) VALUES ('a', 1) ON CONFLICT (k) DO UPDATE "
                      "SET email = 'b2@x'")    # the update itself violates UNIQUE
    _same(a, b, "SELECT * FROM kv ORDER BY k")
    assert len(_check_indexes(a, "kv")) == 5


def test_upsert_errors(con):
    con.execute(UPSERT_SCHEMA)
    with pytest.raises(lightning.ProgrammingError, match="does not match any PRIMARY KEY "
                                                         "or UNIQUE"):
        con.execute("INSERT INTO kv (k, v) VALUES ('a', 1) ON CONFLICT (v) DO NOTHING")
    with pytest.raises(lightning.ProgrammingError, match="no such column"):
        con.execute("INSERT INTO kv (k, v) VALUES ('a', 1) ON CONFLICT (nope) DO NOTHING")
    with pytest.raises(lightning.ProgrammingError, match="no such column"):
        con.execute("INSERT INTO kv (k, v) VALUES ('a', 1) ON CONFLICT (k) DO UPDATE "
                    "SET v = excluded.nope")
    con.execute("INSERT INTO kv (k, v) VALUES ('a', 1)")
    for alt in ("FAIL", "ROLLBACK"):         # OR IGNORE / REPLACE: test_sql_insert_forms
        with pytest.raises(lightning.NotSupportedError, match=f"INSERT OR {alt}"):
            con.execute(f"INSERT OR {alt} INTO kv (k, v) VALUES ('a', 2)")
    with pytest.raises(lightning.DataError):
        con.execute("INSERT INTO kv (k, v) VALUES ('a', 1) ON CONFLICT (k) DO UPDATE "
                    "SET v = 'not a number'")
    assert con.execute("SELECT k, v FROM kv").fetchall() == [("a", 1)]


def test_upsert_maintains_secondary_indexes(con):
    con.execute("CREATE TABLE s (id INTEGER PRIMARY KEY, grp INTEGER, tag TEXT UNIQUE)")
    con.execute("CREATE INDEX sg ON s (grp)")
    con.executemany("INSERT INTO s VALUES (?, ?, ?)", [(i, i % 3, f"t{i}") for i in range(10)])
    con.execute("INSERT INTO s VALUES (1, 50, 't1'), (2, 51, 'new2'), (20, 52, 't20') "
                "ON CONFLICT (id) DO UPDATE SET grp = excluded.grp, tag = excluded.tag")
    rows = _check_indexes(con, "s")
    assert len(rows) == 11
    assert con.execute("SELECT id FROM s WHERE grp = 51").fetchall() == [(2,)]
    assert con.execute("SELECT id FROM s WHERE tag = 't2'").fetchall() == []
    assert con.execute("SELECT id FROM s WHERE tag = 'new2'").fetchall() == [(2,)]


# ---- foreign keys -------------------------------------------------------------------------

FK_SCHEMA = [
    "CREATE TABLE p (id INTEGER PRIMARY KEY, code TEXT UNIQUE)",
    "CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id) ON DELETE "
    "CASCADE ON UPDATE CASCADE, pcode TEXT, CONSTRAINT c_code FOREIGN KEY (pcode) "
    "REFERENCES p(code) ON DELETE SET NULL ON UPDATE RESTRICT)",
    "CREATE INDEX c_pid ON c (pid)",
    "CREATE TABLE g (id INTEGER PRIMARY KEY, cid INTEGER, note TEXT, "
    "FOREIGN KEY (cid) REFERENCES c ON DELETE CASCADE)",        # no index on g.cid: scan
    "INSERT INTO p VALUES (1, 'a'), (2, 'b'), (3, 'c')",
    "INSERT INTO c VALUES (10, 1, 'a'), (11, 1, 'b'), (12, 2, NULL), (13, NULL, 'c')",
    "INSERT INTO g VALUES (100, 10, 'x'), (101, 11, 'y'), (102, 12, 'z'), (103, NULL, 'n')",
]


def _fk_state(a, b):
    for t in ("p", "c", "g"):
        _same(a, b, f"SELECT * FROM {t} ORDER BY id")


def test_fk_child_side_like_sqlite():
    a, b = _both(*FK_SCHEMA)
    for sql in ["INSERT INTO c VALUES (20, 9, NULL)",
                "INSERT INTO c VALUES (20, NULL, 'nope')",
                "UPDATE c SET pid = 42 WHERE id = 12",
                "INSERT INTO g VALUES (200, 99, 'bad')"]:
        with pytest.raises(sqlite3.IntegrityError):
            b.execute(sql)
        with pytest.raises(lightning.IntegrityError, match="FOREIGN KEY constraint failed"):
            a.execute(sql)
    with pytest.raises(lightning.IntegrityError,
                       match=r"c_code \(table c \(pcode\) references p\(code\)\)"):
        a.execute("INSERT INTO c VALUES (21, NULL, 'zz')")
    for sql in ["INSERT INTO c VALUES (20, NULL, NULL)", "INSERT INTO c VALUES (21, 3, 'b')",
                "UPDATE c SET pid = 3 WHERE id = 12", "UPDATE c SET pid = NULL WHERE id = 10"]:
        a.execute(sql)
        b.execute(sql)
    _fk_state(a, b)


def test_fk_delete_actions_cascade_two_levels_like_sqlite():
    a, b = _both(*FK_SCHEMA)
    for sql in ["DELETE FROM p WHERE id = 1",           # c 10, 11 cascade; g 100, 101 too
                "DELETE FROM p WHERE code = 'c'"]:      # c 13.pcode SET NULL
        assert a.execute(sql).rowcount == b.execute(sql).rowcount == 1
        _fk_state(a, b)
    assert _same(a, b, "SELECT id FROM g ORDER BY id") == [(102,), (103,)]
    assert _same(a, b, "SELECT id, pcode FROM c ORDER BY id") == [(12, None), (13, None)]
    for t in ("p", "c", "g"):
        _check_indexes(a, t)


def test_fk_restrict_and_no_action(con):
    for s in FK_SCHEMA:
        con.execute(s)
    con.execute("CREATE TABLE r (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p)")
    con.execute("INSERT INTO r VALUES (1, 3)")
    with pytest.raises(lightning.IntegrityError,
                       match=r"FOREIGN KEY constraint failed: fk_r_1 \(table r \(pid\) "
                             r"references p\(id\)\): cannot delete the row of p"):
        con.execute("DELETE FROM p WHERE id = 3")
    with pytest.raises(lightning.IntegrityError, match="c_code.*cannot update"):
        con.execute("UPDATE p SET code = 'bb' WHERE code = 'b'")     # ON UPDATE RESTRICT
    # the failed statements changed nothing, the cascades of earlier rows included
    with pytest.raises(lightning.IntegrityError):
        con.execute("DELETE FROM p")
    assert con.execute("SELECT count(*) FROM p").fetchone() == (3,)
    assert con.execute("SELECT count(*) FROM c").fetchone() == (4,)
    assert con.execute("SELECT count(*) FROM g").fetchone() == (4,)
    con.execute("DELETE FROM r")
    con.execute("DELETE FROM p WHERE id = 3")
    assert con.execute("SELECT id, pcode FROM c WHERE id = 13").fetchall() == [(13, None)]


def test_fk_update_cascade_and_set_null_like_sqlite():
    a, b = _both(*FK_SCHEMA,
                 "CREATE TABLE h (id INTEGER PRIMARY KEY, pid INTEGER, "
                 "FOREIGN KEY (pid) REFERENCES p (id) ON UPDATE SET NULL ON DELETE SET NULL)",
                 "INSERT INTO h VALUES (1, 1), (2, 2)")
    for sql in ["UPDATE p SET id = 50 WHERE id = 1",       # c.pid CASCADE, h.pid SET NULL
                "UPDATE p SET id = id + 100 WHERE id = 2",
                "UPDATE p SET code = code WHERE id = 3"]:   # unchanged key: allowed
        a.execute(sql)
        b.execute(sql)
        _fk_state(a, b)
        _same(a, b, "SELECT * FROM h ORDER BY id")
    assert _same(a, b, "SELECT id, pid FROM c WHERE pid IS NOT NULL ORDER BY id") == \
        [(10, 50), (11, 50), (12, 102)]
    assert _same(a, b, "SELECT pid FROM h ORDER BY id") == [(None,), (None,)]
    _check_indexes(a, "c")


def test_fk_self_reference_cascade():
    a, b = _both("CREATE TABLE node (id INTEGER PRIMARY KEY, parent INTEGER "
                 "REFERENCES node(id) ON DELETE CASCADE)",
                 "INSERT INTO node VALUES (1, NULL), (2, 1), (3, 2), (4, 3), (5, NULL), "
                 "(6, 6)")
    for sql in ["DELETE FROM node WHERE id = 2", "DELETE FROM node WHERE id = 6"]:
        a.execute(sql)
        b.execute(sql)
        _same(a, b, "SELECT * FROM node ORDER BY id")
    assert _same(a, b, "SELECT id FROM node ORDER BY id") == [(1,), (5,)]


def test_fk_ddl_rules(con):
    con.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, code TEXT UNIQUE, x INTEGER)")
    with pytest.raises(lightning.ProgrammingError, match="no such table: nope"):
        con.execute("CREATE TABLE c (a INTEGER REFERENCES nope(id))")
    with pytest.raises(lightning.ProgrammingError, match="not the PRIMARY KEY or a UNIQUE"):
        con.execute("CREATE TABLE c (a INTEGER REFERENCES p(x))")
    with pytest.raises(lightning.ProgrammingError, match="no such column"):
        con.execute("CREATE TABLE c (a INTEGER REFERENCES p(nope))")
    with pytest.raises(lightning.ProgrammingError, match="has 2 columns but references 1"):
        con.execute("CREATE TABLE c (a INTEGER, b INTEGER, FOREIGN KEY (a, b) REFERENCES p(id))")
    con.execute("CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p, "
                "pc TEXT REFERENCES p(code))")
    with pytest.raises(lightning.IntegrityError, match="cannot drop table p.*table c"):
        con.execute("DROP TABLE p")
    with pytest.raises(lightning.ProgrammingError, match="foreign key"):
        con.execute("ALTER TABLE c DROP COLUMN pid")
    with pytest.raises(lightning.ProgrammingError, match="cannot drop column code of table p"):
        con.execute("ALTER TABLE p DROP COLUMN code")     # referenced (and indexed)
    # renames follow: the fk keeps working under the new names
    con.execute("ALTER TABLE p RENAME TO parent")
    con.execute("ALTER TABLE parent RENAME COLUMN code TO k")
    con.execute("INSERT INTO parent VALUES (1, 'a', 0)")
    con.execute("INSERT INTO c VALUES (1, 1, 'a')")
    with pytest.raises(lightning.IntegrityError, match=r"references parent\(k\)"):
        con.execute("INSERT INTO c VALUES (2, NULL, 'b')")
    with pytest.raises(lightning.IntegrityError, match="parent"):
        con.execute("DELETE FROM parent")
    con.execute("DROP TABLE c")
    con.execute("DROP TABLE parent")


def test_fk_composite_key_and_transaction_rollback(con):
    con.execute("CREATE TABLE p (a INTEGER, b TEXT, PRIMARY KEY (a, b))")
    con.execute("CREATE TABLE c (id INTEGER PRIMARY KEY, x INTEGER, y TEXT, "
                "FOREIGN KEY (y, x) REFERENCES p (b, a) ON DELETE CASCADE)")
    con.execute("INSERT INTO p VALUES (1, 'one'), (2, 'two')")
    con.execute("INSERT INTO c VALUES (1, 1, 'one'), (2, 2, 'two'), (3, NULL, 'zzz')")
    with pytest.raises(lightning.IntegrityError, match="FOREIGN KEY"):
        con.execute("INSERT INTO c VALUES (4, 1, 'two')")
    con.commit()
    con.execute("DELETE FROM p WHERE a = 1")
    assert con.execute("SELECT id FROM c ORDER BY id").fetchall() == [(2,), (3,)]
    con.rollback()
    assert con.execute("SELECT id FROM c ORDER BY id").fetchall() == [(1,), (2,), (3,)]


def test_fk_with_upsert_and_returning(con):
    for s in FK_SCHEMA:
        con.execute(s)
    with pytest.raises(lightning.IntegrityError, match="FOREIGN KEY"):
        con.execute("INSERT INTO c VALUES (10, 9, NULL) ON CONFLICT (id) DO UPDATE "
                    "SET pid = excluded.pid")
    cur = con.execute("DELETE FROM p WHERE id = 1 RETURNING id, code")
    assert cur.fetchall() == [(1, "a")]
    assert cur.rowcount == 1
    assert con.execute("SELECT id FROM g ORDER BY id").fetchall() == [(102,), (103,)]
