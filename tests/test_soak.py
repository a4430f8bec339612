"""Soak: a writer process runs mixed KV and SQL work from several threads (bank
transfers in serializable transactions, plain puts and batches, SQL transactions with
inserts, updates, deletes, upserts and a refused duplicate over tables with unique and
secondary indexes) and reports every acknowledged commit on a pipe; the harness
SIGKILLs it at random moments, over and over, for a time budget. While the writer
holds the database, this process and sometimes a fresh one try to open it and must get
a clean "locked" OperationalError. After each kill the database is reopened and
checked: every acknowledged commit is there, no transaction is half-applied, the KV
and SQL bank totals are unchanged, every index agrees with a full scan of its table,
unique indexes hold no duplicates, and every key of the store reads back.

The writer opens with sync "full", "normal" or "off" by turn: a process kill must
lose nothing acknowledged in any mode (docs/durability.md).

The time budget is LIGHTNING_SOAK_SECONDS (default 20, 300 with LIGHTNING_STRESS=1).
A summary of the run (duration, operations by kind, kills, reopens, checks) is printed
(visible with `pytest -s`) and appended to the file LIGHTNING_SOAK_REPORT names, if set."""

import collections
import os
import random
import subprocess
import sys
import time

import pytest

import lightning

from conftest import child_env, run_and_kill, stress

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "sql"))
from sqlcheck import indexed_rows  # noqa: E402 - tests/sql is not a package

# The workload's shape and deterministic parts, shared by the writer (which runs it)
# and the checks here (which replay it).
WORKLOAD = r'''
ACCOUNTS = 8        # KV bank accounts acct:00.., START each
START = 1000
SLOTS = 8           # each KV thread rotates its commits over this many keys
INV = 6             # rows of the SQL bank table inv, START each
BANK_THREADS = 2
KV_THREADS = 2
SQL_THREADS = 2
OPTS = dict(memtable_size=32 << 10, page_size=1024, table_size=64 << 10,
            level1_size=256 << 10)
SCHEMA = [
    "CREATE TABLE IF NOT EXISTS acct (id INTEGER PRIMARY KEY, owner INTEGER NOT NULL, "
    "email TEXT NOT NULL UNIQUE, grp INTEGER, bal INTEGER)",
    "CREATE INDEX IF NOT EXISTS acct_owner_grp ON acct (owner, grp, bal)",
    "CREATE TABLE IF NOT EXISTS inv (id INTEGER PRIMARY KEY, sku TEXT NOT NULL UNIQUE, "
    "qty INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS inv_qty ON inv (qty)",
    "CREATE TABLE IF NOT EXISTS sqllog (owner INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
]


def kv_batch_deletes(n):
    """KV operation n with n % 3 == 0 is a batch: it puts kvb:<tid>:j = n for every j
    in 0..3 except this one, which it deletes."""
    return (n // 3) % 4


def email(owner, n, j):
    return "%d-%d-%d" % (owner, n, j)


def sql_ops(owner, n):
    """The acct statements of SQL transaction n (1, 2, ...) of thread `owner`:
    (many, sql, params). Rows of transaction k are deleted by transaction k + 4."""
    return [
        (True, "INSERT INTO acct (owner, email, grp, bal) VALUES (?, ?, ?, ?)",
         [(owner, email(owner, n, j), (n + j) % 5, n) for j in range(3)]),
        (False, "UPDATE acct SET bal = bal + 1, grp = ? WHERE email = ?",
         ((n * 3) % 5, email(owner, n - 1, 0))),
        (False, "UPDATE acct SET email = email || 'x' WHERE email = ?",
         (email(owner, n - 2, 2),)),
        (False, "UPDATE acct SET bal = bal * 2 WHERE owner = ? AND grp = ? AND bal < 100000",
         (owner, n % 5)),
        (False, "DELETE FROM acct WHERE email IN (?, ?, ?)",
         (email(owner, n - 4, 0), email(owner, n - 4, 1), email(owner, n - 4, 2) + "x")),
    ]
'''

