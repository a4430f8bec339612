"""The driver's one-step path for repeated point SELECTs (Executor.fast_path): it must
give exactly what the normal path gives, and step aside whenever the schema, the
parameters or the transaction state ask for the normal path."""

import pytest

import lightning
from sqlcheck import indexed_rows

Q = "SELECT id, name, qty FROM t WHERE id = ?"


@pytest.fixture
def con(tmp_path):
    c = lightning.connect(str(tmp_path / "f.ldb"))
    c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)")
    c.executemany("INSERT INTO t VALUES (?, ?, ?)", [(i, f"n{i}", i * 10) for i in range(10)])
    c.commit()
    yield c
    c.close()


def learned(con, sql=Q):
    return sql in con._fast


def test_repeated_point_select_uses_it_and_matches(con):
    cur = con.cursor()
    assert cur.execute(Q, (3,)).fetchall() == [(3, "n3", 30)]
    assert learned(con)
    assert cur.execute(Q, (4,)).fetchone() == (4, "n4", 40)
    assert cur.fetchone() is None
    assert [d[0] for d in cur.description] == ["id", "name", "qty"]
    assert cur.rowcount == -1 and cur.lastrowid is None
    assert cur.execute(Q, (99,)).fetchall() == []          # absent key
    # values the fast path does not take go the normal way, with its answers/errors
    assert cur.execute(Q, (3.0,)).fetchall() == [(3, "n3", 30)]
    assert cur.execute(Q, [5]).fetchall() == [(5, "n5", 50)]
    assert cur.execute(Q, ("3",)).fetchall() == []
    assert cur.execute(Q, (None,)).fetchall() == []
    assert cur.execute(Q, (2 ** 63,)).fetchall() == []
    with pytest.raises(lightning.ProgrammingError, match="incorrect number"):
        cur.execute(Q, (1, 2))
    with pytest.raises(lightning.ProgrammingError):
        cur.execute(Q, {"id": 1})
    # it reads the transaction's own writes, and begins a transaction when none is open
    con.execute("UPDATE t SET qty = 7 WHERE id = 3")
    assert cur.execute(Q, (3,)).fetchone() == (3, "n3", 7)
    con.rollback()
    assert not con.in_transaction
    assert cur.execute(Q, (3,)).fetchone() == (3, "n3", 30)
    assert con.in_transaction


def test_schema_changes_are_seen(con, tmp_path):
    cur = con.cursor()
    cur.execute(Q, (1,))
    assert learned(con)
    # DDL in the same transaction, then a rollback that undoes it
    con.execute("ALTER TABLE t RENAME COLUMN qty TO amount")
    with pytest.raises(lightning.ProgrammingError, match="qty"):
        cur.execute(Q, (1,))
    con.rollback()
    assert cur.execute(Q, (1,)).fetchone() == (1, "n1", 10)
    # another connection recreates the table with other columns
    other = lightning.connect(str(tmp_path / "f.ldb"))
    other.execute("DROP TABLE t")
    other.execute("CREATE TABLE t (qty INTEGER, name TEXT, id INTEGER PRIMARY KEY)")
    other.execute("INSERT INTO t VALUES (5, 'x', 1)")
    other.commit()
    assert cur.execute(Q, (1,)).fetchone() == (1, "n1", 10)    # our snapshot
    con.commit()
    assert cur.execute(Q, (1,)).fetchone() == (1, "x", 5)
    other.close()


def test_autocommit_closed_and_shapes_not_taken(con):
    cur = con.cursor()
    cur.execute(Q, (1,))
    con.commit()
    con.autocommit = True
    assert cur.execute(Q, (2,)).fetchone() == (2, "n2", 20)
    assert not con.in_transaction
    con.autocommit = False
    for sql in ["SELECT id FROM t WHERE id = ? AND qty > 0", "SELECT id + 1 FROM t WHERE id = ?",
                "SELECT id FROM t WHERE id = :id"]:
        args = {"id": 1} if ":id" in sql else (1,)
        con.execute(sql, args)
        assert not learned(con, sql)
    cur.close()
    with pytest.raises(lightning.ProgrammingError, match="closed cursor"):
        cur.execute(Q, (1,))
    con.close()
    with pytest.raises(lightning.ProgrammingError, match="closed connection"):
        con.cursor()


