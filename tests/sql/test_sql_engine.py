"""The SQL engine through the public DB-API: DDL, constraints, INSERT/SELECT/UPDATE/
DELETE, index maintenance, EXPLAIN, errors, transactions; SELECT results compared with
sqlite3 where the semantics agree."""

import sqlite3

import pytest

import lightning
from sqlcheck import indexed_rows

SCHEMA = ("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, "
          "price REAL, tag TEXT)")
ROWS = [(1, "apple", 3, 1.5, "fruit"), (2, "Banana", None, 0.25, "fruit"),
        (3, "carrot", 7, None, "veg"), (4, "date", 3, 4.0, None),
        (5, "egg", 0, 0.1, "other"), (6, None, -2, 2.5, "veg"), (7, "fig", 10, 1.5, "fruit")]


@pytest.fixture
def con():
    c = lightning.connect(":memory:")
    yield c
    c.close()


@pytest.fixture
def both():
    a = lightning.connect(":memory:")
    b = sqlite3.connect(":memory:")
    for c in (a, b):
        c.execute(SCHEMA)
        c.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", ROWS)
    yield a, b
    a.close()
    b.close()


QUERIES = [
    "SELECT * FROM t",
    "SELECT name, qty FROM t WHERE qty > 2",
    "SELECT id FROM t WHERE qty >= 3 AND price < 2",
    "SELECT id FROM t WHERE qty = 3 OR tag = 'veg'",
    "SELECT id FROM t WHERE NOT (qty > 2)",
    "SELECT id FROM t WHERE qty IN (0, 3, NULL)",
    "SELECT id FROM t WHERE qty NOT IN (0, 3)",
    "SELECT id FROM t WHERE qty BETWEEN 1 AND 7",
    "SELECT id FROM t WHERE name LIKE '%a%'",
    "SELECT id FROM t WHERE name LIKE 'b_n%'",
    "SELECT id FROM t WHERE tag IS NULL",
    "SELECT id FROM t WHERE name IS NOT NULL AND qty IS NOT NULL",
    "SELECT id, qty * 2 + 1, qty / 2, qty % 3, -qty FROM t",
    "SELECT id, name || '-' || tag AS label FROM t",
    "SELECT id, CASE WHEN qty > 5 THEN 'big' WHEN qty > 0 THEN 'small' ELSE 'none' END FROM t",
    "SELECT id, CASE tag WHEN 'veg' THEN 1 WHEN 'fruit' THEN 2 END FROM t",
    "SELECT id, CAST(qty AS TEXT), CAST(price AS INTEGER) FROM t",
    "SELECT id, COALESCE(tag, name, 'x'), NULLIF(qty, 3) FROM t",
    "SELECT lower(name), upper(name), length(name), abs(qty), substr(name, 2, 3) FROM t",
    "SELECT round(price), round(price, 1) FROM t",
    "SELECT * FROM t ORDER BY qty",
    "SELECT * FROM t ORDER BY qty DESC, id",
    "SELECT id, qty FROM t ORDER BY 2 DESC, 1",
    "SELECT id, price AS p FROM t ORDER BY p, id",
    "SELECT id FROM t ORDER BY qty NULLS LAST, id",
    "SELECT id FROM t ORDER BY id LIMIT 3",
    "SELECT id FROM t ORDER BY id LIMIT 3 OFFSET 2",
    "SELECT id FROM t ORDER BY id DESC LIMIT 2",
    "SELECT DISTINCT tag FROM t ORDER BY tag",
    "SELECT DISTINCT qty FROM t ORDER BY qty",
    "SELECT count(*), count(qty), count(DISTINCT tag), sum(qty), min(price), max(name) FROM t",
    "SELECT avg(qty) FROM t",
    "SELECT tag, count(*), sum(qty) FROM t GROUP BY tag ORDER BY tag",
    "SELECT tag, count(*) AS n FROM t GROUP BY tag HAVING count(*) > 1 ORDER BY n DESC, tag",
    "SELECT count(*), sum(qty) FROM t WHERE id > 100",
    "SELECT id FROM t WHERE id = 3",
    "SELECT id FROM t WHERE id > 2 AND id <= 5",
    "SELECT id FROM t WHERE id BETWEEN 2 AND 4 AND qty > 0",
    "SELECT id FROM t WHERE 4 < id",
    "SELECT id FROM t WHERE id = 2.5",
    "SELECT id FROM t WHERE id = NULL",
    "SELECT 1 + 2, 'a' || 'b'",
]


