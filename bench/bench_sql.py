"""SQL benchmark: lightning.connect() against sqlite3, same schema and data, one run.

What it measures (every workload on both engines in one process, the engines one after
the other inside each workload so they see the same machine conditions):

  insert        executemany() of N rows (default 200,000, --rows) into the empty table,
                one transaction, then commit (rows/s; the commit is timed)
  pk_select     SELECT id, k, a, b, c FROM t WHERE id = ?   random ids, fetchone (ops/s)
  pk_range      SELECT id, k, a, b, c FROM t WHERE id >= ? AND id < ?   100 rows from
                a random start id, fetchall (ranges/s)
  index_lookup  SELECT id, k, a, b, c FROM t WHERE k = ?   (secondary index t_k; every
                k is distinct, so one row each), fetchall (ops/s)
  scan_filter   SELECT id, a FROM t WHERE a % 7 = 3   full scan with a filter on the
                unindexed column a, fetchall (rows scanned/s)
  update        UPDATE t SET a = ?, c = ? WHERE id = ?   random ids (statements/s)
  delete        DELETE FROM t WHERE id = ?   random distinct ids (statements/s)

Schema (identical text on both engines):
  CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, a INTEGER, b REAL, c TEXT)
  CREATE INDEX t_k ON t(k)
Data, from a fixed seed: id 1..N inserted in ascending order; k a distinct random
16-hex-digit string (so index inserts land in random order); a a random int in
[0, 1,000,000); b a random float; c a random 20..60-character text.

Transactions: every workload after the insert runs its statements in transactions of
--batch statements (default 100) each, committed: lightning commit() after every 100
executes (a transaction starts implicitly with the first statement, PEP 249);
sqlite3 (isolation_level=None) BEGIN ... 100 statements ... COMMIT. Reads are batched
the same way as writes, so both engines pay the same number of transaction begins and
commits. Every statement uses the same SQL text with ? parameters, so both engines'
statement/plan caches apply (sqlite3 cached_statements and lightning's plan cache, both
128 by default).

Durability: lightning sync="normal" against sqlite3 journal_mode=WAL,
synchronous=NORMAL (both: a commit is atomic and survives a process crash; the last
commits may be lost on power failure). Caches: sqlite3 cache_size = 64 MiB, lightning's
default block cache (64 MiB).

Warm-up before the read workloads (untimed): one full scan of the table and 5,000
primary-key selects. Results are checked (rows found, rowcounts, scan match counts, and
the two engines' final row counts agree).

Usage:  python bench/bench_sql.py [--rows 200000] [--only pk_select,update]
                                  [--profile pk_select] [--batch 100]
--profile WORKLOAD runs that workload once more for lightning under cProfile after the
timed run (on a fresh database for insert; on fresh ids for update/delete) and prints the
top 25 functions by cumulative time (and the top 25 by own time).
Numbers from noisy shared machines: compare the ratios within one run.
"""

import argparse
import cProfile
import gc
import io
import os
import platform
import pstats
import random
import shutil
import sqlite3
import sys
import tempfile
import time

SEED = 20240907

SCHEMA = [
    "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, a INTEGER, b REAL, c TEXT)",
    "CREATE INDEX t_k ON t(k)",
]
SQL = {
    "insert": "INSERT INTO t (id, k, a, b, c) VALUES (?, ?, ?, ?, ?)",
    "pk_select": "SELECT id, k, a, b, c FROM t WHERE id = ?",
    "pk_range": "SELECT id, k, a, b, c FROM t WHERE id >= ? AND id < ?",
    "index_lookup": "SELECT id, k, a, b, c FROM t WHERE k = ?",
    "scan_filter": "SELECT id, a FROM t WHERE a % 7 = 3",
    "update": "UPDATE t SET a = ?, c = ? WHERE id = ?",
    "delete": "DELETE FROM t WHERE id = ?",
}
RANGE = 100

