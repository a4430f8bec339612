"""Process-crash test for transactions: a child commits transactions with
sync="full" and reports each acknowledged commit on a pipe; between them it rolls a
transaction back and has another rejected by a conflict. The parent SIGKILLs it at
random moments, reopens, and checks that every acknowledged transaction is whole,
that nothing rolled back or rejected is visible, and that the bank total the
transactions move money around in never changes. 10 rounds, 100 with
LIGHTNING_STRESS=1."""

import os
import random

import pytest

import lightning

from conftest import run_and_kill, stress

K = 6          # keys per transaction, besides the shared slots and the marker
ACCOUNTS = 5
START = 100

CHILD = r"""
import sys, lightning
path, n, k, accounts, start = sys.argv[1], *map(int, sys.argv[2:6])
db = lightning.open(path, sync="full", memtable_size=32 << 10, page_size=1024,
                    table_size=64 << 10, level1_size=256 << 10)
if n == 0 and db.get(b"acct:0") is None:
    with db.transaction() as t:
        for i in range(accounts):
            t.put(b"acct:%d" % i, b"%d" % start)
out = sys.stdout
out.write("ready\n")
out.flush()
while True:
    tag = b"%d" % n
    rb = db.transaction()
    rb.put(b"rb%08d" % n, tag)
    rb.put(b"slot-00", b"rolled back")
    rb.rollback()
    rej = db.transaction(isolation="snapshot")
    rej.put(b"rej%08d" % n, tag)
    rej.put(b"slot-00", b"rejected")
    with db.transaction(isolation="serializable") as t:
        a, b = n % accounts, (n * 7 + 1) % accounts
        if a != b:
            va, vb = int(t.get(b"acct:%d" % a)), int(t.get(b"acct:%d" % b))
            amount = (n * 13) % (va + 1)
            t.put(b"acct:%d" % a, b"%d" % (va - amount))
            t.put(b"acct:%d" % b, b"%d" % (vb + amount))
        for j in range(k):
            t.put(b"t%08d-%02d" % (n, j), tag * 4)
            t.put(b"slot-%02d" % j, tag)
        t.put(b"m%08d" % n, tag)
    try:
        rej.commit()
        raise SystemExit("rejected transaction committed")
    except lightning.ConflictError:
        pass
    out.write("%d\n" % n)   # only after the commit returned
    out.flush()
    n += 1
"""

OPTS = dict(memtable_size=32 << 10, page_size=1024, table_size=64 << 10,
            level1_size=256 << 10)


def run_child(path, first, rnd):
    """Start the child at transaction `first`, kill it at a random moment, return the
    acknowledged transaction numbers it reported."""
    return run_and_kill(CHILD, [path, first, K, ACCOUNTS, START], rnd)


def check(db, acked_upto):
    markers = [int(k[1:]) for k, _ in db.scan(prefix=b"m")]
    n = len(markers)
    assert markers == list(range(n)), "transactions missing in the middle"
    assert n > acked_upto, f"acknowledged transaction {acked_upto} lost (have {n})"
    count = 0
    for key, value in db.scan(prefix=b"t"):
        txn = int(key[1:9])
        assert txn < n, f"transaction {txn} partly visible (no marker)"
        assert value == b"%d" % txn * 4
        count += 1
    assert count == n * K, f"{count} keys for {n} transactions: one is partial"
    slots = [v for _, v in db.scan(prefix=b"slot-")]
    assert slots == ([b"%d" % (n - 1)] * K if n else [])
    assert list(db.scan(prefix=b"rb")) == [], "a rolled-back transaction is visible"
    assert list(db.scan(prefix=b"rej")) == [], "a rejected transaction is visible"
    accts = [int(v) for _, v in db.scan(prefix=b"acct:")]
    if accts:
        assert sum(accts) == ACCOUNTS * START and min(accts) >= 0
    return n


@pytest.mark.stress
def test_sigkill_transactions(dbpath):
    rnd = random.Random(int.from_bytes(os.urandom(4), "little"))
    rounds = stress(10, 100)
    acked, have, progressed = -1, 0, 0
    for _ in range(rounds):
        first = have
        reported = run_child(dbpath, first, rnd)
        if reported:
            assert reported == list(range(have, have + len(reported)))
            acked = reported[-1]
            progressed += 1
        if not os.path.exists(dbpath):
            continue
        with lightning.open(dbpath, **OPTS) as db:
            have = check(db, acked)
            # The child commits one at a time and reports each, so at most one
            # commit of this round went unreported.
            assert have <= first + len(reported) + 1, "more transactions than were ever started"
    assert progressed >= rounds // 2, "the child rarely got to commit: test too weak"
    assert have > 0
