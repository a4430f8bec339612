"""SQL connections in threads: commits become visible to another connection only after
commit, a write-write conflict surfaces as OperationalError with sqlstate "40001", and
a UNIQUE constraint holds under concurrent inserts from several threads."""

import random
import threading


import lightning
from sqlcheck import indexed_rows, run_threads

TIMEOUT = 30


def is_conflict(e):
    return isinstance(e, lightning.OperationalError) and getattr(e, "sqlstate", None) == "40001"


def index_agrees(con, name):
    """Every index entry of `name` matches a row and every row has its entries;
    returns the rows."""
    t, rows = indexed_rows(con, name)
    assert t.indexes
    return rows


def test_commits_visible_only_after_commit(dbpath):
    setup = lightning.connect(dbpath)
    setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    setup.commit()
    wrote, checked, committed, done = (threading.Event() for _ in range(4))
    seen = {}

    def writer():
        con = lightning.connect(dbpath)
        try:
            con.execute("INSERT INTO t (v) VALUES ('a')")
            con.execute("UPDATE t SET v = 'b' WHERE v = 'a'")
            # its own writes are visible to itself before commit
            assert con.execute("SELECT v FROM t").fetchall() == [("b",)]
            wrote.set()
            assert checked.wait(TIMEOUT)
            con.commit()
            committed.set()
            assert done.wait(TIMEOUT)
        finally:
            wrote.set()
            committed.set()
            con.close()

    def reader():
        con = lightning.connect(dbpath)
        try:
            assert wrote.wait(TIMEOUT)
            seen["before"] = con.execute("SELECT v FROM t").fetchall()
            con.rollback()
            seen["before_new_txn"] = con.execute("SELECT count(*) FROM t").fetchone()
            # a transaction that started before the commit keeps its snapshot
            checked.set()
            assert committed.wait(TIMEOUT)
            seen["same_txn_after"] = con.execute("SELECT count(*) FROM t").fetchone()
            con.rollback()
            seen["after"] = con.execute("SELECT v FROM t").fetchall()
            con.rollback()
        finally:
            checked.set()
            done.set()
            con.close()

    run_threads(writer, reader)
    assert seen == {"before": [], "before_new_txn": (0,), "same_txn_after": (0,),
                    "after": [("b",)]}
    setup.close()


def test_rolled_back_writes_never_visible(dbpath):
    a = lightning.connect(dbpath)
    a.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
    a.execute("INSERT INTO t (v) VALUES (1)")
    a.commit()
    go = threading.Event()
    seen = []

    def writer():
        con = lightning.connect(dbpath)
        con.execute("UPDATE t SET v = 2")
        con.execute("INSERT INTO t (v) VALUES (3)")
        con.rollback()
        go.set()
        con.close()

    def reader():
        con = lightning.connect(dbpath)
        assert go.wait(TIMEOUT)
        seen.append(con.execute("SELECT v FROM t ORDER BY id").fetchall())
        con.close()

    run_threads(writer, reader)
    assert seen == [[(1,)]]
    a.close()


def test_write_write_conflict_is_40001(dbpath):
    setup = lightning.connect(dbpath)
    setup.execute("CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER)")
    setup.execute("INSERT INTO acct VALUES (1, 100)")
    setup.commit()
    both_wrote = threading.Barrier(2, timeout=TIMEOUT)
    first_done = threading.Event()
    outcome = {}

    def tx(name, amount, first):
        def run():
            con = lightning.connect(dbpath)
            try:
                bal = con.execute("SELECT bal FROM acct WHERE id = 1").fetchone()[0]
                con.execute("UPDATE acct SET bal = ? WHERE id = 1", (bal + amount,))
                both_wrote.wait()
                if not first:
                    assert first_done.wait(TIMEOUT)
                try:
                    con.commit()
                    outcome[name] = "ok"
                except lightning.Error as e:
                    outcome[name] = e
            finally:
                first_done.set()
                con.close()
        return run

    run_threads(tx("a", 10, True), tx("b", 20, False))
    assert outcome["a"] == "ok"
    err = outcome["b"]
    assert isinstance(err, lightning.OperationalError), err
    assert err.sqlstate == "40001"
    # nothing of the loser was written; the winner's update is there
    assert setup.execute("SELECT bal FROM acct").fetchall() == [(110,)]
    setup.close()