WORKLOADS = [
    # name, label, unit, target (min ratio lightning/sqlite3) or None
    ("insert", "executemany insert, one transaction", "rows/s", 0.5),
    ("pk_select", "point SELECT by primary key", "ops/s", 0.8),
    ("pk_range", "100-row primary-key range SELECT", "ranges/s", None),
    ("index_lookup", "secondary-index lookup k = ?", "ops/s", 0.8),
    ("scan_filter", "full scan, filter a % 7 = 3", "rows/s", None),
    ("update", "UPDATE ... WHERE id = ?", "ops/s", 0.8),
    ("delete", "DELETE ... WHERE id = ?", "ops/s", 0.8),
]
WORKLOAD_NAMES = [w[0] for w in WORKLOADS]


# ---- engines --------------------------------------------------------------------------
# Both adapters expose: connect(), close(), cursor(), begin(), commit(). The timed loops
# are the same code for both: `ex(sql, params)` with the cursor's bound execute.

class LightningEngine:
    name = "lightning"

    def __init__(self, path):
        import lightning
        self.mod = lightning
        self.path = os.path.join(path, "db.ldb")
        self.con = None

    @staticmethod
    def version():
        import lightning
        return lightning.__version__

    def connect(self):
        self.con = self.mod.connect(self.path, sync="normal")

    def close(self):
        self.con.close()
        self.con = None

    def cursor(self):
        return self.con.cursor()

    def begin(self):
        pass   # PEP 249: the transaction starts with the first statement

    def commit(self):
        self.con.commit()


class SqliteEngine:
    name = "sqlite3"

    def __init__(self, path):
        self.path = os.path.join(path, "db.sqlite")
        self.con = None

    @staticmethod
    def version():
        return sqlite3.sqlite_version

    def connect(self):
        self.con = sqlite3.connect(self.path, isolation_level=None)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=NORMAL")
        self.con.execute("PRAGMA cache_size=-65536")   # 64 MiB

    def close(self):
        self.con.close()
        self.con = None

    def cursor(self):
        return self.con.cursor()

    def begin(self):
        self.con.execute("BEGIN")

    def commit(self):
        self.con.execute("COMMIT")


ENGINES = [LightningEngine, SqliteEngine]


# ---- data -----------------------------------------------------------------------------

class Data:
    def __init__(self, n, args):
        rnd = random.Random(SEED)
        self.n = n
        keys = set()
        while len(keys) < n:
            keys.add("%016x" % rnd.getrandbits(64))
        keys = list(keys)
        rnd.shuffle(keys)
        alpha = "abcdefghijklmnopqrstuvwxyz "
        self.rows = [(i + 1, keys[i], rnd.randrange(1_000_000), rnd.random() * 1000.0,
                      "".join(rnd.choices(alpha, k=rnd.randint(20, 60))))
                     for i in range(n)]
        self.match_scan = sum(1 for r in self.rows if r[2] % 7 == 3)
        self.rnd = rnd
        ids = list(range(1, n + 1))
        rnd.shuffle(ids)
        # delete ids: disjoint pools for the timed run (per engine, same ids) and for a
        # profile run, so every delete hits a row.
        d = args.write_ops
        self.delete_ids = ids[:d]
        self.delete_ids_profile = ids[d:2 * d]
        self.point_ids = [rnd.randint(1, n) for _ in range(args.point_ops)]
        self.warm_ids = [rnd.randint(1, n) for _ in range(5000)]
        self.range_starts = [rnd.randint(1, n - RANGE + 1) for _ in range(args.ranges)]
        self.lookup_keys = [keys[rnd.randrange(n)] for _ in range(args.point_ops)]
        self.update_params = [(rnd.randrange(1_000_000), "updated %d" % i,
                               rnd.randint(1, n)) for i in range(args.write_ops)]


# ---- workloads ------------------------------------------------------------------------
# Each returns (ops, check) where check is a number compared against the expectation.

def batched(eng, sql, params_list, batch, fetch):
    cur = eng.cursor()
    ex = cur.execute
    begin, commit = eng.begin, eng.commit
    got = 0
    for i in range(0, len(params_list), batch):
        begin()
        for p in params_list[i:i + batch]:
            ex(sql, p)
            got += fetch(cur)
        commit()
    cur.close()
    return got