@pytest.mark.parametrize("sql", QUERIES)
def test_select_matches_sqlite(both, sql):
    a, b = both
    ordered = "ORDER BY" in sql
    got = a.execute(sql).fetchall()
    want = b.execute(sql).fetchall()
    if not ordered:
        got, want = sorted(got, key=repr), sorted(want, key=repr)
    assert got == want


def test_select_with_parameters_and_description(both):
    a, _ = both
    cur = a.execute("SELECT id, name AS n, qty + 1 FROM t WHERE qty BETWEEN ? AND ? "
                    "ORDER BY name LIMIT 10", (3, 7))
    assert cur.fetchall() == [(1, "apple", 4), (3, "carrot", 8), (4, "date", 4)]
    assert [d[0] for d in cur.description] == ["id", "n", "qty + 1"]
    assert cur.description[0][1] == lightning.ROWID
    assert cur.description[1][1] == lightning.STRING
    cur = a.execute("SELECT id FROM t WHERE tag = :tag ORDER BY id", {"tag": "veg"})
    assert cur.fetchall() == [(3,), (6,)]


def test_create_table_constraints_and_errors(con):
    con.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, "
                "age INTEGER CHECK (age >= 0), n NUMERIC(6,2) DEFAULT 1.5, "
                "joined TIMESTAMP DEFAULT CURRENT_TIMESTAMP, CONSTRAINT small CHECK (age < 200))")
    con.execute("CREATE TABLE IF NOT EXISTS u (x INTEGER)")
    with pytest.raises(lightning.ProgrammingError, match="already exists"):
        con.execute("CREATE TABLE u (x INTEGER)")
    cur = con.execute("INSERT INTO u (email, age) VALUES ('a', 1)")
    assert cur.lastrowid == 1 and cur.rowcount == 1
    cur.executemany("INSERT INTO u (email, age) VALUES (?, ?)", [("b", 2), ("c", 3)])
    assert cur.rowcount == 2
    row = con.execute("SELECT id, n, joined FROM u WHERE email = 'a'").fetchone()
    from decimal import Decimal
    import datetime
    assert row[0] == 1 and row[1] == Decimal("1.50") and isinstance(row[2], datetime.datetime)
    with pytest.raises(lightning.IntegrityError, match="NOT NULL constraint failed: u.email"):
        con.execute("INSERT INTO u (age) VALUES (5)")
    with pytest.raises(lightning.IntegrityError, match=r"CHECK constraint failed: age >= 0.*u"):
        con.execute("INSERT INTO u (email, age) VALUES ('x', -1)")
    with pytest.raises(lightning.IntegrityError, match="CHECK constraint failed: small"):
        con.execute("INSERT INTO u (email, age) VALUES ('x', 500)")
    with pytest.raises(lightning.IntegrityError, match=r"UNIQUE constraint failed: index \S+ on table u \(email\)"):
        con.execute("INSERT INTO u (email) VALUES ('b')")
    with pytest.raises(lightning.IntegrityError, match="PRIMARY KEY of table u"):
        con.execute("INSERT INTO u (id, email) VALUES (2, 'zz')")
    with pytest.raises(lightning.DataError, match="age"):
        con.execute("INSERT INTO u (email, age) VALUES ('y', 'old')")
    con.execute("INSERT INTO u (id, email) VALUES (100, 'hundred')")
    assert con.execute("INSERT INTO u (email) VALUES ('next')").lastrowid > 100
    assert con.execute("SELECT count(*) FROM u").fetchone() == (5,)
    con.execute("DROP TABLE u")
    con.execute("DROP TABLE IF EXISTS u")
    with pytest.raises(lightning.ProgrammingError, match="no such table: u"):
        con.execute("SELECT * FROM u")


