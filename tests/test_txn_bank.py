"""Bank invariant: threads transfer random amounts between accounts in transactions
with retries for a bounded time; the total never changes, in every snapshot taken
during the run (plain snapshots and read-only transactions) and after reopen."""

import random
import threading
import time

import pytest

import lightning

from conftest import stress

ACCOUNTS = 10
START = 1000


def total(view):
    return sum(int(v) for _, v in view.scan(prefix=b"acct:"))


@pytest.mark.parametrize("isolation", ["snapshot", "serializable"])
def test_bank_invariant(dbpath, isolation):
    db = lightning.open(dbpath, sync="off", memtable_size=64 << 10)
    with db.batch() as b:
        for i in range(ACCOUNTS):
            b.put(b"acct:%02d" % i, b"%d" % START)
    want = ACCOUNTS * START
    deadline = time.monotonic() + stress(1.5, 15)
    errors, done, checks = [], [0], [0]

    def transfer(t, rnd):
        a, b = rnd.sample(range(ACCOUNTS), 2)
        ka, kb = b"acct:%02d" % a, b"acct:%02d" % b
        va, vb = int(t.get(ka)), int(t.get(kb))
        amount = rnd.randint(0, max(0, va))
        t.put(ka, b"%d" % (va - amount))
        t.put(kb, b"%d" % (vb + amount))

    def worker(seed):
        rnd = random.Random(seed)
        try:
            while time.monotonic() < deadline:
                db.run_in_transaction(lambda t: transfer(t, rnd), isolation=isolation,
                                      retries=10000, max_backoff=0.002)
                done[0] += 1
        except BaseException as e:
            errors.append(e)

    def checker():
        try:
            while time.monotonic() < deadline:
                with db.snapshot() as s:
                    assert total(s) == want
                with db.transaction(read_only=True) as t:
                    assert total(t) == want
                    assert sum(int(t.get(b"acct:%02d" % i)) for i in range(ACCOUNTS)) == want
                checks[0] += 1
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    threads.append(threading.Thread(target=checker))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert done[0] > 50 and checks[0] > 5
    st = db.stats()["transactions"]
    assert st["active"] == 0
    assert total(db) == want
    db.close()
    with lightning.open(dbpath) as db2:
        assert total(db2) == want
        assert all(int(v) >= 0 for _, v in db2.scan(prefix=b"acct:"))