def fetch_one(cur):
    return cur.fetchone() is not None


def fetch_all(cur):
    return len(cur.fetchall())


def fetch_rowcount(cur):
    return cur.rowcount


def wl_insert(eng, data, args):
    cur = eng.cursor()
    eng.begin()
    cur.executemany(SQL["insert"], data.rows)
    eng.commit()
    cur.close()
    return data.n


def make_db(eng):
    eng.connect()
    cur = eng.cursor()
    eng.begin()
    for s in SCHEMA:
        cur.execute(s)
    eng.commit()
    cur.close()


def wl_pk_select(eng, data, args):
    return batched(eng, SQL["pk_select"], [(i,) for i in data.point_ids], args.batch,
                   fetch_one)


def wl_pk_range(eng, data, args):
    return batched(eng, SQL["pk_range"], [(s, s + RANGE) for s in data.range_starts],
                   args.batch, fetch_all)


def wl_index_lookup(eng, data, args):
    return batched(eng, SQL["index_lookup"], [(k,) for k in data.lookup_keys],
                   args.batch, fetch_all)


def wl_scan_filter(eng, data, args):
    cur = eng.cursor()
    eng.begin()
    n = len(cur.execute(SQL["scan_filter"]).fetchall())
    eng.commit()
    cur.close()
    return n


def wl_update(eng, data, args, params=None):
    return batched(eng, SQL["update"], params or data.update_params, args.batch,
                   fetch_rowcount)


def wl_delete(eng, data, args, ids=None):
    return batched(eng, SQL["delete"], [(i,) for i in (ids or data.delete_ids)],
                   args.batch, fetch_rowcount)


FUNCS = {"insert": wl_insert, "pk_select": wl_pk_select, "pk_range": wl_pk_range,
         "index_lookup": wl_index_lookup, "scan_filter": wl_scan_filter,
         "update": wl_update, "delete": wl_delete}


def expected(wl, data, args):
    """(ops counted in the rate, expected check value)"""
    return {
        "insert": (data.n, data.n),
        "pk_select": (len(data.point_ids), len(data.point_ids)),
        "pk_range": (len(data.range_starts), len(data.range_starts) * RANGE),
        "index_lookup": (len(data.lookup_keys), len(data.lookup_keys)),
        "scan_filter": (data.n, data.match_scan),
        "update": (len(data.update_params), len(data.update_params)),
        "delete": (len(data.delete_ids), len(data.delete_ids)),
    }[wl]


# ---- the runner ----------------------------------------------------------------------

