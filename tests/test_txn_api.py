"""Transactions through the Python API: read-your-writes, merged scans (bounds, prefix,
reverse, limit), savepoints, the context manager, errors (ConflictError and its
sqlstate, the write buffer limit, use after the end), stats, and that a rolled-back
transaction leaves no trace, also after reopen."""

import pytest

import lightning
from lightning import ConflictError, InterfaceError, OperationalError, ProgrammingError


@pytest.fixture
def db(dbpath):
    d = lightning.open(dbpath)
    yield d
    d.close()


def fill(db, keys):
    for k in keys:
        db.put(k, k.upper())


def test_read_your_writes_and_scans(db):
    fill(db, [b"a", b"c", b"e", b"p:1", b"p:3", b"q"])
    with db.transaction() as t:
        assert t.get(b"a") == b"A"
        t.put(b"b", b"1")
        t.put(b"c", b"2")
        t.delete(b"e")
        t.put(b"p:2", b"x")
        t.delete(b"p:3")
        assert t.get(b"b") == b"1" and t.get(b"e") is None and b"c" in t
        assert [k for k, _ in t.scan()] == [b"a", b"b", b"c", b"p:1", b"p:2", b"q"]
        assert [k for k, _ in t.scan(reverse=True)] == [b"q", b"p:2", b"p:1", b"c", b"b",
                                                        b"a"]
        assert list(t.scan(b"b", b"p")) == [(b"b", b"1"), (b"c", b"2")]
        assert list(t.scan(prefix=b"p:")) == [(b"p:1", b"P:1"), (b"p:2", b"x")]
        assert list(t.scan(prefix=b"p:", reverse=True, limit=1)) == [(b"p:2", b"x")]
        assert list(t.scan(limit=2)) == [(b"a", b"A"), (b"b", b"1")]
        assert list(t.scan(b"z", b"a")) == []
        # Other connections do not see uncommitted writes.
        assert db.get(b"b") is None
    assert [k for k, _ in db.scan()] == [b"a", b"b", b"c", b"p:1", b"p:2", b"q"]
    assert db.get(b"c") == b"2"


def test_snapshot_reads(db):
    db.put(b"k", b"old")
    t = db.transaction(isolation="snapshot")
    db.put(b"k", b"new")
    db.put(b"n", b"new")
    assert t.get(b"k") == b"old"
    assert list(t.scan()) == [(b"k", b"old")]
    t.commit()   # wrote nothing: never conflicts


def test_many_entries_scan(db):
    with db.batch() as b:
        for i in range(0, 6000, 2):
            b.put(b"%06d" % i, b"s")
    with db.transaction() as t:
        for i in range(1, 6000, 2):
            t.put(b"%06d" % i, b"t")
        got = list(t.scan())
        assert [k for k, _ in got] == [b"%06d" % i for i in range(6000)]
        assert [v for _, v in got[:4]] == [b"s", b"t", b"s", b"t"]
        rev = list(t.scan(reverse=True))
        assert rev == got[::-1]


def test_savepoints(db):
    db.put(b"a", b"0")
    with db.transaction() as t:
        t.put(b"a", b"1")
        sp1 = t.savepoint()
        t.put(b"a", b"2")
        t.put(b"b", b"2")
        sp2 = t.savepoint()
        t.delete(b"a")
        assert t.get(b"a") is None
        t.rollback_to(sp2)
        assert t.get(b"a") == b"2"
        t.rollback_to(sp1)
        assert t.get(b"a") == b"1" and t.get(b"b") is None
        with pytest.raises(ProgrammingError):
            t.rollback_to(sp2)            # discarded by rolling back past it
        t.put(b"c", b"3")
        t.rollback_to(sp1)                # still valid after a rollback to it
        assert t.get(b"c") is None
        t.release(sp1)
        with pytest.raises(ProgrammingError):
            t.release(sp1)
        with t.savepoint():
            t.put(b"d", b"4")
        with pytest.raises(KeyError):
            with t.savepoint():
                t.put(b"e", b"5")
                raise KeyError("x")
        assert t.get(b"d") == b"4" and t.get(b"e") is None
    assert dict(db.scan()) == {b"a": b"1", b"d": b"4"}


