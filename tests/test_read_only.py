"""Read-only opens: they take a shared lock on the LOCK file opened read-only, so they
work on read-only media and several read-only processes share a database, while a
writer and readers exclude each other (OperationalError naming the holder's pid). A
read-only open creates and modifies no file."""

import hashlib
import os
import shutil
import subprocess
import sys

import pytest

import lightning
from lightning._ffi import lib

from conftest import TINY, child_env

N = 500


def fill(path):
    with lightning.open(path, **TINY) as db:
        for i in range(N):
            db.put(b"k%05d" % i, b"v%05d" % i)
        db.flush()
        db.put(b"in-the-log", b"1")      # replayed from the log at the next open


def snapshot_files(path):
    """name -> (size, mtime_ns, sha256) of every file in the database directory."""
    out = {}
    for name in sorted(os.listdir(path)):
        p = os.path.join(path, name)
        st = os.stat(p)
        with open(p, "rb") as f:
            out[name] = (st.st_size, st.st_mtime_ns, hashlib.sha256(f.read()).hexdigest())
    return out


def check_contents(db):
    assert db.get(b"in-the-log") == b"1"
    for i in range(0, N, 7):
        assert db.get(b"k%05d" % i) == b"v%05d" % i
    assert sum(1 for _ in db.scan()) == N + 1


def test_read_only_open_creates_and_modifies_nothing(dbpath):
    fill(dbpath)
    with open(os.path.join(dbpath, "LOCK"), "w") as f:
        f.write("12345\n")                        # a stale pid from an old writer
    before = snapshot_files(dbpath)
    with lightning.open(dbpath, read_only=True) as db:
        check_contents(db)
        with pytest.raises(lightning.OperationalError):
            db.put(b"x", b"y")
    assert snapshot_files(dbpath) == before
    os.remove(os.path.join(dbpath, "LOCK"))       # copied without its lock file
    before = snapshot_files(dbpath)
    with lightning.open(dbpath, read_only=True) as db:
        check_contents(db)
    assert snapshot_files(dbpath) == before


HOLDER = r"""
import sys, lightning
db = lightning.open(sys.argv[1], read_only=sys.argv[2] == "ro")
assert db.get(b"k00001") == b"v00001"
print("ready", flush=True)
sys.stdin.read()
db.close()
"""


def hold(path, mode):
    child = subprocess.Popen([sys.executable, "-c", HOLDER, path, mode],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=child_env(),
                             text=True)
    line = child.stdout.readline().strip()
    if line != "ready":
        child.kill()
        child.wait(timeout=30)
        pytest.fail(f"holder ({mode}) did not start: {line!r}")
    return child


def release(child):
    child.stdin.close()
    assert child.wait(timeout=30) == 0
    child.stdout.close()


def test_read_only_processes_share_and_exclude_a_writer(dbpath):
    fill(dbpath)
    reader = hold(dbpath, "ro")
    try:
        other = hold(dbpath, "ro")                # a second reading process: shares
        release(other)
        with lightning.open(dbpath, read_only=True) as db:   # and this one too
            check_contents(db)
            with pytest.raises(lightning.OperationalError) as ei:
                db.put(b"x", b"y")
        with pytest.raises(lightning.OperationalError) as ei:
            lightning.open(dbpath)                # a writer is kept out
        assert ei.value.code == lib.LT_ELOCKED
        msg = str(ei.value)
        assert f"locked by pid {reader.pid}, which has it open read-only" in msg, msg
    finally:
        release(reader)
    writer = hold(dbpath, "rw")
    try:
        with pytest.raises(lightning.OperationalError) as ei:
            lightning.open(dbpath, read_only=True)    # readers wait for the writer
        assert ei.value.code == lib.LT_ELOCKED
        assert f"locked by pid {writer.pid} (" in str(ei.value)
    finally:
        release(writer)
    with lightning.open(dbpath) as db:            # everyone gone: a writer gets in
        db.put(b"after", b"1")


ON_RO_MEDIA = r"""
import sys, lightning
path = sys.argv[1]
try:
    open(path + "/probe", "w")
    sys.exit("the mount is writable")
except OSError as exc:
    assert exc.errno == 30, exc                  # EROFS
with lightning.open(path, read_only=True) as db:
    assert db.get(b"in-the-log") == b"1"
    assert sum(1 for _ in db.scan()) == int(sys.argv[2]) + 1
    try:
        db.put(b"x", b"y")
        sys.exit("a write on a read-only database succeeded")
    except lightning.OperationalError:
        pass
try:
    lightning.open(path)
    sys.exit("a read-write open on read-only media succeeded")
except lightning.OperationalError as exc:
    assert path in str(exc), exc
print("ok")
"""


def test_read_only_open_on_read_only_media(dbpath):
    """The database directory is bind-mounted read-only in a private mount namespace
    (tests run as root, which ignores file modes, so chmod would prove nothing)."""
    if not shutil.which("unshare") or not shutil.which("mount"):
        pytest.skip("needs unshare(1) and mount(8) for a read-only bind mount")
    fill(dbpath)
    before = snapshot_files(dbpath)
    script = ('mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" || exit 77; '
              'exec "$2" -c "$3" "$1" "$4"')
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script,
                        "sh", dbpath, sys.executable, ON_RO_MEDIA, str(N)],
                       capture_output=True, env=child_env(), timeout=120)
    if r.returncode == 77 or (r.returncode != 0 and b"unshare failed" in r.stderr):
        pytest.skip("no permission for a private read-only bind mount: "
                    + r.stderr.decode(errors="replace").strip()[-300:])
    assert r.returncode == 0 and r.stdout.strip() == b"ok", r.stderr.decode(errors="replace")
    assert snapshot_files(dbpath) == before