class Runner:
    def __init__(self, args):
        self.args = args
        self.root = tempfile.mkdtemp(prefix="lightning-bench-sql-", dir=args.tmpdir)
        self.data = None
        self.engines = {}       # name -> engine holding the main database (connected)
        self.results = {}       # workload -> engine -> dict(ops, secs, rate)
        self.warmed = set()

    def log(self, msg):
        if not self.args.quiet:
            print(msg, file=sys.stderr, flush=True)

    def fresh(self, cls, tag):
        path = os.path.join(self.root, f"{cls.name}-{tag}")
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        return cls(path)

    def record(self, wl, name, ops, secs):
        rate = ops / secs if secs > 0 else float("inf")
        self.results.setdefault(wl, {})[name] = dict(ops=ops, secs=secs, rate=rate)
        self.log(f"  {name:<10} {wl:<13} {rate:>12,.0f}/s  ({ops} in {secs:.3f}s)")

    def check(self, wl, name, got):
        want = expected(wl, self.data, self.args)[1]
        if got != want:
            raise SystemExit(f"{name} {wl}: check value {got}, expected {want}")

    def build(self, cls, timed):
        eng = self.fresh(cls, "main")
        make_db(eng)
        gc.collect()
        t0 = time.perf_counter()
        got = wl_insert(eng, self.data, self.args)
        secs = time.perf_counter() - t0
        self.check("insert", cls.name, got)
        if timed:
            self.record("insert", cls.name, self.data.n, secs)
        else:
            self.log(f"  [{cls.name}] setup: untimed insert of {self.data.n} rows")
        self.engines[cls.name] = eng

    def warm(self, eng):
        if eng.name in self.warmed:
            return
        cur = eng.cursor()
        eng.begin()
        n = sum(1 for _ in cur.execute("SELECT id, k, a, b, c FROM t"))
        eng.commit()
        cur.close()
        if n != self.data.n:
            raise SystemExit(f"{eng.name}: full scan saw {n} rows, expected {self.data.n}")
        got = batched(eng, SQL["pk_select"], [(i,) for i in self.data.warm_ids],
                      self.args.batch, fetch_one)
        if got != len(self.data.warm_ids):
            raise SystemExit(f"{eng.name}: warm-up found {got} rows")
        self.warmed.add(eng.name)

    def run(self, workloads):
        self.log(f"generating {self.args.rows:,} rows ...")
        self.data = Data(self.args.rows, self.args)
        for wl in workloads:
            self.log(f"[{wl}]")
            for cls in ENGINES:
                if wl == "insert":
                    self.build(cls, timed=True)
                    continue
                if cls.name not in self.engines:
                    self.build(cls, timed=False)
                eng = self.engines[cls.name]
                self.warm(eng)
                ops = expected(wl, self.data, self.args)[0]
                best = None
                reps = self.args.repeat if wl in ("pk_select", "pk_range", "index_lookup",
                                                  "scan_filter") else 1
                for _ in range(reps):
                    gc.collect()
                    t0 = time.perf_counter()
                    got = FUNCS[wl](eng, self.data, self.args)
                    secs = time.perf_counter() - t0
                    self.check(wl, cls.name, got)
                    best = secs if best is None else min(best, secs)
                self.record(wl, cls.name, ops, best)
        # The two engines must hold the same rows at the end.
        counts = {}
        for name, eng in self.engines.items():
            cur = eng.cursor()
            eng.begin()
            counts[name] = cur.execute("SELECT count(*), sum(a) FROM t").fetchone()
            eng.commit()
            cur.close()
        if len(set(counts.values())) > 1:
            raise SystemExit(f"engines disagree at the end: {counts}")
        self.final_counts = counts

    def profile(self, wl):
        """Run `wl` once more for lightning under cProfile; return the printed stats."""
        args, data = self.args, self.data
        if wl == "insert":
            eng = self.fresh(LightningEngine, "profile")
            make_db(eng)
            fn = lambda: wl_insert(eng, data, args)   # noqa: E731
        else:
            if "lightning" not in self.engines:
                self.build(LightningEngine, timed=False)
            eng = self.engines["lightning"]
            self.warm(eng)
            if wl == "delete":
                fn = lambda: wl_delete(eng, data, args, data.delete_ids_profile)  # noqa
            elif wl == "update":
                params = [(a + 1, c, i) for (a, c, i) in data.update_params]
                fn = lambda: wl_update(eng, data, args, params)   # noqa: E731
            else:
                fn = lambda: FUNCS[wl](eng, data, args)   # noqa: E731
        gc.collect()
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        fn()
        prof.disable()
        secs = time.perf_counter() - t0
        out = io.StringIO()
        st = pstats.Stats(prof, stream=out)
        st.sort_stats("cumulative").print_stats(25)
        out.write("\n--- top 25 by own time (tottime) ---\n")
        st.sort_stats("tottime").print_stats(25)
        ops = expected(wl, data, args)[0]
        head = (f"cProfile of lightning {wl}: {ops:,} ops in {secs:.3f}s under the "
                f"profiler ({ops / secs:,.0f}/s; profiling overhead included)")
        if wl == "insert":
            eng.close()
        return head + "\n" + out.getvalue()

    def close(self):
        for eng in self.engines.values():
            eng.close()
        if not self.args.keep:
            shutil.rmtree(self.root, ignore_errors=True)


# ---- report ---------------------------------------------------------------------------

def fmt_rate(r):
    return "-" if r is None else f"{r:,.0f}"