def test_context_manager_rolls_back_on_exception(db):
    with pytest.raises(RuntimeError):
        with db.transaction() as t:
            t.put(b"x", b"1")
            raise RuntimeError("boom")
    assert t.state == "rolled back"
    assert db.get(b"x") is None


def test_finished_transaction_raises_interface_error(db):
    t = db.transaction()
    t.put(b"a", b"1")
    it = t.scan()
    assert t.commit() > 0
    assert t.state == "committed"
    for op in (lambda: t.get(b"a"), lambda: t.put(b"a", b"2"), lambda: t.delete(b"a"),
               t.commit, t.savepoint, lambda: t.scan(), lambda: list(it)):
        with pytest.raises(InterfaceError):
            op()
    t.rollback()   # a no-op once ended
    t2 = db.transaction()
    t2.rollback()
    with pytest.raises(InterfaceError):
        t2.get(b"a")


def test_database_close_ends_transactions(dbpath):
    d = lightning.open(dbpath)
    t = d.transaction()
    t.put(b"a", b"1")
    d.close()
    with pytest.raises(InterfaceError):
        t.commit()
    with pytest.raises(InterfaceError):
        d.transaction()


def test_conflict_error(db):
    db.put(b"acct:\x00\xff", b"1")
    t = db.transaction(isolation="snapshot")
    t.put(b"acct:\x00\xff", b"2")
    db.put(b"acct:\x00\xff", b"3")
    with pytest.raises(ConflictError) as ei:
        t.commit()
    e = ei.value
    assert isinstance(e, OperationalError) and e.sqlstate == "40001"
    assert "acct:\\x00\\xff" in str(e)
    assert t.state == "failed"
    assert db.get(b"acct:\x00\xff") == b"3"
    assert lightning.ConflictError is ConflictError


def test_read_only_transaction(db):
    t = db.transaction(read_only=True)
    with pytest.raises(OperationalError):
        t.put(b"a", b"1")
    db.put(b"a", b"2")
    assert t.get(b"a") is None
    t.commit()


def test_write_buffer_limit(db):
    t = db.transaction(max_write_bytes=1000)
    t.put(b"a", b"x" * 500)
    with pytest.raises(OperationalError, match="write buffer"):
        t.put(b"b", b"x" * 500)
    assert t.get(b"b") is None
    t.put(b"c", b"y")          # still usable
    t.commit()
    assert db.get(b"a") == b"x" * 500 and db.get(b"c") == b"y" and db.get(b"b") is None
    with pytest.raises(ProgrammingError):
        db.transaction(isolation="chaos")


def test_put_many(db):
    db.put(b"k2", b"old")
    with db.transaction() as t:
        assert t.put_many([(b"a", b"1"), (b"b", b"2")]) is None
        assert t.put_many([]) is None
        # if_absent: stops before the first pair whose key exists (in the store or
        # written earlier in the same call); the pairs before it stay written
        assert t.put_many([(b"k1", b"x"), (b"k2", b"y"), (b"k3", b"z")],
                          [True, True, True]) == 1
        assert t.get(b"k1") == b"x" and t.get(b"k2") == b"old" and t.get(b"k3") is None
        assert t.put_many([(b"n1", b"1"), (b"n1", b"2")], [True, True]) == 1
        assert t.put_many([(b"k2", b"new")], [False]) is None
        # odd types take the one-by-one path and fail like put()
        with pytest.raises(TypeError):
            t.put_many([(b"x", 5)])
        with pytest.raises(ValueError):
            t.put_many([(b"x", b"1")], [True, False])
    assert db.get(b"a") == b"1" and db.get(b"k2") == b"new" and db.get(b"n1") == b"1"
    ro = db.transaction(read_only=True)
    with pytest.raises(OperationalError, match="read-only"):
        ro.put_many([(b"a", b"2")])
    ro.rollback()


