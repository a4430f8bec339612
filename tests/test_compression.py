"""Compression: JSON-like values take at most 40% of their raw key+value bytes on disk
after compaction with zstd; with compression="none" everything works and the files are
bigger."""

import json
import os
import random

import lightning

FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Ken", "Dennis"]
LAST = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Thompson"]
CITIES = ["London", "Paris", "Zurich", "Boston", "Tokyo", "Berlin"]


def records(n, seed=8):
    rnd = random.Random(seed)
    for i in range(n):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        doc = {
            "id": i,
            "name": f"{first} {last}",
            "email": f"{first.lower()}.{last.lower()}{i}@example.com",
            "city": rnd.choice(CITIES),
            "active": rnd.random() < 0.8,
            "score": round(rnd.uniform(0, 100), 2),
            "tags": rnd.sample(["admin", "staff", "guest", "beta", "ops"], 2),
            "created": f"2024-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
        }
        yield b"user:%08d" % i, json.dumps(doc).encode()


def load(path, compression, n=40_000):
    raw = 0
    with lightning.open(path, compression=compression) as db:
        with db.batch() as b:
            for k, v in records(n):
                b.put(k, v)
                raw += len(k) + len(v)
        db.flush()
        db.compact()
        assert db.get(b"user:00000007") == dict(records(8))[b"user:00000007"]
        assert sum(1 for _ in db.scan(prefix=b"user:")) == n
    return raw


def dir_bytes(path):
    return sum(os.path.getsize(os.path.join(path, n)) for n in os.listdir(path))


def table_bytes(path):
    return sum(os.path.getsize(os.path.join(path, n)) for n in os.listdir(path)
               if n.endswith(".ldt"))


def test_zstd_files_at_most_40_percent_of_raw(tmp_path):
    path = str(tmp_path / "z.ldb")
    raw = load(path, "zstd")
    tables = table_bytes(path)
    total = dir_bytes(path)
    assert tables <= 0.40 * raw, f"tables {tables} B for {raw} B raw ({tables / raw:.1%})"
    assert total <= 0.40 * raw, f"files {total} B for {raw} B raw ({total / raw:.1%})"
    with lightning.open(path) as db:   # and it reads back after reopen
        expect = dict(records(40_000))
        for k, v in db.scan():
            assert expect[k] == v


def test_no_compression_works_and_is_bigger(tmp_path):
    zpath, npath = str(tmp_path / "z.ldb"), str(tmp_path / "n.ldb")
    raw = load(zpath, "zstd")
    assert load(npath, "none") == raw
    assert table_bytes(npath) > 0.8 * raw
    assert table_bytes(npath) > 2 * table_bytes(zpath)
    with lightning.open(npath, compression=None) as db:
        assert dict(db.scan()) == dict(records(40_000))
    # A database written without compression opens with zstd configured, and new
    # tables then get compressed alongside the old ones.
    with lightning.open(npath, compression="zstd") as db:
        db.put(b"user:x", b"{}")
        db.compact()
        assert sum(1 for _ in db.scan()) == 40_001
