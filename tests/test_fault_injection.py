"""Fault injection on every write path. A fixed workload of KV puts, batches (with
deletes), KV transactions, SQL transactions through `lightning.connect`, flush() and
compact() runs over a FaultEnv(MemEnv()); one run counts the file operations of each
kind (append, sync, sync_dir, rename, create, remove, truncate, mkdir), then for each
kind, each n = 1..count and each mode (EIO; ENOSPC with a partial write; a full disk,
where that operation and every later one of its kind fail) the n-th operation of that
kind fails. The workload keeps going after the failure (every call
either succeeds or raises OperationalError), then the database is
  reopen:  closed and reopened with the fault cleared, or
  power:   abandoned as in a crash, every unsynced byte and name dropped, reopened;
and must open, hold every acknowledged commit (sync="full"), hold each unacknowledged
commit wholly or not at all, and keep working. Every injection point is tried (a run
takes milliseconds over the memory env); the modes EIO and ENOSPC in CI, the full-disk
mode too with LIGHTNING_STRESS=1."""

import random

import pytest

import lightning
from lightning._testing import FAULT_OPS, FaultEnv, MemEnv

from conftest import STRESS

PATH = "/fi/db"
# No background compaction and a memtable that never fills: flushes and compactions
# happen only where the workload asks, so the n-th operation is the same in each run.
# No compression: the sizes, hence the operations, do not depend on libzstd's version.
OPTS = dict(sync="full", memtable_size=1 << 20, page_size=256, table_size=2 << 10,
            level1_size=8 << 10, background_compaction=False, compression="none")
# How the chosen operation fails: (code, partial append, sticky). "full": the disk
# stays full, every later operation of the kind fails too.
MODES = {"EIO": ("EIO", False, False), "ENOSPC": ("ENOSPC", True, False),
         "full": ("ENOSPC", True, True)}
VARIANTS = ("reopen", "power")


class Workload:
    """The workload and its model. Commits are numbered in order; each is a dict of
    KV effects {key: value or None (deleted)} or SQL effects {id: v or None}, and has
    a marker: a key (or row id) that it writes and no other commit touches, so that
    after recovery its presence says whether the commit is there."""

    def __init__(self):
        self.commits = []      # (space, effects, marker)
        self.acked = []        # True / False per commit
        self.errors = []       # messages of the OperationalErrors seen
        self.sql_ready = False
        self._sql_index = {}   # commit number -> SQL transaction number

    def _commit(self, space, effects, marker, fn, db):
        self.commits.append((space, effects, marker))
        try:
            fn()
        except lightning.OperationalError as exc:
            self.acked.append(False)
            self.errors.append(str(exc))
            if space == "kv" and db is not None:
                try:
                    visible = db.get(marker)
                except lightning.OperationalError:
                    visible = None
                assert visible is None, f"failed commit {marker!r} is visible: {exc}"
            return False
        self.acked.append(True)
        return True


    def _attempt(self, fn, *args, **kw):
        """fn(...), or None with the OperationalError recorded."""
        try:
            return fn(*args, **kw)
        except lightning.OperationalError as exc:
            self.errors.append(str(exc))
            return None

    def _connect(self, fault):
        return self._attempt(lightning.connect, PATH, _env=fault)

    def run(self, fault):
        db = self._attempt(lightning.open, PATH, _env=fault, **OPTS)
        if db is None:
            return None
        conn = self._connect(fault)
        rnd = random.Random(7)
        puts = []              # keys of acknowledged single puts, deletable by batches

        def put(i):
            key, val = b"p%04d" % i, b"v%d-" % i * rnd.randint(1, 30)
            if self._commit("kv", {key: val}, key, lambda: db.put(key, val), db):
                puts.append(key)

        def batch(i):
            marker = b"m%04d" % i
            eff = {b"b%04d-%d" % (i, j): b"%d" % (i * j) * 20 for j in range(3)}
            eff[marker] = b"x"
            if puts:
                eff[puts.pop(0)] = None

            def go():
                with db.batch() as b:
                    for k, v in eff.items():
                        b.put(k, v) if v is not None else b.delete(k)
            self._commit("kv", eff, marker, go, db)

        def txn(i):
            marker = b"t%04d" % i
            eff = {marker: b"t", b"tx%04d" % i: b"y" * 50}

            def go():
                with db.transaction() as t:
                    t.get(b"p0000")
                    for k, v in eff.items():
                        t.put(k, v)
            self._commit("kv", eff, marker, go, db)

        def sql_create():
            def go():
                conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
                conn.commit()
            if conn is not None:
                self.sql_ready = self._commit("sql", {}, None, go, None)
                if not self.sql_ready:
                    conn.rollback()

        def sql_txn(i):
            if not self.sql_ready:
                return
            eff = {10 * i + j: "s%d-%d" % (i, j) for j in range(1, 4)}
            prev = [c for c in range(i) if self._sql_acked(c)]
            if prev:
                eff[10 * prev[-1] + 1] = "updated by %d" % i
                eff[10 * prev[-1] + 3] = None

            def go():
                try:
                    for rid, v in eff.items():
                        if rid % 10 == 1 and rid // 10 != i:
                            conn.execute("UPDATE t SET v = ? WHERE id = ?", (v, rid))
                        elif v is None:
                            conn.execute("DELETE FROM t WHERE id = ?", (rid,))
                        else:
                            conn.execute("INSERT INTO t VALUES (?, ?)", (rid, v))
                    conn.commit()
                except BaseException:
                    conn.rollback()
                    raise
            self._commit("sql", eff, 10 * i + 2, go, None)
            self._sql_index[len(self.commits) - 1] = i

        n = 0
        for step in ("put " * 8 + "batch " * 3 + "create txn txn txn flush sql sql sql "
                     + "put " * 6 + "batch batch reopen flush compact txn txn sql sql "
                     + "put " * 4 + "flush compact put put put batch").split():
            n += 1
            if step == "put":
                put(n)
            elif step == "batch":
                batch(n)
            elif step == "txn":
                txn(n)
            elif step == "create":
                sql_create()
            elif step == "sql":
                sql_txn(n)
            elif step == "flush":
                self._attempt(db.flush)
            elif step == "compact":
                self._attempt(db.compact)
            elif step == "reopen":        # recovery's own writes are write paths too
                if conn is not None:
                    conn.close()
                db.close()
                db = self._attempt(lightning.open, PATH, _env=fault, **OPTS)
                if db is None:
                    return None
                conn = self._connect(fault)
        if conn is not None:
            conn.close()
        return db

    def _sql_acked(self, i):
        for c, j in self._sql_index.items():
            if j == i:
                return self.acked[c]
        return False

    def check(self, db, where):
        """Every acknowledged commit present, every other one whole or absent."""
        kv = dict(db.scan(start=b"a"))
        rows = None
        conn = lightning.connect(PATH, _env=db._env)
        try:
            rows = dict(conn.execute("SELECT id, v FROM t").fetchall())
        except lightning.ProgrammingError:
            assert not self.sql_ready, f"{where}: table t lost"
        conn.close()
        want_kv, want_rows = {}, {}
        for c, (space, eff, marker) in enumerate(self.commits):
            if space == "kv":
                present = self.acked[c] or marker in kv
                target = want_kv
            else:
                if rows is None:
                    continue
                present = self.acked[c] or (marker is not None and marker in rows)
                target = want_rows
            if present:
                for k, v in eff.items():
                    if v is None:
                        target.pop(k, None)
                    else:
                        target[k] = v
        if kv != want_kv:
            missing = sorted(set(want_kv) - set(kv))[:5]
            extra = sorted(set(kv) - set(want_kv))[:5]
            wrong = sorted(k for k in want_kv if k in kv and kv[k] != want_kv[k])[:5]
            raise AssertionError(f"{where}: KV state differs from the model: missing "
                                 f"{missing}, unexpected {extra}, wrong values {wrong}; "
                                 f"errors seen: {self.errors[:2]}")
        if rows is not None and rows != want_rows:
            raise AssertionError(f"{where}: SQL rows differ: have {sorted(rows.items())}, "
                                 f"want {sorted(want_rows.items())}")


