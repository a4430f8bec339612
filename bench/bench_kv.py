"""Key-value benchmark: lightning against sqlite3 and lmdb, same data, one run.

What it measures (ops/s unless stated; every workload on every engine in one process,
engines interleaved per workload so they see the same machine conditions):

  seq_load      sorted keys, batches of 1000 puts per batch/transaction
  rand_load     the same keys in random order, batches of 1000
  get_hits      random gets, every key present (a random permutation of the key space)
  get_half_miss random gets, half of them absent keys drawn from the same key space
  full_scan     iterate every (key, value) in key order (keys/s)
  range_scan    100-key range scans from random start keys (scans/s)
  put_off       single-put commits, sync off (each put its own commit), random keys
  put_full_1t   single-put commits, sync full, 1 thread
  put_full_8t   single-put commits, sync full, 8 threads (group commit)
  mix_90_10     90% random gets / 10% single-put commits (sync off), random keys

Data: N keys (default 1,000,000, --n) of 16 random bytes, values of 100 random
(incompressible) bytes (--values text: JSON-like, compressible), from a fixed seed. Get latency is measured per call
with time.perf_counter_ns over a separate sample of random keys spread over the whole
key space (never one hot key) and reported as p50/p99/p99.9 of the sorted samples.

Engines: lightning (this repo), sqlite3 (a `kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT
ROWID` table, WAL mode, synchronous OFF/NORMAL/FULL matching lightning's sync mode),
lmdb (py-lmdb, if importable; sync/metasync matching: off = sync=False,metasync=False;
normal = sync=True,metasync=False (LMDB has no timed background sync); full =
sync=True,metasync=True). Each engine's data lives in its own fresh temp dir; each
workload opens the database, runs, and closes it. Read workloads run on the database
built by rand_load, after an untimed warm-up (one full scan plus 50,000 random gets).
Each engine uses its own idiomatic bulk path (lightning Batch.put_many, sqlite executemany,
lmdb putmulti). Caches: lightning cache_size and sqlite cache_size both --cache-mb
(default 64 MiB, lightning's default); lmdb maps the file (the OS page cache).

Usage:  python bench/bench_kv.py [--n 1000000] [--only get_hits,full_scan]
                                 [--engines lightning,sqlite3,lmdb] [--json out.json]
Numbers from noisy shared machines: compare the ratios within one run.
"""

import argparse
import gc
import json
import os
import platform
import random
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from itertools import islice

KEY_SIZE = 16
VALUE_SIZE = 100
BATCH = 1000
SEED = 20240601

WORKLOADS = [
    # name, label, unit, lightning sync mode
    ("seq_load", "sequential bulk load (batches of 1000)", "keys/s", "bulk"),
    ("rand_load", "random-order bulk load (batches of 1000)", "keys/s", "bulk"),
    ("get_hits", "random get, all hits", "gets/s", "bulk"),
    ("get_half_miss", "random get, half misses", "gets/s", "bulk"),
    ("full_scan", "full scan", "keys/s", "bulk"),
    ("range_scan", "range scan, 100 keys from random start", "scans/s", "bulk"),
    ("put_off", "single-put commits, sync=off", "commits/s", "off"),
    ("put_full_1t", "single-put commits, sync=full, 1 thread", "commits/s", "full"),
    ("put_full_8t", "single-put commits, sync=full, 8 threads", "commits/s", "full"),
    ("mix_90_10", "90/10 get/put mix (puts sync=off commits)", "ops/s", "off"),
]
WORKLOAD_NAMES = [w[0] for w in WORKLOADS]


# ---- engines --------------------------------------------------------------------------
# Each adapter: open(sync) / close(), plus the operations the workloads need. The hot
# callables (getter, putter) are returned bound so the timed loops are the same shape for
# every engine: `for k in keys: get(k)`.