WRITER = r'''
import os, random, sys, threading, time, traceback
import lightning
''' + WORKLOAD + r'''
path, sync, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])


def ack(kind, tid, n):
    # One write(2) of a whole line: lines from several threads never interleave.
    os.write(1, b"%s %d %d\n" % (kind, tid, n))


def guarded(fn, *args):
    def run():
        try:
            fn(*args)
        except BaseException:
            sys.stderr.write(traceback.format_exc())
            sys.stderr.flush()
            os._exit(3)
    return threading.Thread(target=run, daemon=True)


def next_n(db, prefix):
    """1 + the highest operation number held in the slot values under `prefix`."""
    return max([int(v.split()[0]) + 1 for _, v in db.scan(prefix=prefix)] or [0])


def bank(db, tid):
    rnd = random.Random(seed * 100 + tid)
    n = next_n(db, b"xfer:%d:" % tid)

    def transfer(t):
        a, b = rnd.sample(range(ACCOUNTS), 2)
        ka, kb = b"acct:%02d" % a, b"acct:%02d" % b
        va, vb = int(t.get(ka)), int(t.get(kb))
        amount = rnd.randint(min(1, va), va)
        t.put(ka, b"%d" % (va - amount))
        t.put(kb, b"%d" % (vb + amount))
        t.put(b"xfer:%d:%d" % (tid, n % SLOTS), b"%d %d %d %d" % (n, a, b, amount))

    while True:
        db.run_in_transaction(transfer, isolation="serializable", retries=10 ** 6,
                              max_backoff=0.002)
        ack(b"bank", tid, n)
        n += 1


def kv(db, tid):
    n = next_n(db, b"kv:%d:" % tid)
    while True:
        v = b"%d" % n
        slot = b"kv:%d:%d" % (tid, n % SLOTS)
        if n % 3 == 0:
            with db.batch() as b:
                b.put(slot, v)
                for j in range(4):
                    if j == kv_batch_deletes(n):
                        b.delete(b"kvb:%d:%d" % (tid, j))
                    else:
                        b.put(b"kvb:%d:%d" % (tid, j), v)
            ack(b"batch", tid, n)
        else:
            db.put(slot, v)
            ack(b"put", tid, n)
        n += 1


def sql(owner):
    rnd = random.Random(seed * 100 + 50 + owner)
    con = lightning.connect(path)
    row = con.execute("SELECT n FROM sqllog WHERE owner = ?", (owner,)).fetchone()
    n = (row[0] if row else 0) + 1
    con.rollback()
    while True:
        while True:
            try:
                for many, stmt, params in sql_ops(owner, n):
                    (con.executemany if many else con.execute)(stmt, params)
                a, b = rnd.sample(range(INV), 2)
                qa = con.execute("SELECT qty FROM inv WHERE sku = ?", ("sku%d" % a,)).fetchone()[0]
                amount = rnd.randint(min(1, qa), qa)
                con.execute("UPDATE inv SET qty = qty - ? WHERE sku = ?", (amount, "sku%d" % a))
                con.execute("UPDATE inv SET qty = qty + ? WHERE sku = ?", (amount, "sku%d" % b))
                con.execute("INSERT INTO sqllog (owner, n) VALUES (?, ?) "
                            "ON CONFLICT (owner) DO UPDATE SET n = excluded.n", (owner, n))
                try:    # a refused duplicate leaves the transaction open and intact
                    con.execute("INSERT INTO acct (owner, email, grp, bal) VALUES (?, ?, 0, 0)",
                                (owner, email(owner, n, 1)))
                    raise SystemExit("duplicate email accepted")
                except lightning.IntegrityError:
                    pass
                con.commit()
                break
            except lightning.OperationalError as e:
                if getattr(e, "sqlstate", None) != "40001":
                    raise
                con.rollback()
                ack(b"sqlretry", owner, n)
        ack(b"sql", owner, n)
        n += 1


def reader(db):
    """Checks the bank totals in snapshots while the writers run."""
    con = lightning.connect(path)
    k = 0
    while True:
        with db.snapshot() as s:
            got = sum(int(v) for _, v in s.scan(prefix=b"acct:"))
        assert got == ACCOUNTS * START, ("KV bank total", got)
        got = con.execute("SELECT sum(qty), count(*) FROM inv").fetchone()
        con.rollback()
        assert got == (INV * START, INV), ("SQL bank total", got)
        ack(b"check", 0, k)
        k += 1
        time.sleep(0.02)


db = lightning.open(path, sync=sync, **OPTS)
con = lightning.connect(path)     # shares the engine opened just above
for stmt in SCHEMA:
    con.execute(stmt)
con.commit()
if con.execute("SELECT count(*) FROM inv").fetchone()[0] == 0:
    con.executemany("INSERT INTO inv (sku, qty) VALUES (?, ?)",
                    [("sku%d" % i, START) for i in range(INV)])
con.commit()
with db.transaction() as t:
    if t.get(b"acct:00") is None:
        for i in range(ACCOUNTS):
            t.put(b"acct:%02d" % i, b"%d" % START)
print("ready", flush=True)
threads = [guarded(bank, db, i) for i in range(BANK_THREADS)]
threads += [guarded(kv, db, i) for i in range(KV_THREADS)]
threads += [guarded(sql, i) for i in range(SQL_THREADS)]
threads.append(guarded(reader, db))
for t in threads:
    t.start()
threading.Event().wait()
'''

