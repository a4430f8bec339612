"""Model test: random put, delete, batch, get, scan (bounds, prefixes, both directions,
limits), snapshot reads, flush, compact and close-and-reopen against a SortedDict, with
memtable, block and table sizes small enough that many tables, levels and compactions
happen; plus a deterministic check that they do."""

import os
import random
import shutil
import tempfile

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (RuleBasedStateMachine, invariant, precondition, rule)
from sortedcontainers import SortedDict

import lightning

from conftest import STRESS, TINY

OPTS = dict(TINY)

# A small alphabet (with 0x00 and 0xff for prefix edge cases) so overwrites, deletes
# and prefixes hit existing keys often.
keys = st.lists(st.sampled_from([0x00, 0x01, 0x61, 0x62, 0xfe, 0xff]),
                max_size=3).map(bytes)
values = st.one_of(st.binary(max_size=12), st.binary(min_size=100, max_size=400))
bounds = st.one_of(st.none(), keys)


def model_scan(model, start, end, prefix, reverse, limit):
    items = [(k, v) for k, v in model.items()
             if (start is None or k >= start) and (end is None or k < end)
             and (prefix is None or k.startswith(prefix))]
    if reverse:
        items.reverse()
    if limit is not None:
        items = items[:limit]
    return items


class KVMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="lt-model-")
        self.path = os.path.join(self.dir, "model.ldb")
        self.db = lightning.open(self.path, **OPTS)
        self.model = SortedDict()
        self.snaps = []          # (Snapshot, SortedDict copy at that moment)

    # -- writes --

    @rule(k=keys, v=values)
    def put(self, k, v):
        self.db.put(k, v)
        self.model[k] = v

    @rule(k=keys)
    def delete(self, k):
        self.db.delete(k)
        self.model.pop(k, None)

    @rule(ops=st.lists(st.tuples(st.booleans(), keys, values), max_size=25),
          fail=st.booleans())
    def batch(self, ops, fail):
        class Abort(Exception):
            pass
        try:
            with self.db.batch() as b:
                for is_put, k, v in ops:
                    if is_put:
                        b.put(k, v)
                    else:
                        b.delete(k)
                if fail:
                    raise Abort
        except Abort:
            return
        for is_put, k, v in ops:
            if is_put:
                self.model[k] = v
            else:
                self.model.pop(k, None)

    @rule(seed=st.integers(0, 2**32 - 1), n=st.integers(10, 60))
    def fill(self, seed, n):
        """Many larger writes in a wider key space: memtable switches and compactions."""
        rnd = random.Random(seed)
        with self.db.batch() as b:
            for _ in range(n):
                k = b"f" + rnd.randbytes(rnd.randint(1, 3))
                if rnd.random() < 0.15:
                    b.delete(k)
                    self.model.pop(k, None)
                else:
                    v = rnd.randbytes(rnd.randint(50, 300))
                    b.put(k, v)
                    self.model[k] = v

    # -- reads --

    @rule(k=keys)
    def get(self, k):
        assert self.db.get(k) == self.model.get(k)
        assert (k in self.db) == (k in self.model)

    @rule(start=bounds, end=bounds, prefix=st.one_of(st.none(), keys),
          reverse=st.booleans(), limit=st.one_of(st.none(), st.integers(0, 10)))
    def scan(self, start, end, prefix, reverse, limit):
        got = list(self.db.scan(start, end, prefix=prefix, reverse=reverse, limit=limit))
        assert got == model_scan(self.model, start, end, prefix, reverse, limit)

    # -- snapshots --

    @precondition(lambda self: len(self.snaps) < 3)
    @rule()
    def take_snapshot(self):
        self.snaps.append((self.db.snapshot(), SortedDict(self.model)))

    @precondition(lambda self: self.snaps)
    @rule(i=st.integers(0, 2), k=keys, start=bounds, prefix=st.one_of(st.none(), keys),
          reverse=st.booleans())
    def snapshot_read(self, i, k, start, prefix, reverse):
        snap, frozen = self.snaps[i % len(self.snaps)]
        assert snap.get(k) == frozen.get(k)
        got = list(snap.scan(start, prefix=prefix, reverse=reverse))
        assert got == model_scan(frozen, start, None, prefix, reverse, None)

    @precondition(lambda self: self.snaps)
    @rule(i=st.integers(0, 2))
    def release_snapshot(self, i):
        snap, _ = self.snaps.pop(i % len(self.snaps))
        snap.close()
        with pytest.raises(lightning.InterfaceError):
            snap.get(b"a")

    # -- maintenance --

    @rule()
    def flush(self):
        self.db.flush()

    @rule(start=bounds, end=bounds)
    def compact(self, start, end):
        self.db.compact(start, end)

    @rule()
    def reopen(self):
        self.db.close()
        for snap, _ in self.snaps:
            with pytest.raises(lightning.InterfaceError):
                snap.get(b"a")
        self.snaps = []
        self.db = lightning.open(self.path, **OPTS)

    @invariant()
    def full_scan_matches(self):
        assert list(self.db.scan()) == list(self.model.items())

    def teardown(self):
        for snap, _ in self.snaps:
            snap.close()
        self.db.close()
        shutil.rmtree(self.dir, ignore_errors=True)


KVMachine.TestCase.settings = settings(
    max_examples=150 if STRESS else 25,
    stateful_step_count=100 if STRESS else 50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
test_kv_model = KVMachine.TestCase


def level_files(stats):
    """Files per level from stats(): {level: count} for levels holding files."""
    return {lv["level"]: lv["files"] for lv in stats["levels"] if lv["files"]}


def test_small_options_make_levels_and_compactions(dbpath):
    """The model test's sizes really exercise the LSM: several levels, many tables,
    compactions, and reads that stay correct through them."""
    rnd = random.Random(7)
    model = {}
    with lightning.open(dbpath, **OPTS) as db:
        for round_ in range(40):
            with db.batch() as b:
                for _ in range(200):
                    k = b"%06d" % rnd.randrange(20000)
                    v = rnd.randbytes(rnd.randint(20, 120))
                    b.put(k, v)
                    model[k] = v
            for _ in range(20):
                k = b"%06d" % rnd.randrange(20000)
                db.delete(k)
                model.pop(k, None)
        db.flush()
        st_ = db.stats()
        levels = level_files(st_)
        assert len(levels) >= 2, st_
        assert sum(levels.values()) >= 5, st_
        assert st_["compactions"] > 0, st_
        assert st_["flushes"] > 10, st_
        assert dict(db.scan()) == model
        for k, v in model.items():
            assert db.get(k) == v
    with lightning.open(dbpath, **OPTS) as db:
        assert dict(db.scan()) == model