class LightningEngine:
    name = "lightning"

    def __init__(self, path, args):
        import lightning
        self.mod = lightning
        self.path = path
        self.args = args
        self.db = None

    @staticmethod
    def version():
        import lightning
        return lightning.__version__

    def open(self, sync):
        self.db = self.mod.open(self.path, sync=sync,
                                cache_size=self.args.cache_mb << 20)

    def close(self):
        self.db.close()
        self.db = None

    def load(self, items):
        db = self.db
        for i in range(0, len(items), BATCH):
            with db.batch() as b:
                b.put_many(items[i:i + BATCH])   # the bulk call, as lmdb's putmulti

    def settle(self):
        """Wait until background flushes and compactions stop (bounded)."""
        return wait_stable(lambda: self._progress(), limit=180.0)

    def _progress(self):
        s = self.db.stats()
        return (s.get("compactions"), s.get("flushes"), s.get("table_files"),
                s.get("trivial_moves"))

    def getter(self):
        return self.db.get

    def putter(self):
        return self.db.put

    def thread_putter(self):
        return self.db.put   # one Database shared by all threads

    def full_scan(self):
        n = 0
        for _k, _v in self.db.scan():
            n += 1
        return n

    def range_scan(self, start, count):
        n = 0
        for _k, _v in self.db.scan(start, limit=count):
            n += 1
        return n



class SqliteEngine:
    name = "sqlite3"
    SYNC = {"off": "OFF", "normal": "NORMAL", "full": "FULL"}

    def __init__(self, path, args):
        os.makedirs(path, exist_ok=True)
        self.path = path
        self.file = os.path.join(path, "kv.sqlite")
        self.args = args
        self.conn = None
        self.sync = None
        self._tls = threading.local()
        self._conns = []
        self._lock = threading.Lock()

    @staticmethod
    def version():
        return sqlite3.sqlite_version

    def _connect(self):
        conn = sqlite3.connect(self.file, isolation_level=None, check_same_thread=False,
                               timeout=60.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.SYNC[self.sync]}")
        conn.execute(f"PRAGMA cache_size=-{self.args.cache_mb * 1024}")
        conn.execute("PRAGMA busy_timeout=60000")
        return conn

    def open(self, sync):
        self.sync = sync
        self.conn = self._connect()
        self.conn.execute("CREATE TABLE IF NOT EXISTS kv(k BLOB PRIMARY KEY, v BLOB) "
                          "WITHOUT ROWID")

    def close(self):
        for c in self._conns:
            c.close()
        self._conns = []
        self._tls = threading.local()
        self.conn.close()
        self.conn = None

    def load(self, items):
        conn = self.conn
        ins = "INSERT OR REPLACE INTO kv(k, v) VALUES (?, ?)"
        for i in range(0, len(items), BATCH):
            conn.execute("BEGIN")
            conn.executemany(ins, items[i:i + BATCH])
            conn.execute("COMMIT")

    def settle(self):
        t = time.perf_counter()
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return time.perf_counter() - t

    def getter(self):
        cur = self.conn.cursor()
        ex = cur.execute
        sql = "SELECT v FROM kv WHERE k = ?"

        def get(k):
            row = ex(sql, (k,)).fetchone()
            return None if row is None else row[0]
        return get

    def putter(self):
        ex = self.conn.execute
        sql = "INSERT OR REPLACE INTO kv(k, v) VALUES (?, ?)"

        def put(k, v):
            ex(sql, (k, v))   # autocommit: each statement is its own transaction
        return put

    def thread_putter(self):
        """A put callable that uses one connection per calling thread."""
        sql = "INSERT OR REPLACE INTO kv(k, v) VALUES (?, ?)"
        tls = self._tls

        def put(k, v):
            try:
                conn = tls.conn
            except AttributeError:
                conn = tls.conn = self._connect()
                with self._lock:
                    self._conns.append(conn)
            conn.execute(sql, (k, v))
        return put

    def full_scan(self):
        n = 0
        for _k, _v in self.conn.execute("SELECT k, v FROM kv ORDER BY k"):
            n += 1
        return n

    def range_scan(self, start, count):
        n = 0
        for _k, _v in self.conn.execute(
                "SELECT k, v FROM kv WHERE k >= ? ORDER BY k LIMIT ?", (start, count)):
            n += 1
        return n