def reopen_and_check(fault, wl, where):
    db = lightning.open(PATH, _env=fault, **OPTS)
    try:
        wl.check(db, where)
        db.put(b"zafter", b"1")          # the recovered database takes writes
        db.flush()
        assert db.get(b"zafter") == b"1"
    finally:
        db.close()


def one_case(kind, n, mode, variant):
    """Run the workload with the n-th `kind` operation failing as `mode` says, end it
    as `variant` says, reopen and check."""
    code, partial, sticky = MODES[mode]
    fault = FaultEnv(MemEnv())
    fault.fail(kind, n, code, partial=partial, sticky=sticky)
    wl = Workload()
    db = wl.run(fault)
    if db is not None:
        if variant == "power":
            db._crash()
        else:
            db.close()
    fault.clear()
    if variant == "power":
        fault.drop_unsynced()
    where = f"{kind} #{n} {mode} {variant}"
    assert fault.injected == 1 or (sticky and fault.injected > 1), \
        f"{where}: the injection point was not reached"
    reopen_and_check(fault, wl, where)
    return wl


_COUNTS = {}


def op_counts():
    """Operations of each kind in one clean run of the workload (open to close)."""
    if not _COUNTS:
        fault = FaultEnv(MemEnv())
        wl = Workload()
        db = wl.run(fault)
        db.close()
        assert all(wl.acked) and not wl.errors, wl.errors
        _COUNTS.update({k: fault.count(k) for k in FAULT_OPS})
        reopen_and_check(fault, wl, "clean run")
    return _COUNTS


def pytest_generate_tests(metafunc):
    """One case per (kind, n, mode, variant): every injection point of the workload."""
    if "injection" not in metafunc.fixturenames:
        return
    modes = list(MODES) if STRESS else ["EIO", "ENOSPC"]
    cases = []
    for kind, count in sorted(op_counts().items()):
        for n in range(1, count + 1):
            for mode in modes:
                for variant in VARIANTS:
                    cases.append(pytest.param((kind, n, mode, variant),
                                              id=f"{kind}-{n}-{mode}-{variant}"))
    metafunc.parametrize("injection", cases)


def test_fail_one_operation(injection):
    one_case(*injection)


def test_workload_covers_every_write_path():
    """The workload reaches every kind of operation the engine's write paths use, so
    the enumeration is not vacuous; prints the number of injection points."""
    counts = op_counts()
    for kind in ("append", "sync", "sync_dir", "rename", "create", "remove", "mkdir"):
        assert counts[kind] > 0, f"the workload never does a {kind}: {counts}"
    total = sum(counts.values())
    modes = len(MODES) if STRESS else 2
    print(f"\ninjection points per run of the workload: {counts} (total {total}); "
          f"x {modes} modes x {len(VARIANTS)} variants = {total * modes * len(VARIANTS)} "
          f"cases")
