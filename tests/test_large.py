"""Larger than memory: with a 1 MB memtable and a 1 MB block cache, 200k keys (about
25 MB of data) written, the database reopened, and every key read back by point gets
and by a full scan."""

import lightning


def value(i):
    return b"value-%08d-" % i + b"abcdefghij" * 10


def test_200k_keys_with_small_memtable_and_cache(dbpath):
    n = 200_000
    opts = dict(memtable_size=1 << 20, cache_size=1 << 20)
    with lightning.open(dbpath, **opts) as db:
        for start in range(0, n, 1000):
            with db.batch() as b:
                for i in range(start, start + 1000):
                    b.put(b"key%08d" % ((i * 7919) % n), value((i * 7919) % n))
        for i in range(0, n, 10):   # some single puts too
            db.put(b"key%08d" % i, value(i))
        st = db.stats()
        assert st
    with lightning.open(dbpath, **opts) as db:
        for i in range(n):
            assert db.get(b"key%08d" % i) == value(i), i
        count = 0
        prev = b""
        for k, v in db.scan():
            assert k > prev
            prev = k
            count += 1
        assert count == n
        assert db.get(b"key%08d" % n) is None