class LmdbEngine:
    name = "lmdb"
    SYNC = {"off": (False, False), "normal": (True, False), "full": (True, True)}

    def __init__(self, path, args):
        import lmdb
        self.mod = lmdb
        self.path = path
        self.env = None
        self.rtxn = None

    @staticmethod
    def version():
        import lmdb
        return "%s (py-lmdb %s)" % (".".join(map(str, lmdb.version())), lmdb.__version__)

    def open(self, sync):
        s, ms = self.SYNC[sync]
        self.env = self.mod.open(self.path, map_size=64 << 30, sync=s, metasync=s and ms,
                                 max_readers=256)

    def close(self):
        if self.rtxn is not None:
            self.rtxn.abort()
            self.rtxn = None
        self.env.close()
        self.env = None

    def load(self, items):
        env = self.env
        for i in range(0, len(items), BATCH):
            with env.begin(write=True) as txn:
                txn.cursor().putmulti(items[i:i + BATCH])

    def settle(self):
        t = time.perf_counter()
        self.env.sync(True)
        return time.perf_counter() - t

    def _reader(self):
        if self.rtxn is None:
            self.rtxn = self.env.begin(buffers=False)
        return self.rtxn

    def getter(self):
        # One long read transaction, as an LMDB reader would use: gets are then plain
        # B-tree lookups in the map.
        return self._reader().get

    def putter(self):
        begin = self.env.begin

        def put(k, v):
            with begin(write=True) as txn:
                txn.put(k, v)
        return put

    def mix_callables(self):
        # A mix must see its own writes: a fresh read txn per get.
        env = self.env

        def get(k):
            with env.begin() as txn:
                return txn.get(k)
        return get, self.putter()

    thread_putter = putter

    def full_scan(self):
        n = 0
        with self.env.begin() as txn:
            for _k, _v in txn.cursor():
                n += 1
        return n

    def range_scan(self, start, count):
        n = 0
        cur = self._reader().cursor()
        if cur.set_range(start):
            for _k, _v in islice(cur.iternext(), count):
                n += 1
        return n



ENGINES = {"lightning": LightningEngine, "sqlite3": SqliteEngine, "lmdb": LmdbEngine}


def wait_stable(probe, limit, quiet=1.0, step=0.1):
    """Poll `probe()` until its value has not changed for `quiet` seconds (or `limit`
    seconds pass); return the seconds waited."""
    t0 = time.perf_counter()
    last = probe()
    since = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        time.sleep(step)
        cur = probe()
        if cur != last:
            last, since = cur, time.perf_counter()
        elif time.perf_counter() - since >= quiet:
            break
    return time.perf_counter() - t0 - quiet


