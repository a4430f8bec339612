"""Larger-than-memory load: peak memory of lightning while loading far more data than
its cache and memtables hold.

What it measures: loads N keys (default 10,000,000: 16-byte keys, 104-byte values,
about 1.2 GB of key+value bytes) into a fresh database opened with the default cache
(64 MiB) and memtable size, in batches of 1000 (one Batch each), keys in pseudo-random
order; then reads a random sample back (checking every value), closes, reopens and reads
another sample. Reports elapsed time per phase, the load rate, the final on-disk size,
the engine's level shape, and peak RSS from both resource.getrusage (ru_maxrss) and
/proc/self/status (VmHWM), and checks

    peak RSS <= cache_size + 2 * memtable_size + 100 MiB     (PASS/MISS)

The peak is the whole process's (interpreter and modules included, measured before the
database is opened and printed as the baseline), so the check is strict. Data is
generated batch by batch from the key index, so the benchmark itself holds no more than
one batch of keys and values.

Usage:  python bench/bench_bigload.py [--n 10000000] [--dir PATH] [--time-limit SECS]
        python bench/bench_bigload.py --n 1000000        (a quick run)
"""

import argparse
import inspect
import os
import platform
import random
import resource
import shutil
import sys
import tempfile
import time

KEY_SIZE = 16
VALUE_SIZE = 104
BATCH = 1000
SEED = 0x5EED
MIX = 0x9E3779B97F4A7C15   # odd: i -> i * MIX mod 2**64 is a bijection
MASK = (1 << 64) - 1
MiB = 1 << 20


def key_of(i):
    """16 bytes: a 64-bit bijective scramble of i (so load order is pseudo-random in key
    order) followed by i itself (so keys are unique)."""
    return ((i * MIX) & MASK).to_bytes(8, "big") + i.to_bytes(8, "big")


_POOL = random.Random(SEED).randbytes(1 << 20)   # 1 MiB of random bytes
_SPAN = len(_POOL) - VALUE_SIZE
MIX2 = 0xC2B2AE3D27D4EB4F


def value_of(i):
    """VALUE_SIZE random bytes for key i: a window of a 1 MiB random pool at an offset
    scrambled from i (cheap to regenerate for checking; no two values in a 4 KiB block
    are likely to share bytes, so blocks do not compress)."""
    o = ((i * MIX2) & MASK) % _SPAN
    return _POOL[o:o + VALUE_SIZE]


