"""Process-crash test: a child commits batches with sync="full" and reports each
acknowledged batch on a pipe; the parent SIGKILLs it at random moments (also during
open and recovery), reopens, and checks that every acknowledged batch is present and
no batch is partly visible. 20 rounds by default, 200 with LIGHTNING_STRESS=1."""

import os
import random

import pytest

import lightning

from conftest import run_and_kill, stress

K = 8   # unique keys per batch; every batch also overwrites K shared slot keys

CHILD = r"""
import sys, lightning
path, n, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
db = lightning.open(path, sync="full", memtable_size=32 << 10, page_size=1024,
                    table_size=64 << 10, level1_size=256 << 10)
out = sys.stdout
out.write("ready\n")
out.flush()
while True:
    tag = b"%d" % n
    with db.batch() as b:
        for j in range(k):
            b.put(b"b%08d-%02d" % (n, j), tag * 8)
            b.put(b"slot-%02d" % j, tag)
        b.put(b"m%08d" % n, tag)
    out.write("%d\n" % n)   # only after the commit returned
    out.flush()
    n += 1
"""

OPTS = dict(memtable_size=32 << 10, page_size=1024, table_size=64 << 10,
            level1_size=256 << 10)


def run_child(path, first, rnd):
    """Start the child at batch `first`, kill it at a random moment, return the
    acknowledged batch numbers it reported."""
    return run_and_kill(CHILD, [path, first, K], rnd)


def check(db, acked_upto):
    """All batches 0..n-1 present and whole, n > acked_upto; returns n."""
    markers = [int(k[1:]) for k, _ in db.scan(prefix=b"m")]
    n = len(markers)
    assert markers == list(range(n)), "batches missing in the middle"
    assert n > acked_upto, f"acknowledged batch {acked_upto} lost (have {n} batches)"
    count = 0
    for key, value in db.scan(prefix=b"b"):
        batch = int(key[1:9])
        assert batch < n, f"batch {batch} partly visible (no marker)"
        assert value == b"%d" % batch * 8
        count += 1
    assert count == n * K, f"{count} batch keys for {n} batches: a batch is partial"
    slots = [v for _, v in db.scan(prefix=b"slot-")]
    if n:
        assert slots == [b"%d" % (n - 1)] * K, f"slots {slots} != last batch {n - 1}"
    else:
        assert slots == []
    return n


@pytest.mark.stress
def test_sigkill_never_loses_acknowledged_batches(dbpath):
    rnd = random.Random(int.from_bytes(os.urandom(4), "little"))
    rounds = stress(20, 200)
    acked = -1
    have = 0
    progressed = 0
    for _ in range(rounds):
        first = have
        reported = run_child(dbpath, first, rnd)
        if reported:
            assert reported == list(range(have, have + len(reported)))
            acked = reported[-1]
            progressed += 1
        with lightning.open(dbpath, **OPTS) as db:
            have = check(db, acked)
            # The child commits one at a time and reports each, so at most one
            # commit of this round went unreported.
            assert have <= first + len(reported) + 1, "more batches than were ever started"
    assert progressed >= rounds // 2, "the child rarely got to commit: test too weak"
    assert have > 0