def test_unique_constraint_under_concurrent_inserts(dbpath):
    setup = lightning.connect(dbpath)
    setup.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, "
                  "who INTEGER)")
    setup.execute("CREATE INDEX users_who ON users (who)")
    setup.commit()
    emails = [f"user{i}@example.com" for i in range(40)]
    nthreads = 4
    start = threading.Barrier(nthreads, timeout=TIMEOUT)
    inserted = [[] for _ in range(nthreads)]
    dup_errors = [0] * nthreads
    conflicts = [0] * nthreads

    def worker(k):
        def run():
            rnd = random.Random(k)
            mine = emails[:]
            rnd.shuffle(mine)
            con = lightning.connect(dbpath)
            try:
                start.wait()
                for email in mine:
                    for _ in range(200):
                        try:
                            con.execute("INSERT INTO users (email, who) VALUES (?, ?)",
                                        (email, k))
                            con.commit()
                            inserted[k].append(email)
                            break
                        except lightning.IntegrityError as e:
                            assert "UNIQUE" in str(e) and "users" in str(e), e
                            con.rollback()
                            dup_errors[k] += 1
                            break
                        except lightning.OperationalError as e:
                            assert is_conflict(e), e
                            con.rollback()
                            conflicts[k] += 1
                    else:
                        raise AssertionError("too many conflicts")
            finally:
                con.close()
        return run

    run_threads(*[worker(k) for k in range(nthreads)])
    winners = [e for ins in inserted for e in ins]
    # every email was inserted by exactly one thread; the others were refused
    assert sorted(winners) == sorted(emails)
    assert sum(dup_errors) == nthreads * len(emails) - len(emails)
    rows = setup.execute("SELECT email, who FROM users").fetchall()
    assert len(rows) == len(winners)
    assert len({e for e, _ in rows}) == len(rows)
    assert sorted(rows) == sorted((e, k) for k in range(nthreads) for e in inserted[k])
    setup.rollback()
    stored = index_agrees(setup, "users")
    assert len(stored) == len(emails)
    setup.close()


def test_unique_index_lookup_is_validated_under_serializable(tmp_path):
    # A lookup through a unique index reads one key; a row another transaction
    # commits with that value afterwards must fail a serializable reader that wrote
    # (and must not fail a snapshot one).
    path = str(tmp_path / "u.ldb")
    setup = lightning.connect(path)
    setup.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT UNIQUE, n INTEGER)")
    setup.execute("INSERT INTO u VALUES (1, 'a@x', 0)")
    setup.commit()
    setup.close()
    for level, conflicts in (("SERIALIZABLE", True), ("REPEATABLE READ", False)):
        reader = lightning.connect(path, isolation_level=level)
        writer = lightning.connect(path)
        q = "SELECT id FROM u WHERE email = ?"
        assert "UNIQUE INDEX" in reader.execute("EXPLAIN " + q, ("b@x",)).fetchall()[0][0]
        assert reader.execute(q, ("a@x",)).fetchall() == [(1,)]
        assert reader.execute(q, ("b@x",)).fetchall() == []         # absent: read
        writer.execute("INSERT INTO u (email, n) VALUES ('b@x', 1)")
        writer.commit()
        assert reader.execute(q, ("b@x",)).fetchall() == []         # its snapshot
        reader.execute("UPDATE u SET n = n + 1 WHERE id = 1")
        if conflicts:
            try:
                reader.commit()
                raise AssertionError("the commit should have conflicted")
            except lightning.OperationalError as e:
                assert is_conflict(e)
        else:
            reader.commit()
        writer.execute("DELETE FROM u WHERE email = 'b@x'")
        writer.commit()
        reader.close()
        writer.close()