def test_put_packed(db):
    from array import array
    db.put(b"b", b"old")
    pairs = [(b"a", b"1"), (b"b", b"2"), (b"c", b"")]
    keys, vals = b"".join(k for k, _ in pairs), b"".join(v for _, v in pairs)
    klens, vlens = array("I", [len(k) for k, _ in pairs]), array("I", [len(v) for _, v in pairs])
    with db.transaction() as t:
        assert t.put_packed(keys, klens, vals, vlens, bytes([1, 1, 1])) == 1
        assert t.get(b"a") == b"1" and t.get(b"b") == b"old" and t.get(b"c") is None
        assert t.put_packed(keys, bytearray(klens.tobytes()), vals, vlens) is None
        assert t.put_packed(b"", array("I"), b"", array("I")) is None
        with pytest.raises(ValueError):
            t.put_packed(keys + b"x", klens, vals, vlens)
        with pytest.raises(ValueError):
            t.put_packed(keys, klens, vals, vlens, b"\x01")
        with pytest.raises(lightning.DataError):
            big = b"k" * (lightning.MAX_KEY_SIZE + 1)
            t.put_packed(big, array("I", [len(big)]), b"", array("I", [0]))
    assert [db.get(k) for k in (b"a", b"b", b"c")] == [b"1", b"2", b""]


def test_put_many_if_absent_reads_are_validated(db):
    t = db.transaction()                    # serializable: the absence was read
    assert t.put_many([(b"u", b"1")], [True]) is None
    db.put(b"u", b"other")
    with pytest.raises(ConflictError):
        t.commit()
    assert db.get(b"u") == b"other"


def test_rolled_back_leaves_no_trace_after_reopen(dbpath):
    with lightning.open(dbpath, sync="full") as d:
        d.put(b"keep", b"1")
        t = d.transaction()
        t.put(b"ghost", b"1")
        t.delete(b"keep")
        t.rollback()
        with pytest.raises(ValueError):
            with d.transaction() as t2:
                t2.put(b"ghost2", b"1")
                raise ValueError
        t3 = d.transaction(isolation="snapshot")
        t3.put(b"keep", b"rejected")
        d.put(b"keep", b"2")
        with pytest.raises(ConflictError):
            t3.commit()
        st = d.stats()["transactions"]
        assert st["active"] == 0
        assert st["aborts"]["rollback"] == 2 and st["aborts"]["conflict"] == 1
    with lightning.open(dbpath) as d:
        assert dict(d.scan()) == {b"keep": b"2"}


def test_stats_and_tracker_pruning(db):
    before = db.stats()["transactions"]
    t = db.transaction()
    assert db.stats()["transactions"]["active"] == before["active"] + 1
    for i in range(20000):
        db.put(b"k%d" % (i % 100), b"v")
    # The open transaction's snapshot holds the tracked writes: 100 distinct keys,
    # but each commit is an entry; pruning cannot drop them while t is open.
    t.commit()
    st = db.stats()["transactions"]
    assert st["active"] == 0 and st["conflict_tracker_keys"] == 0
    assert st["commits"] == before["commits"] + 1
    # With a transaction that keeps renewing, the tracker stays bounded.
    for r in range(20):
        t = db.transaction()
        for i in range(1000):
            db.put(b"k%d" % i, b"v")
        t.rollback()
        t2 = db.transaction()     # keeps a transaction registered across rounds
        if r:
            prev.rollback()
        prev = t2
    # Without pruning this would be 20000 (a transaction is open throughout).
    assert db.stats()["transactions"]["conflict_tracker_keys"] <= 10000
    prev.rollback()


def test_retry_helper(db):
    calls = []

    def fn():
        calls.append(1)
        if len(calls) < 3:
            raise ConflictError("simulated", code=lightning.errors.ECONFLICT)
        return "ok"

    assert lightning.retry(fn, backoff=0) == "ok" and len(calls) == 3
    calls.clear()
    with pytest.raises(ConflictError):
        lightning.retry(fn, retries=1, backoff=0)
    db.put(b"n", b"0")

    def incr(t):
        t.put(b"n", b"%d" % (int(t.get(b"n")) + 1))
        return int(t.get(b"n"))

    assert db.run_in_transaction(incr) == 1
    assert db.run_in_transaction(incr, isolation="snapshot") == 2
