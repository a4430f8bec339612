"""A real full disk, not a simulated one: commits of each kind (put, batch, KV
transaction, SQL transaction) with sync="full" fill
  - a 6 MiB tmpfs mounted for the test, in a child process in a mount namespace of
    its own (`unshare`), so the mount can never outlive the test; skipped, with the
    reason, where mounting is not allowed;
  - a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored) in a child process: writes past
    it fail with EFBIG;
until a commit raises OperationalError naming the cause. Then: later calls raise
OperationalError too; a reopen without freeing space either works or raises
OperationalError (never corruption); after space is freed the database opens and
holds every acknowledged commit, each whole, and takes writes again."""

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys

import pytest

from conftest import child_env

HERE = os.path.dirname(os.path.abspath(__file__))
OPTS = dict(sync="full", memtable_size=64 << 10, page_size=1024, table_size=64 << 10,
            level1_size=256 << 10, l0_compaction_trigger=2)
KINDS = ("put", "batch", "txn", "sql")


def value(i, n=1500):
    """Incompressible, reproducible bytes for commit i."""
    return random.Random(i).randbytes(n)


class Filler:
    """Commits of each kind in turn; remembers the acknowledged ones."""

    def __init__(self, path):
        import lightning
        self.lightning = lightning
        self.path = path
        self.acked = []
        self.failed = None      # (i, kind) of the commit that raised

    def open(self):
        lightning = self.lightning
        self.db = lightning.open(self.path, **OPTS)
        self.conn = lightning.connect(self.path)

    def close(self):
        self.conn.close()
        self.db.close()

    def commit(self, i):
        kind = KINDS[i % len(KINDS)]
        if kind == "put":
            self.db.put(b"k%06d" % i, value(i))
        elif kind == "batch":
            with self.db.batch() as b:
                for j in range(3):
                    b.put(b"b%06d-%d" % (i, j), value(i * 10 + j, 500))
        elif kind == "txn":
            with self.db.transaction() as t:
                t.put(b"t%06d" % i, value(i))
                t.put(b"u%06d" % i, b"%d" % i)
        else:
            try:
                self.conn.execute("INSERT INTO t VALUES (?, ?)", (i, value(i)))
                self.conn.execute("INSERT INTO t VALUES (?, ?)", (-i, b"%d" % i))
                self.conn.commit()
            except BaseException:
                self.conn.rollback()
                raise

    def fill(self, limit=100000):
        """Commit until one raises OperationalError; returns that error."""
        self.conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB)")
        self.conn.commit()
        for i in range(1, limit):
            try:
                self.commit(i)
            except self.lightning.OperationalError as exc:
                self.failed = i
                return exc
            self.acked.append(i)
        raise AssertionError(f"{limit} commits and the disk is not full")

    def present(self, i):
        """True / False if commit i is wholly there / absent; AssertionError if it is
        partly there or holds other bytes."""
        kind = KINDS[i % len(KINDS)]
        db = self.db
        if kind == "put":
            got = db.get(b"k%06d" % i)
            found = [got is not None]
            assert got in (None, value(i)), f"put {i}: wrong bytes"
        elif kind == "batch":
            got = [db.get(b"b%06d-%d" % (i, j)) for j in range(3)]
            found = [g is not None for g in got]
            for j, g in enumerate(got):
                assert g is None or g == value(i * 10 + j, 500), f"batch {i}: wrong bytes"
        elif kind == "txn":
            got = [db.get(b"t%06d" % i), db.get(b"u%06d" % i)]
            found = [g is not None for g in got]
            assert got[0] in (None, value(i)) and got[1] in (None, b"%d" % i)
        else:
            rows = dict(self.conn.execute("SELECT id, v FROM t WHERE id = ? OR id = ?",
                                          (i, -i)).fetchall())
            found = [i in rows, -i in rows]
            assert rows.get(i, value(i)) == value(i) and rows.get(-i, b"%d" % i) == b"%d" % i
        assert all(found) or not any(found), f"{kind} commit {i} is partly there: {found}"
        return all(found)

    def check(self):
        """Every acknowledged commit is there; the failed one is whole or absent."""
        lost = [i for i in self.acked if not self.present(i)]
        assert not lost, f"acknowledged commits lost: {lost[:10]} (of {len(lost)})"
        if self.failed is not None:
            self.present(self.failed)