PROBER = r'''
import sys, lightning
path, pid = sys.argv[1], sys.argv[2]
for attempt in (lambda: lightning.open(path), lambda: lightning.open(path, read_only=True),
                lambda: lightning.connect(path, timeout=0)):
    try:
        attempt()
    except lightning.OperationalError as e:
        assert "locked" in str(e) and pid in str(e), str(e)
        print("locked", flush=True)
    else:
        raise SystemExit("opened a database another process holds")
'''

W = {}
exec(WORKLOAD, W)
REPLAY_WINDOW = 6     # transactions replayed to check one owner's rows (3 would do)


def sql_replay(owner, m, first=1):
    """The acct rows {email: (grp, bal)} of `owner` after its transactions 1..m,
    replaying only transactions first..m: the rows of transaction k are deleted by
    k + 4 and no statement reads one row to write another, so replaying from m - 3 on
    gives the same rows as replaying from 1."""
    rows = {}
    for n in range(first, m + 1):
        for _, stmt, params in W["sql_ops"](owner, n):
            if stmt.startswith("INSERT"):
                for _, e, g, b in params:
                    rows[e] = (g, b)
            elif "bal + 1" in stmt:
                g, e = params
                if e in rows:
                    rows[e] = (g, rows[e][1] + 1)
            elif "email ||" in stmt:
                if params[0] in rows:
                    rows[params[0] + "x"] = rows.pop(params[0])
            elif "bal * 2" in stmt:
                for e, (g, b) in list(rows.items()):
                    if g == params[1] and b < 100000:
                        rows[e] = (g, b * 2)
            else:
                assert stmt.startswith("DELETE")
                for e in params:
                    rows.pop(e, None)
    return rows


def test_sql_replay_model_is_not_trivial():
    """The model the soak compares against changes with every transaction, keeps a
    bounded number of rows, and exercises every kind of statement."""
    states = [sql_replay(0, m) for m in range(12)]
    assert all(states[i] != states[i + 1] for i in range(11))
    assert "0-1-2x" in states[3] and "0-1-0" not in states[5]
    assert states[3]["0-2-0"][0] == 4                     # grp set by transaction 3
    assert max(len(s) for s in states) <= 12
    for m in range(60):
        assert sql_replay(0, m, max(1, m - REPLAY_WINDOW)) == sql_replay(0, m)


def slot_numbers(kv, prefix):
    return sorted(int(v.split()[0]) for _, v in kv.scan(prefix=prefix))


