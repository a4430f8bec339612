"""Transaction benchmark: lightning against sqlite3, same work, one run.

What it measures: commits/s and abort rate of read-modify-write transactions, for
`--seconds` per cell, from 1, 4 and 8 threads:

  single   read one random account, write it back incremented
  multi    read 4 random accounts, move an amount between two of them (2 writes)

Accounts: `--accounts` keys (default 1000, so contention grows with threads), values
are decimal integers. Engines:
  lightning-ser  Database.transaction(isolation="serializable"); a ConflictError counts
                 as an abort and the transaction is retried (lightning.retry's policy:
                 exponential backoff with jitter).
  lightning-si   the same with isolation="snapshot".
  sqlite3        one connection per thread, WAL mode, a kv(k BLOB PRIMARY KEY, v) WITHOUT
                 ROWID table, each transaction BEGIN IMMEDIATE ... COMMIT; a
                 "database is locked" error counts as an abort and is retried.
Durability matches: lightning sync="normal", sqlite synchronous=NORMAL (--sync full:
sync="full" / synchronous=FULL). Abort rate = aborts / (commits + aborts).

Usage:  python bench/bench_txn.py [--seconds 2] [--accounts 1000] [--sync normal]
Numbers from noisy shared machines: compare the ratios within one run.
"""

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import lightning  # noqa: E402


def lightning_runner(isolation):
    def run(path, workload, threads, seconds, accounts, sync):
        db = lightning.open(path, sync=sync)
        with db.batch() as b:
            for i in range(accounts):
                b.put(b"acct:%06d" % i, b"1000")
        keys = [b"acct:%06d" % i for i in range(accounts)]
        stop = time.monotonic() + seconds
        counts = [[0, 0] for _ in range(threads)]

        def worker(i):
            rnd = random.Random(i)
            c = counts[i]
            attempt = 0
            while time.monotonic() < stop:
                try:
                    with db.transaction(isolation=isolation) as t:
                        if workload == "single":
                            k = rnd.choice(keys)
                            t.put(k, b"%d" % (int(t.get(k)) + 1))
                        else:
                            ks = rnd.sample(keys, 4)
                            vals = [int(t.get(k)) for k in ks]
                            amount = rnd.randint(0, max(0, vals[0]))
                            t.put(ks[0], b"%d" % (vals[0] - amount))
                            t.put(ks[1], b"%d" % (vals[1] + amount))
                    c[0] += 1
                    attempt = 0
                except lightning.ConflictError:
                    c[1] += 1
                    time.sleep(random.uniform(0, min(0.01, 0.0005 * 2 ** attempt)))
                    attempt += 1

        ths = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        t0 = time.monotonic()
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        elapsed = time.monotonic() - t0
        db.close()
        return sum(c[0] for c in counts), sum(c[1] for c in counts), elapsed
    return run


def sqlite_run(path, workload, threads, seconds, accounts, sync):
    file = os.path.join(path, "db.sqlite")
    os.makedirs(path, exist_ok=True)
    con = sqlite3.connect(file, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE kv(k BLOB PRIMARY KEY, v INTEGER) WITHOUT ROWID")
    con.execute("BEGIN")
    con.executemany("INSERT INTO kv VALUES (?, 1000)",
                    [(b"acct:%06d" % i,) for i in range(accounts)])
    con.execute("COMMIT")
    con.close()
    keys = [b"acct:%06d" % i for i in range(accounts)]
    stop = time.monotonic() + seconds
    counts = [[0, 0] for _ in range(threads)]

    def worker(i):
        rnd = random.Random(i)
        c = counts[i]
        db = sqlite3.connect(file, isolation_level=None, timeout=0.05,
                             check_same_thread=False)
        db.execute(f"PRAGMA synchronous={'FULL' if sync == 'full' else 'NORMAL'}")
        get = "SELECT v FROM kv WHERE k = ?"
        put = "UPDATE kv SET v = ? WHERE k = ?"
        while time.monotonic() < stop:
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    if workload == "single":
                        k = rnd.choice(keys)
                        v = db.execute(get, (k,)).fetchone()[0]
                        db.execute(put, (v + 1, k))
                    else:
                        ks = rnd.sample(keys, 4)
                        vals = [db.execute(get, (k,)).fetchone()[0] for k in ks]
                        amount = rnd.randint(0, max(0, vals[0]))
                        db.execute(put, (vals[0] - amount, ks[0]))
                        db.execute(put, (vals[1] + amount, ks[1]))
                    db.execute("COMMIT")
                    c[0] += 1
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e):
                    raise
                c[1] += 1
        db.close()

    ths = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    t0 = time.monotonic()
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    elapsed = time.monotonic() - t0
    return sum(c[0] for c in counts), sum(c[1] for c in counts), elapsed


ENGINES = {
    "lightning-ser": lightning_runner("serializable"),
    "lightning-si": lightning_runner("snapshot"),
    "sqlite3": sqlite_run,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--accounts", type=int, default=1000)
    ap.add_argument("--sync", choices=["normal", "full"], default="normal")
    ap.add_argument("--threads", default="1,4,8")
    args = ap.parse_args()
    rows = []
    print(f"# {args.seconds}s per cell, {args.accounts} accounts, sync={args.sync}")
    print(f"| {'workload':8} | {'threads':>7} | {'engine':13} | {'commits/s':>10} | "
          f"{'abort rate':>10} |")
    print(f"|{'-' * 10}|{'-' * 9}|{'-' * 15}|{'-' * 12}|{'-' * 12}|")
    for workload in ("single", "multi"):
        for threads in [int(x) for x in args.threads.split(",")]:
            for name, run in ENGINES.items():
                with tempfile.TemporaryDirectory() as d:
                    commits, aborts, elapsed = run(os.path.join(d, "db"), workload,
                                                   threads, args.seconds, args.accounts,
                                                   args.sync)
                rate = aborts / max(1, commits + aborts)
                rows.append((workload, threads, name, commits / elapsed, rate))
                print(f"| {workload:8} | {threads:>7} | {name:13} | "
                      f"{commits / elapsed:>10,.0f} | {rate:>9.2%} |", flush=True)


if __name__ == "__main__":
    main()