def status_kib(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_now_mib():
    v = status_kib("VmRSS")
    return None if v is None else v / 1024


def dir_size(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.stat(os.path.join(root, f)).st_size
            except FileNotFoundError:
                pass
    return total


def read_sample(db, n_loaded, count, rnd):
    """Time `count` gets of random loaded keys (keys made before the clock starts),
    then check every value in a second, untimed pass. Returns (seconds, wrong)."""
    idx = [rnd.randrange(n_loaded) for _ in range(count)]
    keys = [key_of(i) for i in idx]
    get = db.get
    t0 = time.perf_counter()
    for k in keys:
        get(k)
    secs = time.perf_counter() - t0
    bad = sum(1 for i, k in zip(idx, keys) if get(k) != value_of(i))
    return secs, bad


def main(argv=None):
    import lightning

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000_000, help="keys to load")
    ap.add_argument("--dir", default=None,
                    help="parent directory for the database (default: a temp dir)")
    ap.add_argument("--sync", default="normal", choices=["off", "normal", "full"],
                    help="sync mode (default: lightning's default, normal)")
    ap.add_argument("--sample", type=int, default=100_000, help="keys read back")
    ap.add_argument("--time-limit", type=float, default=None,
                    help="stop loading after this many seconds and report how far it got")
    ap.add_argument("--keep", action="store_true", help="keep the database")
    args = ap.parse_args(argv)

    params = inspect.signature(lightning.open).parameters
    cache = params["cache_size"].default
    memtable = params["memtable_size"].default
    budget = cache + 2 * memtable + 100 * MiB

    base_rss = rss_now_mib()
    parent = tempfile.mkdtemp(prefix="lightning-bigload-", dir=args.dir)
    path = os.path.join(parent, "db")
    print(f"# lightning big load: N={args.n:,} keys, {KEY_SIZE}-byte keys, {VALUE_SIZE}-byte "
          f"random values (raw {args.n * (KEY_SIZE + VALUE_SIZE) / 1e9:.2f} GB), batches of "
          f"{BATCH}, sync={args.sync}")
    print(f"# machine: nproc={os.cpu_count()}, Python {platform.python_version()}, "
          f"lightning {lightning.__version__}; db at {path}")
    print(f"# defaults used: cache_size={cache / MiB:.0f} MiB, memtable_size="
          f"{memtable / MiB:.0f} MiB; baseline RSS before open {base_rss:.1f} MiB")
    sys.stdout.flush()

    t_start = time.perf_counter()
    db = lightning.open(path, sync=args.sync)
    loaded = 0
    stopped_early = False
    report_every = max(BATCH, (args.n // 10) // BATCH * BATCH)
    t0 = time.perf_counter()
    t_last, n_last = t0, 0
    try:
        for b in range(0, (args.n + BATCH - 1) // BATCH):
            lo = b * BATCH
            hi = min(args.n, lo + BATCH)
            with db.batch() as batch:
                put = batch.put
                for i in range(lo, hi):
                    put(key_of(i), value_of(i))
            loaded = hi
            if loaded % report_every == 0 or loaded == args.n:
                now = time.perf_counter()
                s = db.stats()
                levels = [lv["files"] for lv in s["levels"]]
                print(f"  {loaded:>11,} keys  {now - t0:7.1f}s  "
                      f"{(loaded - n_last) / (now - t_last):>9,.0f} keys/s (interval)  "
                      f"RSS {rss_now_mib():6.1f} MiB  files/level {levels}  "
                      f"stalls {s.get('write_stalls')} "
                      f"({s.get('write_stall_micros', 0) / 1e6:.1f}s)", flush=True)
                t_last, n_last = now, loaded
            if args.time_limit is not None and time.perf_counter() - t0 > args.time_limit:
                stopped_early = True
                break
    except KeyboardInterrupt:
        stopped_early = True
    load_secs = time.perf_counter() - t0
    hwm_phase = [("load", status_kib("VmHWM"), status_kib("VmRSS"))]

    rnd = random.Random(1)
    sample = min(args.sample, loaded)
    read1_secs, bad1 = read_sample(db, loaded, sample, rnd)
    hwm_phase.append(("read-back", status_kib("VmHWM"), status_kib("VmRSS")))
    stats = db.stats()
    t1 = time.perf_counter()
    db.close()
    close_secs = time.perf_counter() - t1
    hwm_phase.append(("close", status_kib("VmHWM"), status_kib("VmRSS")))
    size_closed = dir_size(path)

    t2 = time.perf_counter()
    db = lightning.open(path, sync=args.sync)
    reopen_secs = time.perf_counter() - t2
    read2_secs, bad2 = read_sample(db, loaded, sample, rnd)
    db.close()
    hwm_phase.append(("reopen + read-back", status_kib("VmHWM"), status_kib("VmRSS")))
    total_secs = time.perf_counter() - t_start
    size_final = dir_size(path)

    maxrss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    hwm = status_kib("VmHWM")
    hwm_mib = None if hwm is None else hwm / 1024
    peak = max(maxrss_mib, hwm_mib or 0)

    raw = loaded * (KEY_SIZE + VALUE_SIZE)
    print()
    print("| measure | value |")
    print("|---|---:|")
    print(f"| keys loaded | {loaded:,} of {args.n:,}"
          f"{' (STOPPED EARLY)' if stopped_early else ''} |")
    print(f"| raw key+value bytes | {raw / 1e9:.3f} GB |")
    print(f"| load time | {load_secs:.1f} s |")
    print(f"| load rate | {loaded / load_secs:,.0f} keys/s ({raw / load_secs / 1e6:.1f} MB/s) |")
    print(f"| read-back before close | {sample:,} random keys, {sample / read1_secs:,.0f} "
          f"gets/s, {bad1} wrong |")
    print(f"| close | {close_secs:.2f} s |")
    print(f"| reopen | {reopen_secs:.2f} s |")
    print(f"| read-back after reopen | {sample:,} random keys, {sample / read2_secs:,.0f} "
          f"gets/s, {bad2} wrong |")
    print(f"| total elapsed | {total_secs:.1f} s |")
    print(f"| on-disk size after close | {size_closed / 1e9:.3f} GB "
          f"({size_closed / raw * 100:.0f}% of raw) |")
    print(f"| on-disk size at end | {size_final / 1e9:.3f} GB |")
    print(f"| files per level (before close) | {[lv['files'] for lv in stats['levels']]} |")
    print(f"| compactions / flushes / stalls | {stats.get('compactions')} / "
          f"{stats.get('flushes')} / {stats.get('write_stalls')} "
          f"({stats.get('write_stall_micros', 0) / 1e6:.1f} s) |")
    print(f"| peak RSS: ru_maxrss | {maxrss_mib:.1f} MiB |")
    print(f"| peak RSS: VmHWM | {hwm_mib:.1f} MiB |")
    print(f"| baseline RSS before open | {base_rss:.1f} MiB |")
    for name, h, r in hwm_phase:
        print(f"| after {name}: VmHWM / VmRSS | {h / 1024:.1f} / {r / 1024:.1f} MiB |")
    print()
    verdict = "PASS" if peak <= budget / MiB else "MISS"
    print(f"{verdict} peak RSS {peak:.1f} MiB <= cache {cache / MiB:.0f} MiB + 2 x memtable "
          f"{memtable / MiB:.0f} MiB + 100 MiB = {budget / MiB:.0f} MiB")
    ok = bad1 == 0 and bad2 == 0
    print(f"{'PASS' if ok else 'MISS'} read-back: {bad1 + bad2} wrong values in "
          f"{2 * sample:,} reads")
    if stopped_early:
        print(f"NOTE: load stopped early at {loaded:,} keys (time limit or interrupt)")

    if args.keep:
        print(f"kept {path}")
    else:
        shutil.rmtree(parent, ignore_errors=True)


if __name__ == "__main__":
    main()