def test_composite_primary_key_and_default_values(con):
    con.execute("CREATE TABLE kv (a TEXT, b INTEGER, v TEXT DEFAULT 'dflt', PRIMARY KEY (a, b))")
    con.executemany("INSERT INTO kv (a, b) VALUES (?, ?)", [("x", i) for i in range(5)] +
                    [("y", 1)])
    assert con.execute("SELECT b, v FROM kv WHERE a = 'x' AND b >= 3").fetchall() == \
        [(3, "dflt"), (4, "dflt")]
    plan = con.execute("EXPLAIN SELECT * FROM kv WHERE a = 'x' AND b >= 3").fetchall()
    assert "PRIMARY KEY RANGE" in plan[0][0]
    plan = con.execute("EXPLAIN SELECT * FROM kv WHERE a = 'x' AND b = 3").fetchall()
    assert plan[0][0].startswith("SEARCH kv USING PRIMARY KEY (")
    with pytest.raises(lightning.IntegrityError):
        con.execute("INSERT INTO kv (a, b) VALUES ('x', 1)")
    con.execute("CREATE TABLE d (x INTEGER DEFAULT 7, y TEXT)")
    con.execute("INSERT INTO d DEFAULT VALUES")
    con.execute("INSERT INTO d VALUES (DEFAULT, 'q')")
    assert con.execute("SELECT x, y FROM d ORDER BY y").fetchall() == [(7, None), (7, "q")]


def _check_indexes(con, name):
    """Every index entry matches a row and every row has its entries (commits first,
    so a KV transaction sees the connection's writes); returns the row count."""
    con.commit()
    return len(indexed_rows(con, name)[1])


def test_update_delete_maintain_indexes(con):
    con.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, code TEXT UNIQUE, grp INTEGER, "
                "score REAL)")
    con.executemany("INSERT INTO p (code, grp, score) VALUES (?, ?, ?)",
                    [(f"c{i}", i % 4, i * 1.5) for i in range(40)])
    con.execute("CREATE INDEX p_grp ON p (grp, score DESC)")
    assert _check_indexes(con, "p") == 40
    assert con.execute("UPDATE p SET grp = grp + 10 WHERE grp = 1").rowcount == 10
    _check_indexes(con, "p")
    assert con.execute("UPDATE p SET code = code || 'x', id = id + 1000 WHERE id <= 5").rowcount == 5
    _check_indexes(con, "p")
    assert con.execute("DELETE FROM p WHERE grp = 2").rowcount == 10
    assert _check_indexes(con, "p") == 30
    assert con.execute("SELECT count(*) FROM p WHERE grp = 11").fetchone() == (10,)
    assert "INDEX p_grp" in con.execute("EXPLAIN SELECT * FROM p WHERE grp = 3").fetchone()[0]
    assert con.execute("EXPLAIN SELECT * FROM p WHERE score > 3").fetchone()[0] == "SCAN p"
    with pytest.raises(lightning.IntegrityError, match="code"):
        con.execute("UPDATE p SET code = 'c12' WHERE code = 'c13'")
    _check_indexes(con, "p")
    assert con.execute("DELETE FROM p").rowcount == 30
    assert _check_indexes(con, "p") == 0