class Soak:
    def __init__(self, path, rnd):
        self.path = path
        self.rnd = rnd
        self.committed = {}        # (kind, tid) -> operations committed (checked)
        self.acked = {}            # (kind, tid) -> highest acknowledged operation
        self.stats = collections.Counter()

    # ---- while the writer runs ----

    def probe(self, child):
        """Other openers get a clean "locked" error while the writer holds the lock."""
        if child.poll() is not None:     # its invariant checks failed
            pytest.fail("the writer died:\n" + child.stderr.read().decode(errors="replace"))
        pid = str(child.pid)
        for attempt in (lambda: lightning.open(self.path),
                        lambda: lightning.open(self.path, read_only=True),
                        lambda: lightning.connect(self.path, timeout=0)):
            with pytest.raises(lightning.OperationalError) as ei:
                attempt()
            assert "locked" in str(ei.value) and pid in str(ei.value), str(ei.value)
            self.stats["lock probes (this process)"] += 1
        if self.rnd.random() < 0.25:
            r = subprocess.run([sys.executable, "-c", PROBER, self.path, pid],
                               capture_output=True, env=child_env(), timeout=120)
            assert r.returncode == 0 and r.stdout == b"locked\n" * 3, r
            self.stats["lock probes (other process)"] += 3

    # ---- one round ----

    def round(self):
        sync = self.rnd.choice(["full", "full", "normal", "off"])
        lines = run_and_kill(WRITER, [self.path, sync, self.rnd.getrandbits(31)], self.rnd,
                             run_for=3.0, while_running=self.probe,
                             parse=lambda x: (x.split()[0].decode(), int(x.split()[1]),
                                              int(x.split()[2])))
        self.stats["kills"] += 1
        self.stats["rounds with sync=" + sync] += 1
        reported = collections.defaultdict(list)
        for kind, tid, n in lines:
            self.stats["acknowledged " + kind] += 1
            if kind in ("put", "batch"):
                kind = "kv"
            elif kind == "sql":
                n -= 1          # SQL transactions count from 1, the others from 0
            if kind not in ("check", "sqlretry"):
                reported[kind, tid].append(n)
        for key, ns in reported.items():
            first = self.committed.get(key, 0)
            assert ns == list(range(first, first + len(ns))), (key, first, ns[:5])
            self.acked[key] = ns[-1]
        self.check(reported)

    # ---- after a kill ----

    def check(self, reported):
        """Reopen and check every invariant; update self.committed."""
        if not os.path.exists(self.path):
            assert not self.acked
            return
        con = lightning.connect(self.path, timeout=0)
        self.stats["reopens"] += 1
        try:
            self.check_kv(con.kv, reported)
            self.check_sql(con, reported)
            if self.stats["reopens"] % 5 == 0:     # and once more after a full compaction
                con.kv.compact()
                self.stats["full compactions"] += 1
                self.check_kv(con.kv, {})
                self.check_sql(con, {})
        finally:
            con.close()

    def expect(self, key, committed, reported):
        """`committed` operations of `key` are in the store: every acknowledged one is,
        and at most one more than were ever reported (each thread commits in turn)."""
        assert committed > self.acked.get(key, -1), \
            f"{key}: acknowledged operation {self.acked[key]} lost ({committed} committed)"
        first = self.committed.get(key, 0)
        assert committed <= first + len(reported.get(key, [])) + 1, \
            f"{key}: {committed} committed, more than were ever started"
        self.committed[key] = committed
        self.stats["invariant checks"] += 1

    def check_kv(self, kv, reported):
        n_keys = sum(1 for _ in kv.scan())          # every block of every table reads back
        self.stats["keys read back"] += n_keys
        accts = [int(v) for _, v in kv.scan(prefix=b"acct:")]
        if not accts:
            assert not self.acked, "the bank accounts are gone"
            return
        assert len(accts) == W["ACCOUNTS"] and min(accts) >= 0, accts
        assert sum(accts) == W["ACCOUNTS"] * W["START"], f"KV bank total {sum(accts)}"
        self.stats["invariant checks"] += 1
        for tid in range(W["BANK_THREADS"]):
            ns = slot_numbers(kv, b"xfer:%d:" % tid)
            m = ns[-1] + 1 if ns else 0
            assert ns == list(range(max(0, m - W["SLOTS"]), m)), ("bank", tid, ns)
            self.expect(("bank", tid), m, reported)
        for tid in range(W["KV_THREADS"]):
            ns = slot_numbers(kv, b"kv:%d:" % tid)
            m = ns[-1] + 1 if ns else 0
            assert ns == list(range(max(0, m - W["SLOTS"]), m)), ("kv", tid, ns)
            self.expect(("kv", tid), m, reported)
            # the last batch is whole: its puts and its delete, nothing of another one
            last = (m - 1) // 3 * 3           # the last batch: n < m, n % 3 == 0
            got = dict(kv.scan(prefix=b"kvb:%d:" % tid))
            want = {b"kvb:%d:%d" % (tid, j): b"%d" % last for j in range(4)
                    if j != W["kv_batch_deletes"](last)} if m else {}
            assert got == want, ("kv batch", tid, got, want)
            self.stats["invariant checks"] += 1

    def check_sql(self, con, reported):
        try:
            logged = dict(con.execute("SELECT owner, n FROM sqllog"))
            inv = list(con.execute("SELECT sku, qty FROM inv"))
        except lightning.ProgrammingError:       # killed before the schema was created
            assert not any(k[0] == "sql" for k in self.acked), "the SQL schema is gone"
            con.rollback()
            return
        if inv:
            assert len(inv) == W["INV"] and min(q for _, q in inv) >= 0, inv
            assert sum(q for _, q in inv) == W["INV"] * W["START"], f"SQL bank {inv}"
        else:
            assert not any(k[0] == "sql" for k in self.acked), "the SQL bank is gone"
        for owner in range(W["SQL_THREADS"]):
            m = logged.get(owner, 0)
            self.expect(("sql", owner), m, reported)
            got = {e: (g, b) for e, g, b in
                   con.execute("SELECT email, grp, bal FROM acct WHERE owner = ?", (owner,))}
            assert got == sql_replay(owner, m, max(1, m - REPLAY_WINDOW)), ("sql", owner, m)
        con.rollback()
        for name in ("acct", "inv", "sqllog"):
            t, rows = indexed_rows(con, name)
            for ix in t.indexes:
                if ix.unique:
                    pos = [t.columns.index(t.column_by_id(c)) for c in ix.column_ids]
                    vals = [tuple(r[i] for i in pos) for r in rows]
                    assert len(vals) == len(set(vals)), (name, ix.name, "duplicates")
            self.stats["index checks"] += len(t.indexes)
        assert any(ix.unique for ix in indexed_rows(con, "acct")[0].indexes)
        self.stats["invariant checks"] += 1

    def summary(self, seconds):
        lines = [f"soak: {seconds:.0f} s, {self.stats['kills']} kills, "
                 f"{self.stats['reopens']} reopens"]
        lines += [f"  {k}: {v}" for k, v in sorted(self.stats.items())]
        lines += [f"  committed {k[0]} thread {k[1]}: {v}" for k, v in sorted(self.committed.items())]
        return "\n".join(lines) + "\n"


@pytest.mark.stress
def test_soak(dbpath):
    seconds = float(os.environ.get("LIGHTNING_SOAK_SECONDS", stress(20, 300)))
    seed = int.from_bytes(os.urandom(4), "little")
    soak = Soak(dbpath, random.Random(seed))
    start = time.monotonic()
    try:
        while time.monotonic() - start < seconds:
            soak.round()
        soak.check({})      # a last reopen, then a clean close and one more
        soak.check({})
    finally:
        report = f"seed {seed}\n" + soak.summary(time.monotonic() - start)
        print(report)
        out = os.environ.get("LIGHTNING_SOAK_REPORT")
        if out:
            with open(out, "a") as f:
                f.write(report)
    kinds = {k[0] for k in soak.acked}
    assert kinds == {"bank", "kv", "sql"}, f"some work was never acknowledged: {kinds}"
    assert soak.stats["acknowledged check"] > 0 and soak.stats["lock probes (this process)"] > 0
