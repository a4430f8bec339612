"""Model test: a hypothesis state machine interleaves several open transactions
(reads, writes, deletes, scans in both directions with bounds and limits, savepoints,
commits, rollbacks) and plain writes, and checks every result and every commit or
conflict against a reference model of the isolation level:

  snapshot      conflict iff a key in the write set was committed after the snapshot;
  serializable  also a key read, or a key inside a scanned range (the part the scan
                delivered: all of it, or up to the last key when a limit stopped it).
Read-only transactions and transactions that wrote nothing always commit."""

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import lightning
from lightning import ConflictError

KEYS = [b"", b"a", b"ab", b"b", b"c", b"d\x00", b"d"]
SLOTS = 3
key_st = st.sampled_from(KEYS)
bound_st = st.one_of(st.none(), key_st)
value_st = st.binary(max_size=4)


class ModelTxn:
    def __init__(self, txn, isolation, read_only, snapshot, commit_index):
        self.txn = txn
        self.isolation = isolation
        self.read_only = read_only
        self.snapshot = dict(snapshot)
        self.commit_index = commit_index      # commits before this index are visible
        self.writes = {}                      # key -> value or None (delete)
        self.savepoints = []                  # (Savepoint, copy of writes)
        self.reads = set()
        self.ranges = []                      # (lo, hi) with None = unbounded

    def view(self):
        v = dict(self.snapshot)
        for k, val in self.writes.items():
            if val is None:
                v.pop(k, None)
            else:
                v[k] = val
        return v


def in_range(k, lo, hi):
    return (lo is None or k >= lo) and (hi is None or k < hi)


class TxnMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.db = lightning.open(":memory:")
        self.committed = {}
        self.history = []                     # list of sets of keys, one per commit
        self.slots = [None] * SLOTS

    def teardown(self):
        self.db.close()

    # -- helpers --

    def _record_commit(self, changes):
        for k, v in changes.items():
            if v is None:
                self.committed.pop(k, None)
            else:
                self.committed[k] = v
        self.history.append(set(changes))

    def _serializable_rw(self, m):
        return m.isolation == "serializable" and not m.read_only

    # -- rules --

    @rule(slot=st.integers(0, SLOTS - 1),
          isolation=st.sampled_from(["snapshot", "serializable"]),
          read_only=st.booleans())
    def begin(self, slot, isolation, read_only):
        if self.slots[slot] is not None:
            self.slots[slot].txn.rollback()
        t = self.db.transaction(isolation=isolation, read_only=read_only)
        self.slots[slot] = ModelTxn(t, isolation, read_only, self.committed,
                                    len(self.history))

    @precondition(lambda self: any(self.slots))
    @rule(slot=st.integers(0, SLOTS - 1), key=key_st)
    def get(self, slot, key):
        m = self.slots[slot]
        if m is None:
            return
        assert m.txn.get(key) == m.view().get(key)
        if self._serializable_rw(m):
            m.reads.add(key)

    @precondition(lambda self: any(self.slots))
    @rule(slot=st.integers(0, SLOTS - 1), key=key_st, value=st.one_of(st.none(), value_st))
    def write(self, slot, key, value):
        m = self.slots[slot]
        if m is None or m.read_only:
            return
        if value is None:
            m.txn.delete(key)
        else:
            m.txn.put(key, value)
        m.writes[key] = value

    @precondition(lambda self: any(self.slots))
    @rule(slot=st.integers(0, SLOTS - 1), lo=bound_st, hi=bound_st, reverse=st.booleans(),
          limit=st.one_of(st.none(), st.integers(0, 4)))
    def scan(self, slot, lo, hi, reverse, limit):
        m = self.slots[slot]
        if m is None:
            return
        got = list(m.txn.scan(lo, hi, reverse=reverse, limit=limit))
        want = sorted((k, v) for k, v in m.view().items() if in_range(k, lo, hi))
        if reverse:
            want.reverse()
        if limit is not None:
            want = want[:limit]
        assert got == want
        if not self._serializable_rw(m) or limit == 0:
            return
        if lo is not None and hi is not None and lo >= hi:
            return
        if limit is not None and len(got) == limit:
            last = got[-1][0]
            if reverse:
                m.ranges.append((last, hi))
            else:
                m.ranges.append((lo, last + b"\x00"))
        else:
            m.ranges.append((lo, hi))

    @precondition(lambda self: any(self.slots))
    @rule(slot=st.integers(0, SLOTS - 1))
    def savepoint(self, slot):
        m = self.slots[slot]
        if m is None:
            return
        m.savepoints.append((m.txn.savepoint(), dict(m.writes)))

    @precondition(lambda self: any(m and m.savepoints for m in self.slots))
    @rule(slot=st.integers(0, SLOTS - 1), pick=st.integers(0, 10), release=st.booleans())
    def rollback_to_or_release(self, slot, pick, release):
        m = self.slots[slot]
        if m is None or not m.savepoints:
            return
        i = pick % len(m.savepoints)
        sp, writes = m.savepoints[i]
        if release:
            m.txn.release(sp)
            del m.savepoints[i:]
        else:
            m.txn.rollback_to(sp)
            m.writes = dict(writes)
            del m.savepoints[i + 1:]

    @precondition(lambda self: any(self.slots))
    @rule(slot=st.integers(0, SLOTS - 1))
    def commit(self, slot):
        m = self.slots[slot]
        if m is None:
            return
        self.slots[slot] = None
        later = set().union(*self.history[m.commit_index:])
        conflict = False
        if not m.read_only and m.writes:
            conflict = bool(set(m.writes) & later)
            if m.isolation == "serializable":
                conflict = conflict or bool(m.reads & later) or any(
                    in_range(k, lo, hi) for k in later for lo, hi in m.ranges)
        try:
            m.txn.commit()
        except ConflictError:
            assert conflict, "engine reported a conflict the model does not have"
            return
        assert not conflict, "engine committed a transaction the model rejects"
        if not m.read_only and m.writes:
            self._record_commit(m.writes)

    @precondition(lambda self: any(self.slots))
    @rule(slot=st.integers(0, SLOTS - 1))
    def rollback(self, slot):
        m = self.slots[slot]
        if m is None:
            return
        m.txn.rollback()
        self.slots[slot] = None

    @rule(key=key_st, value=st.one_of(st.none(), value_st))
    def plain_write(self, key, value):
        if value is None:
            self.db.delete(key)
        else:
            self.db.put(key, value)
        self._record_commit({key: value})

    @invariant()
    def database_matches(self):
        assert dict(self.db.scan()) == self.committed


TxnMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40,
                                        deadline=None)
test_txn_model = TxnMachine.TestCase