def scenario(path, expect, free_space):
    """Fill the database at `path` until a commit fails; `expect` is a substring of the
    error's message; `free_space()` makes room. Prints a JSON summary."""
    import lightning
    f = Filler(path)
    f.open()
    exc = f.fill()
    assert expect in str(exc), f"the error does not say {expect!r}: {exc}"
    first = str(exc)
    for i in range(f.failed + 1, f.failed + 5):     # later commits fail cleanly too
        with pytest.raises(lightning.OperationalError) as later:
            f.commit(i)
        assert expect in str(later.value), str(later.value)
    f.close()
    try:                         # reopen with the disk still full
        f.open()
    except lightning.OperationalError as exc2:
        full_reopen = f"OperationalError: {exc2}"
    else:
        f.check()
        f.close()
        full_reopen = "opened, every acknowledged commit there"
    free_space()
    f.open()
    f.check()
    for i in range(f.failed + 10, f.failed + 20):   # takes writes again
        f.commit(i)
        f.acked.append(i)
    f.db.flush()
    f.close()
    f.open()
    f.check()
    f.close()
    print(json.dumps({"acknowledged": len(f.acked), "error": first,
                      "reopen_while_full": full_reopen}))


def tmpfs_child(mnt):
    """In the child, on the tmpfs mounted at `mnt`."""
    ballast = os.path.join(mnt, "ballast")
    with open(ballast, "wb") as fh:
        fh.write(b"\0" * (3 << 20))  # half the disk: room for a compaction of the rest
    scenario(os.path.join(mnt, "db"), "No space left on device",
             lambda: os.remove(ballast))


def fsize_child(path):
    """In the child: files may not grow past 256 KiB (the log does, before the 1 MiB
    memtable fills); raising the soft limit frees the space."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = 256 << 10, resource.RLIM_INFINITY
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    OPTS["memtable_size"] = 1 << 20
    scenario(path, "File too large",
             lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard)))


def run_child(argv_prefix, func, arg):
    code = (f"import sys; sys.path.insert(0, {HERE!r}); import test_disk_full as t; "
            f"t.{func}(sys.argv[1])")
    return subprocess.run([*argv_prefix, sys.executable, "-c", code, arg],
                          capture_output=True, text=True, env=child_env(), timeout=300)


def test_tmpfs_full(tmp_path):
    unshare = shutil.which("unshare")
    if not unshare:
        pytest.skip("no unshare(1): cannot mount a private tmpfs")
    mnt = str(tmp_path / "mnt")
    os.mkdir(mnt)
    # A new mount namespace (and, when not root, a user namespace in which we are):
    # the tmpfs lives and dies with the child, whatever happens to it.
    ns = [unshare, "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        ns.insert(1, "--map-root-user")
    probe = subprocess.run([*ns, "mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", mnt],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not allowed here: {probe.stderr.strip()}")
    shell = ("mount -t tmpfs -o size=6m tmpfs \"$0\" && \"$@\"; rc=$?; "
             "umount \"$0\" 2>/dev/null; exit $rc")
    res = run_child([*ns, "sh", "-c", shell, mnt], "tmpfs_child", mnt)
    assert res.returncode == 0, res.stderr[-4000:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    print(f"\ntmpfs full: {summary}")
    assert summary["acknowledged"] > 100     # the disk filled with data, not at once


def test_file_size_limit(tmp_path):
    path = str(tmp_path / "db")
    res = run_child([], "fsize_child", path)
    assert res.returncode == 0, res.stderr[-4000:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    print(f"\nRLIMIT_FSIZE: {summary}")
    assert summary["acknowledged"] > 10