def test_create_unique_index_backfill_and_drop(con):
    con.execute("CREATE TABLE q (a INTEGER, b TEXT)")
    con.executemany("INSERT INTO q VALUES (?, ?)", [(1, "x"), (2, "x"), (None, "y"), (None, "z")])
    with pytest.raises(lightning.IntegrityError, match="qb.*table q"):
        con.execute("CREATE UNIQUE INDEX qb ON q (b)")
    con.execute("CREATE UNIQUE INDEX qa ON q (a)")       # NULLs are distinct
    con.execute("CREATE UNIQUE INDEX IF NOT EXISTS qa ON q (a)")
    assert _check_indexes(con, "q") == 4
    with pytest.raises(lightning.IntegrityError, match="qa"):
        con.execute("INSERT INTO q VALUES (1, 'w')")
    con.execute("DROP INDEX qa")
    con.execute("DROP INDEX IF EXISTS qa")
    con.execute("INSERT INTO q VALUES (1, 'w')")
    with pytest.raises(lightning.ProgrammingError, match="no such index"):
        con.execute("DROP INDEX qa")


def test_errors(con):
    con.execute("CREATE TABLE e (x INTEGER)")
    with pytest.raises(lightning.ProgrammingError, match=r"line 1, column \d+"):
        con.execute("SELEC x FROM e")
    with pytest.raises(lightning.ProgrammingError, match="no such column: y"):
        con.execute("SELECT y FROM e")
    with pytest.raises(lightning.ProgrammingError, match="no such table: nope"):
        con.execute("SELECT * FROM nope")
    for sql, what in [("SELECT * FROM e JOIN e AS f ON 1 = 1", "JOIN"),
                      ("SELECT x FROM e UNION SELECT x FROM e", "UNION"),
                      ("WITH w AS (SELECT 1) SELECT * FROM w", "WITH"),
                      ("SELECT x FROM e WHERE x IN (SELECT x FROM e)", "subquer"),
                      ("SELECT row_number() OVER (ORDER BY x) FROM e", "window")]:
        with pytest.raises(lightning.NotSupportedError, match=what):
            con.execute(sql)


def test_failed_statement_leaves_data(con):
    con.execute("CREATE TABLE f (id INTEGER PRIMARY KEY, v INTEGER UNIQUE)")
    con.executemany("INSERT INTO f (v) VALUES (?)", [(1,), (2,), (3,)])
    with pytest.raises(lightning.IntegrityError):
        con.execute("INSERT INTO f (v) VALUES (10), (11), (2)")
    with pytest.raises(lightning.IntegrityError):
        con.execute("UPDATE f SET v = 3 WHERE v >= 1")
    assert con.execute("SELECT v FROM f ORDER BY v").fetchall() == [(1,), (2,), (3,)]
    _check_indexes(con, "f")


def test_executemany_insert_is_one_statement_in_row_order(con):
    con.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, u TEXT UNIQUE, n INTEGER NOT NULL)")
    con.execute("INSERT INTO m VALUES (1, 'one', 1)")
    con.commit()
    rows = [(i, f"u{i}", i) for i in range(2, 3000)]
    # a duplicate id far past the first flush of batched writes: nothing stays
    bad = rows[:2500] + [(7, "dup", 0)] + rows[2500:]
    with pytest.raises(lightning.IntegrityError, match=r"PRIMARY KEY.*\(7,\)"):
        con.executemany("INSERT INTO m VALUES (?, ?, ?)", bad)
    assert con.execute("SELECT count(*) FROM m").fetchone() == (1,)
    # the first failing row decides the error: a duplicate UNIQUE value in row 3
    # comes before a NOT NULL violation in row 5, and a bad parameter set after both
    bad = [(10, "a", 1), (11, "b", 1), (12, "one", 1), (13, "c", 1), (14, "d", None),
           ("not", "a", "row", "!")]
    with pytest.raises(lightning.IntegrityError, match="index .* duplicate value "
                                                       r"\('one',\)"):
        con.executemany("INSERT INTO m VALUES (?, ?, ?)", bad)
    with pytest.raises(lightning.IntegrityError, match="NOT NULL"):
        con.executemany("INSERT INTO m VALUES (?, ?, ?)", bad[:2] + bad[3:])
    with pytest.raises(lightning.ProgrammingError, match="incorrect number"):
        con.executemany("INSERT INTO m VALUES (?, ?, ?)", bad[:2] + bad[5:])
    assert con.execute("SELECT count(*) FROM m").fetchone() == (1,)
    cur = con.executemany("INSERT INTO m VALUES (?, ?, ?)", rows)
    assert cur.rowcount == len(rows) and cur.lastrowid == 2999
    con.commit()
    assert con.execute("SELECT count(*), max(id) FROM m").fetchone() == (len(rows) + 1,
                                                                          2999)
    _check_indexes(con, "m")


