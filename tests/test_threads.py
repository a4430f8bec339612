"""Threads: one Database shared by many threads doing puts, gets, scans, batches and
snapshots concurrently (the GIL is released in the engine), commits with sync="full"
from many threads, and closing a database while other threads use it (errors, never a
crash)."""

import threading

import lightning

NTHREADS = 8


def run_threads(target, n=NTHREADS):
    errors = []

    def wrap(i):
        try:
            target(i)
        except BaseException as e:   # noqa: BLE001 - reported below
            errors.append((i, e))

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
        assert not t.is_alive(), "thread hung"
    if errors:
        raise AssertionError(f"thread errors: {errors!r}") from errors[0][1]


def test_concurrent_mixed_operations(dbpath):
    per_thread = 1500
    with lightning.open(dbpath, memtable_size=64 << 10, table_size=128 << 10) as db:
        def work(t):
            prefix = b"t%d:" % t
            for i in range(per_thread):
                key = prefix + b"%05d" % i
                db.put(key, b"v%d" % i)
                assert db.get(key) == b"v%d" % i
                other = b"t%d:%05d" % ((t + 1) % NTHREADS, i)
                v = db.get(other)
                assert v in (None, b"v%d" % i, b"changed")
                if i % 100 == 99:
                    got = list(db.scan(prefix=prefix + b"0"))
                    assert len(got) == i + 1
                    assert got[-1] == (key, b"v%d" % i)
                    with db.snapshot() as s:
                        assert s.get(key) == b"v%d" % i
                        db.put(key, b"changed")
                        assert s.get(key) == b"v%d" % i
                        db.put(key, b"v%d" % i)
                if i % 250 == 0:
                    with db.batch() as b:
                        for j in range(50):
                            b.put(prefix + b"batch%03d" % j, b"%d" % i)
                if t == 0 and i % 500 == 0:
                    db.flush()
        run_threads(work)
        for t in range(NTHREADS):
            got = dict(db.scan(prefix=b"t%d:" % t))
            assert len(got) == per_thread + 50
            assert all(got[b"t%d:%05d" % (t, i)] == b"v%d" % i for i in range(per_thread))
            vals = {v for k, v in got.items() if b"batch" in k}
            assert vals == {b"%d" % ((per_thread - 1) // 250 * 250)}


def test_full_sync_from_many_threads(dbpath):
    per_thread = 60
    with lightning.open(dbpath, sync="full") as db:
        def work(t):
            for i in range(per_thread):
                db.put(b"%d-%03d" % (t, i), b"x")
        run_threads(work)
    with lightning.open(dbpath) as db:
        assert sum(1 for _ in db.scan()) == NTHREADS * per_thread


def test_close_while_threads_work(dbpath):
    db = lightning.open(dbpath)
    for i in range(2000):
        db.put(b"%05d" % i, b"v")
    started = threading.Barrier(NTHREADS + 1)

    def work(t):
        started.wait()
        try:
            while True:
                if t % 3 == 0:
                    db.put(b"%05d" % t, b"w")
                elif t % 3 == 1:
                    db.get(b"00001")
                else:
                    for _ in db.scan():
                        pass
        except lightning.InterfaceError:
            return   # the database was closed under us: the promised error

    closer = threading.Thread(target=lambda: (started.wait(), db.close()))
    closer.start()
    run_threads(work)
    closer.join(timeout=60)
    assert db.closed
    with lightning.open(dbpath) as db2:
        assert db2.get(b"00001") in (b"v", b"w")
