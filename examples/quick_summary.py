"""Demo of the KV API: opens a database in a temporary directory, writes JSON-like
records in a batch and with single puts, reads, scans a prefix both ways, reads a
snapshot, flushes and compacts, and prints a summary with the engine's statistics.

Run: pip install . && python examples/quick_summary.py
"""

import json
import os
import random
import tempfile
import time

import lightning


def human(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def main():
    rnd = random.Random(42)
    cities = ["London", "Paris", "Zurich", "Boston", "Tokyo"]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "demo.ldb")
        print(f"lightning {lightning.__version__}: database at {path}\n")
        with lightning.open(path, sync="normal") as db:
            # 1. A batch: 5000 records committed atomically in one call.
            t0 = time.perf_counter()
            raw = 0
            with db.batch() as batch:
                for i in range(5000):
                    key = b"user:%06d" % i
                    value = json.dumps({"id": i, "name": f"user {i}",
                                        "city": rnd.choice(cities),
                                        "score": rnd.randint(0, 100)}).encode()
                    batch.put(key, value)
                    raw += len(key) + len(value)
            t_batch = time.perf_counter() - t0

            # 2. Single puts and a delete, each its own commit.
            for i in range(5):
                db.put(b"order:%03d" % i, json.dumps({"user": i, "total": 10 * i}).encode())
            db.delete(b"user:000013")

            # 3. Point reads.
            ada = json.loads(db.get(b"user:000042"))
            missing = db.get(b"user:000013", b"<deleted>")

            # 4. Prefix scans in both directions.
            orders = [k.decode() for k, _ in db.scan(prefix=b"order:")]
            last_users = [k.decode() for k, _ in db.scan(prefix=b"user:", reverse=True,
                                                         limit=3)]
            in_range = sum(1 for _ in db.scan(b"user:001000", b"user:002000"))

            # 5. A snapshot keeps its view while the database changes.
            with db.snapshot() as snap:
                db.put(b"user:000042", b'{"id": 42, "name": "renamed"}')
                old = json.loads(snap.get(b"user:000042"))["name"]
                new = json.loads(db.get(b"user:000042"))["name"]

            # 6. Flush the memtable to a table file and compact to the bottom level.
            t0 = time.perf_counter()
            db.flush()
            db.compact()
            t_compact = time.perf_counter() - t0
            stats = db.stats()

        files = os.listdir(path)
        on_disk = sum(os.path.getsize(os.path.join(path, f)) for f in files)

    print(f"wrote 5000 records in one batch ({t_batch * 1000:.1f} ms), 5 single puts, "
          f"1 delete")
    print(f"get user:000042   -> {ada}")
    print(f"get user:000013   -> {missing!r}")
    print(f"scan order:*      -> {orders}")
    print(f"scan user:* desc  -> {last_users} (limit 3)")
    print(f"range [user:001000, user:002000) -> {in_range} keys")
    print(f"snapshot read     -> {old!r} (the database now says {new!r})")
    print(f"flush + compact   -> {t_compact * 1000:.1f} ms\n")

    print("levels:")
    for level in stats["levels"]:
        if level["files"]:
            print(f"  L{level['level']}: {level['files']} file(s), {human(level['bytes'])}")
    ratio = stats["table_bytes"] / raw if raw else 0
    print(f"\nraw key+value bytes : {human(raw)}")
    print(f"table files         : {human(stats['table_bytes'])} "
          f"({ratio:.0%} of raw, zstd blocks)")
    print(f"all files on disk   : {human(on_disk)} in {len(files)} files")
    cache = stats["cache"]
    print(f"block cache         : {cache['hits']} hits, {cache['misses']} misses")
    print(f"commits             : {stats['commits']} in {stats['write_groups']} "
          f"write groups, {stats['wal_syncs']} WAL syncs")
    print(f"flushes/compactions : {stats['flushes']} / {stats['compactions']}")


if __name__ == "__main__":
    main()