def report(runner, workloads, args):
    out = []
    out.append(f"bench_sql: {args.rows:,} rows; python {platform.python_version()}, "
               f"lightning {LightningEngine.version()}, sqlite {SqliteEngine.version()}; "
               f"{platform.machine()}, {os.cpu_count()} cpus")
    out.append(f"durability: lightning sync=normal vs sqlite3 WAL + synchronous=NORMAL; "
               f"{args.batch} statements per transaction after the insert; "
               f"point ops {args.point_ops:,}, ranges {args.ranges:,}, "
               f"writes {args.write_ops:,}; best of {args.repeat} for reads")
    out.append("")
    out.append("| workload | lightning ops/s | sqlite3 ops/s | ratio |")
    out.append("|---|---:|---:|---:|")
    label = {w[0]: (w[1], w[2], w[3]) for w in WORKLOADS}
    res = runner.results
    for wl in workloads:
        text, unit, _t = label[wl]
        lr = res.get(wl, {}).get("lightning", {}).get("rate")
        sr = res.get(wl, {}).get("sqlite3", {}).get("rate")
        ratio = f"{lr / sr:.2f}x" if lr and sr else "-"
        out.append(f"| {wl}: {text} ({unit}) | {fmt_rate(lr)} | {fmt_rate(sr)} | {ratio} |")
    out.append("")
    out.append("Targets (issue 4): point operations >= 0.8x sqlite3, bulk insert >= 0.5x:")
    out.append("")
    any_t = False
    for wl in workloads:
        t = label[wl][2]
        lr = res.get(wl, {}).get("lightning", {}).get("rate")
        sr = res.get(wl, {}).get("sqlite3", {}).get("rate")
        if lr is None or sr is None:
            continue
        if t is None:
            out.append(f"- (info) {wl}: {lr / sr:.2f}x sqlite3 (no target)")
            continue
        any_t = True
        ok = lr >= t * sr
        out.append(f"- {'PASS' if ok else 'MISS'} {wl}: lightning {lr:,.0f}/s vs sqlite3 "
                   f"{sr:,.0f}/s = {lr / sr:.2f}x (target >= {t}x)")
    if not any_t:
        out.append("- (no target workloads run)")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=200_000, help="rows in the table")
    ap.add_argument("--only", default=None,
                    help="comma-separated workloads: " + ",".join(WORKLOAD_NAMES))
    ap.add_argument("--profile", default=None, metavar="WORKLOAD",
                    help="also run WORKLOAD for lightning under cProfile, print top 25")
    ap.add_argument("--batch", type=int, default=100,
                    help="statements per transaction after the insert (default 100)")
    ap.add_argument("--point-ops", type=int, default=50_000,
                    help="pk_select and index_lookup statements (default 50,000)")
    ap.add_argument("--ranges", type=int, default=5_000, help="pk_range statements")
    ap.add_argument("--write-ops", type=int, default=20_000,
                    help="update and delete statements (default 20,000)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="timed passes for the read workloads; the best is reported")
    ap.add_argument("--tmpdir", default=None, help="where the temp dirs go")
    ap.add_argument("--keep", action="store_true", help="keep the databases")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = ap.parse_args(argv)
    if args.rows < 2 * args.write_ops or args.rows <= RANGE:
        ap.error("--rows must be > 100 and >= 2 * --write-ops (delete ids are distinct)")

    workloads = WORKLOAD_NAMES if not args.only else [w.strip() for w in
                                                       args.only.split(",") if w.strip()]
    bad = [w for w in workloads + ([args.profile] if args.profile else [])
           if w not in WORKLOAD_NAMES]
    if bad:
        ap.error(f"unknown workload(s) {bad}; choose from {WORKLOAD_NAMES}")
    workloads = [w for w in WORKLOAD_NAMES if w in workloads]   # canonical order

    runner = Runner(args)
    try:
        runner.run(workloads)
        text = report(runner, workloads, args)
        prof = runner.profile(args.profile) if args.profile else None
    finally:
        runner.close()
    print(text)
    if prof:
        print()
        print(prof)


if __name__ == "__main__":
    main()