def test_transactions_across_connections(tmp_path):
    path = str(tmp_path / "db.ldb")
    a = lightning.connect(path)
    b = lightning.connect(path)
    a.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    a.commit()
    a.execute("INSERT INTO t (v) VALUES ('one')")
    assert b.execute("SELECT count(*) FROM t").fetchone() == (0,)
    b.rollback()
    a.commit()
    assert b.execute("SELECT v FROM t").fetchall() == [("one",)]
    b.rollback()
    a.execute("INSERT INTO t (v) VALUES ('two')")
    a.rollback()
    assert a.execute("SELECT count(*) FROM t").fetchone() == (1,)
    a.close()
    b.close()
    c = lightning.connect(path)
    assert c.execute("SELECT v FROM t").fetchall() == [("one",)]
    c.close()


def test_plan_cache_invalidated_by_schema_change(con):
    con.execute("CREATE TABLE c (a INTEGER, b INTEGER)")
    con.execute("INSERT INTO c VALUES (1, 2)")
    sql = "EXPLAIN SELECT * FROM c WHERE b = 2"
    assert con.execute(sql).fetchone()[0] == "SCAN c"
    con.execute("CREATE INDEX cb ON c (b)")
    assert "INDEX cb" in con.execute(sql).fetchone()[0]
    assert con.execute("SELECT * FROM c").fetchall() == [(1, 2)]
    con.execute("DROP TABLE c")
    con.execute("CREATE TABLE c (z TEXT)")
    con.execute("INSERT INTO c VALUES ('q')")
    assert con.execute("SELECT * FROM c").fetchall() == [("q",)]


def test_plan_cache_sees_ddl_and_rollback_to_inside_one_transaction(tmp_path):
    # schema_version is read once per transaction; the transaction's own DDL, and a
    # ROLLBACK TO undoing that DDL, must still invalidate cached plans.
    path = str(tmp_path / "db")
    con = lightning.connect(path)
    con.execute("CREATE TABLE c (a INTEGER, b INTEGER)")
    con.commit()
    sql = "EXPLAIN SELECT * FROM c WHERE b = 2"
    assert con.execute(sql).fetchone()[0] == "SCAN c"
    con.execute("SAVEPOINT s")
    con.execute("CREATE INDEX cb ON c (b)")
    assert "INDEX cb" in con.execute(sql).fetchone()[0]
    con.execute("ROLLBACK TO s")
    assert con.execute(sql).fetchone()[0] == "SCAN c"
    con.execute("INSERT INTO c VALUES (1, 2)")
    assert con.execute("SELECT * FROM c WHERE b = 2").fetchall() == [(1, 2)]
    con.commit()
    con.execute("CREATE INDEX cb ON c (b)")
    con.execute("INSERT INTO c VALUES (3, 4)")
    assert "INDEX cb" in con.execute(sql).fetchone()[0]
    assert con.execute("SELECT a FROM c WHERE b = 4").fetchall() == [(3,)]
    con.rollback()
    assert con.execute(sql).fetchone()[0] == "SCAN c"
    assert con.execute("SELECT * FROM c").fetchall() == [(1, 2)]
    con.close()