def dir_size(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.stat(os.path.join(root, f)).st_size
            except FileNotFoundError:
                pass
    return total


# ---- data -----------------------------------------------------------------------------

def text_value(i, rnd):
    """A JSON-like VALUE_SIZE-byte record (compressible, like application data)."""
    v = (b'{"id":%d,"name":"user%d","email":"user%d@example.com","active":true,'
         b'"score":%d,"tags":["a","b"]}' % (i, i, i, rnd.randrange(1000)))
    return (v + b" " * VALUE_SIZE)[:VALUE_SIZE]


class Data:
    def __init__(self, n, seed=SEED, values="random"):
        rnd = random.Random(seed)
        raw = rnd.randbytes(KEY_SIZE * n)
        keys = {raw[i:i + KEY_SIZE] for i in range(0, len(raw), KEY_SIZE)}
        while len(keys) < n:   # 128-bit random keys: collisions are essentially never
            keys.add(rnd.randbytes(KEY_SIZE))
        self.sorted_keys = sorted(keys)
        if values == "text":
            self.values = [text_value(i, rnd) for i in range(n)]
        else:
            vraw = rnd.randbytes(VALUE_SIZE * n)
            self.values = [vraw[i:i + VALUE_SIZE] for i in range(0, len(vraw), VALUE_SIZE)]
        self.value_of = dict(zip(self.sorted_keys, self.values))
        self.seq_items = list(zip(self.sorted_keys, self.values))
        self.rand_items = self.seq_items[:]
        rnd.shuffle(self.rand_items)
        misses = set()
        while len(misses) < n:
            k = rnd.randbytes(KEY_SIZE)
            if k not in self.value_of:
                misses.add(k)
        self.miss_keys = list(misses)
        self.rnd = rnd

    def perm(self, count):
        """`count` hit keys in random order, drawn without replacement while possible."""
        out = []
        while len(out) < count:
            keys = self.sorted_keys[:]
            self.rnd.shuffle(keys)
            out.extend(keys[:count - len(out)])
        return out

    def half_miss(self, count):
        hits = self.perm(count - count // 2)
        misses = [self.miss_keys[self.rnd.randrange(len(self.miss_keys))]
                  for _ in range(count // 2)]
        keys = hits + misses
        self.rnd.shuffle(keys)
        return keys

    def new_value(self, i):
        return (b"%08d" % i) * (VALUE_SIZE // 8) + b"u" * (VALUE_SIZE % 8)


# ---- timing ---------------------------------------------------------------------------

def percentiles(samples):
    s = sorted(samples)
    n = len(s)

    def p(q):
        return s[min(n - 1, int(q * n))]
    return {"p50": p(0.50), "p99": p(0.99), "p99.9": p(0.999), "max": s[-1],
            "n": n}


def timer_overhead_ns():
    pc = time.perf_counter_ns
    lat = []
    for _ in range(100000):
        t0 = pc()
        t1 = pc()
        lat.append(t1 - t0)
    lat.sort()
    return lat[len(lat) // 2]


def measure_latency(get, keys):
    pc = time.perf_counter_ns
    lat = [0] * len(keys)
    i = 0
    for k in keys:
        t0 = pc()
        get(k)
        lat[i] = pc() - t0
        i += 1
    return percentiles(lat)


# ---- the runner ----------------------------------------------------------------------

class Runner:
    def __init__(self, args, engines):
        self.args = args
        self.root = tempfile.mkdtemp(prefix="lightning-bench-", dir=args.tmpdir)
        self.engines = engines
        self.data = None
        self.loaded = {}          # engine name -> path of its rand_load database
        self.results = {}         # workload -> engine -> dict
        self.latency = {}         # workload -> engine -> percentiles
        self.modified = set()     # engines whose main database was overwritten

    def log(self, msg):
        if not self.args.quiet:
            print(msg, file=sys.stderr, flush=True)

    def fresh(self, cls, tag):
        path = os.path.join(self.root, f"{cls.name}-{tag}")
        shutil.rmtree(path, ignore_errors=True)
        return cls(path, self.args)

    def main_db(self, cls):
        """The engine's database holding all N keys (built by rand_load; built untimed
        here when rand_load was not selected)."""
        if cls.name not in self.loaded:
            self.log(f"  [{cls.name}] setup: untimed random-order load of {self.args.n} keys")
            eng = self.fresh(cls, "main")
            eng.open(self.args.bulk_sync)
            eng.load(self.data.rand_items)
            eng.settle()
            eng.close()
            self.loaded[cls.name] = eng.path
        return cls(self.loaded[cls.name], self.args)

    def record(self, wl, cls, ops, secs, **extra):
        rate = ops / secs if secs > 0 else float("inf")
        self.results.setdefault(wl, {})[cls.name] = dict(ops=ops, secs=secs, rate=rate,
                                                         **extra)
        more = "".join(f" {k}={v}" for k, v in extra.items())
        self.log(f"  {cls.name:<10} {wl:<14} {rate:>14,.0f}/s  ({ops} in {secs:.3f}s){more}")

    # -- workloads --

    def run_load(self, wl, cls):
        items = self.data.seq_items if wl == "seq_load" else self.data.rand_items
        eng = self.fresh(cls, "main" if wl == "rand_load" else wl)
        eng.open(self.args.bulk_sync)
        gc.collect()
        t0 = time.perf_counter()
        eng.load(items)
        secs = time.perf_counter() - t0
        settle = eng.settle()
        t1 = time.perf_counter()
        eng.close()
        close = time.perf_counter() - t1
        size = dir_size(eng.path)
        self.record(wl, cls, len(items), secs, settle_s=round(settle, 2),
                    close_s=round(close, 2), disk_mb=round(size / 1e6, 1))
        if wl == "rand_load":
            self.loaded[cls.name] = eng.path
        else:
            shutil.rmtree(eng.path, ignore_errors=True)

    def warm(self, eng):
        n = eng.full_scan()
        if n != self.args.n:
            raise SystemExit(f"{eng.name}: full scan saw {n} keys, expected {self.args.n}")
        get = eng.getter()
        vo = self.data.value_of
        # Values are checked until a write workload has overwritten some of them.
        check = eng.name not in self.modified
        for k in self.data.perm(min(50000, self.args.n)):
            v = get(k)
            if v is None or (check and v != vo[k]):
                raise SystemExit(f"{eng.name}: wrong value for key {k.hex()}")

    def run_gets(self, wl, cls):
        eng = self.main_db(cls)
        eng.open(self.args.bulk_sync)
        self.warm(eng)
        get = eng.getter()
        if wl == "get_hits":
            keys = self.data.perm(self.args.get_ops)
            lat_keys = self.data.perm(self.args.latency_sample)
        else:
            keys = self.data.half_miss(self.args.get_ops)
            lat_keys = self.data.half_miss(self.args.latency_sample)
        best = None
        for _ in range(self.args.repeat):
            gc.collect()
            t0 = time.perf_counter()
            for k in keys:
                get(k)
            secs = time.perf_counter() - t0
            best = secs if best is None else min(best, secs)
        # Correctness of what was timed: count hits over the same keys (untimed).
        hits = sum(1 for k in keys if get(k) is not None)
        expect = len(keys) if wl == "get_hits" else len(keys) - len(keys) // 2
        if hits != expect:
            raise SystemExit(f"{cls.name} {wl}: {hits} hits, expected {expect}")
        gc.collect()
        self.latency.setdefault(wl, {})[cls.name] = measure_latency(get, lat_keys)
        self.record(wl, cls, len(keys), best)
        eng.close()

    def run_full_scan(self, wl, cls):
        eng = self.main_db(cls)
        eng.open(self.args.bulk_sync)
        eng.full_scan()   # warm-up pass
        best = None
        for _ in range(self.args.repeat):
            gc.collect()
            t0 = time.perf_counter()
            n = eng.full_scan()
            secs = time.perf_counter() - t0
            best = secs if best is None else min(best, secs)
        if n != self.args.n:
            raise SystemExit(f"{cls.name}: full scan saw {n} keys, expected {self.args.n}")
        self.record(wl, cls, n, best)
        eng.close()

    def run_range_scan(self, wl, cls):
        eng = self.main_db(cls)
        eng.open(self.args.bulk_sync)
        self.warm(eng)
        starts = self.data.perm(self.args.range_scans)
        # Random starts near the end return fewer than 100 keys; count what came back.
        best = None
        for _ in range(self.args.repeat):
            gc.collect()
            total = 0
            rs = eng.range_scan
            t0 = time.perf_counter()
            for s in starts:
                total += rs(s, 100)
            secs = time.perf_counter() - t0
            best = secs if best is None else min(best, secs)
        self.record(wl, cls, len(starts), best, keys_per_scan=round(total / len(starts), 1))
        eng.close()

    def run_put_off(self, wl, cls):
        self.modified.add(cls.name)
        eng = self.main_db(cls)
        eng.open("off")
        put = eng.putter()
        keys = self.data.perm(self.args.put_ops)
        vals = [self.data.new_value(i) for i in range(len(keys))]
        gc.collect()
        t0 = time.perf_counter()
        for k, v in zip(keys, vals):
            put(k, v)
        secs = time.perf_counter() - t0
        get = eng.getter() if cls.name != "lmdb" else eng.mix_callables()[0]
        if get(keys[-1]) != vals[-1]:
            raise SystemExit(f"{cls.name} {wl}: last put not visible")
        self.record(wl, cls, len(keys), secs)
        eng.close()

    def run_put_full(self, wl, cls):
        self.modified.add(cls.name)
        threads = 8 if wl == "put_full_8t" else 1
        eng = self.main_db(cls)
        eng.open("full")
        per_thread = self.args.commits_per_thread
        deadline_s = self.args.commit_seconds
        keys = self.data.perm(per_thread * threads)
        counts = [0] * threads
        errors = []
        start = threading.Barrier(threads + 1)

        def worker(t):
            put = eng.thread_putter()
            mine = keys[t * per_thread:(t + 1) * per_thread]
            val = self.data.new_value(t)
            try:
                start.wait()
                end = time.perf_counter() + deadline_s
                n = 0
                for k in mine:
                    put(k, val)
                    n += 1
                    if (n & 15) == 0 and time.perf_counter() > end:
                        break
                counts[t] = n
            except BaseException as e:   # reported after join
                errors.append(repr(e))

        ths = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
        for th in ths:
            th.start()
        start.wait()
        t0 = time.perf_counter()
        for th in ths:
            th.join()
        secs = time.perf_counter() - t0
        if errors:
            raise SystemExit(f"{cls.name} {wl}: {errors[0]}")
        extra = {}
        if cls.name == "lightning":
            s = eng.db.stats()
            extra = {"wal_syncs": s.get("wal_syncs"), "write_groups": s.get("write_groups")}
        self.record(wl, cls, sum(counts), secs, threads=threads, **extra)
        eng.close()

    def run_mix(self, wl, cls):
        self.modified.add(cls.name)
        eng = self.main_db(cls)
        eng.open("off")
        self.warm(eng)
        if cls.name == "lmdb":
            get, put = eng.mix_callables()
        else:
            get, put = eng.getter(), eng.putter()
        rnd = self.data.rnd
        keys = self.data.perm(self.args.mix_ops)
        is_put = [rnd.random() < 0.10 for _ in keys]
        val = self.data.new_value(7)
        gc.collect()
        t0 = time.perf_counter()
        for k, w in zip(keys, is_put):
            if w:
                put(k, val)
            else:
                get(k)
        secs = time.perf_counter() - t0
        self.record(wl, cls, len(keys), secs, puts=sum(is_put))
        eng.close()

    def run(self, workloads):
        t = time.perf_counter()
        self.log(f"generating {self.args.n} keys ...")
        self.data = Data(self.args.n, values=self.args.values)
        gc.collect()
        gc.freeze()
        self.log(f"  done in {time.perf_counter() - t:.1f}s; temp dir {self.root}")
        dispatch = {"seq_load": self.run_load, "rand_load": self.run_load,
                    "get_hits": self.run_gets, "get_half_miss": self.run_gets,
                    "full_scan": self.run_full_scan, "range_scan": self.run_range_scan,
                    "put_off": self.run_put_off, "put_full_1t": self.run_put_full,
                    "put_full_8t": self.run_put_full, "mix_90_10": self.run_mix}
        try:
            for wl in workloads:
                self.log(f"== {wl}")
                for cls in self.engines:
                    dispatch[wl](wl, cls)
        finally:
            if not self.args.keep:
                shutil.rmtree(self.root, ignore_errors=True)


# ---- report ---------------------------------------------------------------------------

def fmt_rate(r):
    return "—" if r is None else f"{r:,.0f}"


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}x"


def machine_info():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) // 1024} MiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (f"nproc={os.cpu_count()}, {cpu}, {mem}, Python {platform.python_version()} "
            f"({platform.python_implementation()}), {platform.system()} "
            f"{platform.release()}")


def report(runner, workloads, engine_classes, args):
    res = runner.results
    names = [c.name for c in engine_classes]
    out = []
    out.append("## Lightning KV benchmark")
    out.append("")
    out.append(f"- machine: {machine_info()}")
    vers = []
    for c in engine_classes:
        vers.append(f"{c.name} {c.version()}")
    out.append(f"- engines: {', '.join(vers)}")
    if "lmdb" not in names and "lmdb" in args.engines_requested:
        out.append("- lmdb: not importable, skipped (pip install lmdb)")
    kind = ("random (incompressible)" if args.values == "random"
            else "JSON-like text (compressible)")
    out.append(f"- data: N={args.n:,} keys, {KEY_SIZE}-byte random keys, {VALUE_SIZE}-byte "
               f"{kind} values; raw key+value bytes "
               f"{args.n * (KEY_SIZE + VALUE_SIZE) / 1e6:.0f} MB")
    out.append(f"- sync: loads, gets, scans: sync={args.bulk_sync}; put_off and mix: "
               f"sync=off; put_full_*: sync=full. sqlite3 synchronous and lmdb "
               f"sync/metasync set to match (see docstring)")
    out.append(f"- caches: lightning cache_size={args.cache_mb} MiB, default memtable; "
               f"sqlite3 cache_size={args.cache_mb} MiB; lmdb = mmap/OS page cache")
    out.append(f"- reads run on the rand_load database after an untimed warm-up (one full "
               f"scan + 50,000 random gets); best of {args.repeat} timed pass(es) for "
               f"gets and scans; gets: {args.get_ops:,} random keys per pass")
    out.append("")
    header = ["workload", "sync"] + [f"{n} ops/s" for n in names]
    peers = [n for n in names if n != "lightning"]
    if "lightning" in names:
        header += [f"lightning/{p}" for p in peers]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|")
    label = {w[0]: (w[1], w[2], w[3]) for w in WORKLOADS}
    for wl in workloads:
        text, unit, sync = label[wl]
        sync = args.bulk_sync if sync == "bulk" else sync
        r = res.get(wl, {})
        row = [f"{wl}: {text} ({unit})", sync]
        row += [fmt_rate(r.get(n, {}).get("rate")) for n in names]
        if "lightning" in names:
            lr = r.get("lightning", {}).get("rate")
            row += [fmt_ratio(lr, r.get(p, {}).get("rate")) for p in peers]
        out.append("| " + " | ".join(row) + " |")
    out.append("")

    if runner.latency:
        out.append(f"Get latency per call (time.perf_counter_ns around each call, "
                   f"{args.latency_sample:,} random keys over the whole key space, "
                   f"sorted samples; timer overhead ~{runner.timer_ns} ns included):")
        out.append("")
        for wl in ("get_hits", "get_half_miss"):
            for n in names:
                p = runner.latency.get(wl, {}).get(n)
                if p:
                    out.append(f"- {wl:<13} {n:<10} p50 {p['p50'] / 1000:7.2f} us   "
                               f"p99 {p['p99'] / 1000:7.2f} us   p99.9 "
                               f"{p['p99.9'] / 1000:7.2f} us   max {p['max'] / 1000:9.1f} us")
        out.append("")

    extra_lines = []
    for wl in workloads:
        for n in names:
            r = res.get(wl, {}).get(n)
            if not r:
                continue
            ex = {k: v for k, v in r.items() if k not in ("ops", "secs", "rate")}
            if ex:
                extra_lines.append(f"- {wl} {n}: " + ", ".join(f"{k}={v}" for k, v in
                                                               ex.items()))
    if extra_lines:
        out.append("Details (settle = wait for background work after a load, not in the "
                   "rate; disk = directory size after close):")
        out.append("")
        out.extend(extra_lines)
        out.append("")

    out.append("Targets:")
    out.append("")
    out.extend(targets(res, names))
    return "\n".join(out)


def targets(res, names):
    lines = []

    def rate(wl, n):
        return res.get(wl, {}).get(n, {}).get("rate")

    def verdict(ok):
        return "PASS" if ok else "MISS"
    if "lightning" not in names:
        return ["- (lightning not run)"]
    for wl in ("get_hits", "get_half_miss"):
        lr = rate(wl, "lightning")
        if lr is None:
            continue
        lines.append(f"- {verdict(lr >= 1.1e6)} {wl}: lightning {lr:,.0f}/s >= 1,100,000/s")
        mr = rate(wl, "lmdb")
        if mr is not None:
            lines.append(f"- {verdict(lr >= mr)} {wl}: lightning {lr:,.0f}/s >= lmdb "
                         f"{mr:,.0f}/s ({lr / mr:.2f}x)")
    lr = rate("full_scan", "lightning")
    if lr is not None:
        lines.append(f"- {verdict(lr >= 5e6)} full_scan: lightning {lr:,.0f} keys/s >= "
                     f"5,000,000 keys/s")
    for wl in ("seq_load", "rand_load"):
        lr, mr = rate(wl, "lightning"), rate(wl, "lmdb")
        if lr is not None and mr is not None:
            lines.append(f"- {verdict(lr >= mr)} {wl}: lightning {lr:,.0f} keys/s >= lmdb "
                         f"{mr:,.0f} keys/s ({lr / mr:.2f}x)")
    r1, r8 = rate("put_full_1t", "lightning"), rate("put_full_8t", "lightning")
    if r1 is not None and r8 is not None:
        lines.append(f"- {verdict(r8 >= 4 * r1)} sync=full group commit: 8 threads "
                     f"{r8:,.0f}/s vs 1 thread {r1:,.0f}/s = {r8 / r1:.2f}x (target >= 4x)")
    for peer in names:
        if peer == "lightning":
            continue
        p1, p8 = rate("put_full_1t", peer), rate("put_full_8t", peer)
        if p1 and p8:
            lines.append(f"- (info) {peer} sync=full 8 threads / 1 thread = {p8 / p1:.2f}x")
    return lines or ["- (no target workloads run)"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="number of keys")
    ap.add_argument("--only", default=None,
                    help="comma-separated workloads: " + ",".join(WORKLOAD_NAMES))
    ap.add_argument("--engines", default="lightning,sqlite3,lmdb",
                    help="comma-separated engines (lmdb skipped if not importable)")
    ap.add_argument("--bulk-sync", default="off", choices=["off", "normal", "full"],
                    help="sync mode for loads, gets and scans (default off)")
    ap.add_argument("--values", default="random", choices=["random", "text"],
                    help="value bytes: random (incompressible, default) or JSON-like text")
    ap.add_argument("--cache-mb", type=int, default=64,
                    help="lightning and sqlite3 cache size in MiB (default 64)")
    ap.add_argument("--get-ops", type=int, default=None,
                    help="gets per timed pass (default min(n, 1,000,000))")
    ap.add_argument("--latency-sample", type=int, default=200_000,
                    help="gets timed one by one for p50/p99 (default 200,000)")
    ap.add_argument("--range-scans", type=int, default=20_000)
    ap.add_argument("--put-ops", type=int, default=100_000,
                    help="single-put commits with sync=off")
    ap.add_argument("--commits-per-thread", type=int, default=2_000,
                    help="sync=full commits per thread (bounded by --commit-seconds)")
    ap.add_argument("--commit-seconds", type=float, default=15.0,
                    help="stop each sync=full thread after this many seconds")
    ap.add_argument("--mix-ops", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=1,
                    help="timed passes for gets and scans; the best is reported")
    ap.add_argument("--tmpdir", default=None, help="where the temp dirs go")
    ap.add_argument("--keep", action="store_true", help="keep the databases")
    ap.add_argument("--json", default=None, help="also write raw results here")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = ap.parse_args(argv)
    if args.get_ops is None:
        args.get_ops = min(args.n, 1_000_000)

    workloads = WORKLOAD_NAMES if not args.only else [w.strip() for w in
                                                       args.only.split(",") if w.strip()]
    bad = [w for w in workloads if w not in WORKLOAD_NAMES]
    if bad:
        ap.error(f"unknown workload(s) {bad}; choose from {WORKLOAD_NAMES}")
    workloads = [w for w in WORKLOAD_NAMES if w in workloads]   # canonical order
    args.engines_requested = [e.strip() for e in args.engines.split(",") if e.strip()]
    classes = []
    for e in args.engines_requested:
        if e not in ENGINES:
            ap.error(f"unknown engine {e!r}; choose from {list(ENGINES)}")
        if e == "lmdb":
            try:
                import lmdb  # noqa: F401
            except ImportError:
                print("lmdb not importable: skipped", file=sys.stderr)
                continue
        classes.append(ENGINES[e])

    runner = Runner(args, classes)
    runner.timer_ns = timer_overhead_ns()
    runner.run(workloads)
    text = report(runner, workloads, classes, args)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": {k: v for k, v in vars(args).items()},
                       "machine": machine_info(), "results": runner.results,
                       "latency": runner.latency}, f, indent=1, default=str)


if __name__ == "__main__":
    main()