def test_repeated_writes_use_it_atomically(con):
    cur = con.cursor()
    ins = "INSERT INTO t (name, qty) VALUES (?, ?)"
    upd = "UPDATE t SET qty = qty + ? WHERE id = ?"
    dele = "DELETE FROM t WHERE id = ?"
    cur.execute(ins, ("a", 1))
    first = cur.lastrowid
    assert learned(con, ins)
    cur.execute(ins, ("b", 2))
    assert cur.rowcount == 1 and cur.lastrowid == first + 1 and cur.description is None
    cur.execute(upd, (5, 1))
    assert learned(con, upd)
    cur.execute(upd, (5, 1))
    assert cur.rowcount == 1
    assert cur.execute(upd, (5, 12345)).rowcount == 0
    cur.execute(dele, (2,))
    assert learned(con, dele) and cur.execute(dele, (3,)).rowcount == 1
    assert con.execute(Q, (1,)).fetchone() == (1, "n1", 20)
    assert con.execute("SELECT count(*) FROM t").fetchone() == (10,)
    # a failing statement on the fast path is undone, the transaction stays usable
    con.execute("CREATE UNIQUE INDEX t_name ON t (name)")
    con.commit()
    cur.execute(ins, ("c", 1))
    cur.execute(ins, ("d", 1))                  # learned again under the new schema
    with pytest.raises(lightning.IntegrityError, match="t_name"):
        cur.execute(ins, ("c", 3))
    with pytest.raises(lightning.DataError, match="overflow"):
        cur.execute(upd, (2 ** 63 - 1, 1))
    assert con.execute(Q, (1,)).fetchone() == (1, "n1", 20)
    con.commit()
    assert con.execute("SELECT name FROM t WHERE name IN ('c', 'd') ORDER BY name"
                       ).fetchall() == [("c",), ("d",)]
    assert con.execute("SELECT count(*) FROM t WHERE qty = 3").fetchone() == (0,)
    indexed_rows(con, "t")
    # autocommit: the normal path commits each statement
    con.autocommit = True
    cur.execute(upd, (1, 1))
    assert not con.in_transaction
    assert con.execute(Q, (1,)).fetchone() == (1, "n1", 21)


def test_repeated_index_lookup(con):
    con.execute("CREATE INDEX t_name ON t (name)")
    con.execute("INSERT INTO t VALUES (20, 'n1', 5), (21, NULL, 6)")
    con.commit()
    q = "SELECT qty, id FROM t WHERE name = ?"
    cur = con.cursor()
    assert sorted(cur.execute(q, ("n1",)).fetchall()) == [(5, 20), (10, 1)]
    assert learned(con, q)
    assert "INDEX t_name" in con.execute("EXPLAIN " + q, ("n1",)).fetchall()[0][0]
    assert sorted(cur.execute(q, ("n1",)).fetchall()) == [(5, 20), (10, 1)]
    assert cur.execute(q, ("zz",)).fetchall() == []
    assert cur.execute(q, (None,)).fetchall() == []         # = NULL matches nothing
    assert cur.execute(q, (1,)).fetchall() == []            # another type: no match
    # lazy rows survive the end of the transaction, as on the normal path
    cur.execute(q, ("n2",))
    con.commit()
    assert cur.fetchall() == [(20, 2)]
    # single-column output, and the index dropped under it
    q1 = "SELECT id FROM t WHERE name = ?"
    con.execute(q1, ("n3",))
    assert con.execute(q1, ("n3",)).fetchall() == [(3,)]
    con.execute("DROP INDEX t_name")
    assert con.execute(q1, ("n3",)).fetchall() == [(3,)]
    assert "SCAN" in con.execute("EXPLAIN " + q1, ("n3",)).fetchall()[0][0]
