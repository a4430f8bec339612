"""fork() with an open database. In the child every use of what it inherited (the
database, snapshots, scans, transactions, batches, SQL connections) raises
InterfaceError with code LT_EFORKED and touches nothing of the parent's engine;
closing and exiting never hang; opening the path again in the child gets the lock
error naming the parent's pid. The parent's database is unaffected. The forking
process is itself a child of the test, run with a timeout, so a hang fails the test."""

import json
import subprocess
import sys

import pytest

import lightning
from lightning._ffi import lib

from conftest import child_env

FORKER = r"""
import json, os, sys, time, lightning
path, sql_path, out = sys.argv[1], sys.argv[2], sys.argv[3]
db = lightning.open(path, sync="normal", memtable_size=64 << 10)  # both engine threads
for i in range(5000):
    db.put(b"k%05d" % i, b"v%05d" % i)
db2 = lightning.open(path)                      # a second handle on the same engine
snap = db.snapshot()
scan = iter(db.scan())
next(scan)                                      # an open engine iterator
txn = db.transaction()
txn.put(b"t", b"1")
tscan = iter(txn.scan())
next(tscan)
con = lightning.connect(sql_path)
con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
con.execute("INSERT INTO t VALUES (1, 'one')")
con.commit()
cur = con.cursor()

pid = os.fork()
if pid == 0:
    results = {}
    def attempt(name, fn):
        try:
            fn()
            results[name] = None
        except lightning.Error as exc:
            results[name] = [type(exc).__name__, exc.code, str(exc)]
    attempt("get", lambda: db.get(b"k00001"))
    attempt("get on a second handle", lambda: db2.get(b"k00001"))
    attempt("contains", lambda: b"k00001" in db)
    attempt("put", lambda: db.put(b"child", b"1"))
    attempt("delete", lambda: db.delete(b"k00002"))
    def batch():
        with db.batch() as b:
            b.put(b"child-batch", b"1")
    attempt("batch", batch)
    attempt("scan", lambda: list(db.scan()))
    attempt("inherited scan", lambda: list(scan))
    attempt("snapshot", db.snapshot)
    attempt("snapshot get", lambda: snap.get(b"k00001"))
    attempt("snapshot scan", lambda: list(snap.scan()))
    attempt("transaction", db.transaction)
    attempt("txn get", lambda: txn.get(b"k00001"))
    attempt("txn put", lambda: txn.put(b"child-txn", b"1"))
    attempt("inherited txn scan", lambda: list(tscan))
    attempt("txn commit", txn.commit)
    attempt("flush", db.flush)
    attempt("compact", db.compact)
    attempt("stats", db.stats)
    attempt("sql select", lambda: cur.execute("SELECT v FROM t WHERE id = 1").fetchall())
    attempt("sql insert", lambda: con.execute("INSERT INTO t VALUES (2, 'child')"))
    attempt("sql commit", con.commit)
    attempt("reopen", lambda: lightning.open(path))
    attempt("reopen read-only", lambda: lightning.open(path, read_only=True))
    attempt("sql reopen", lambda: lightning.connect(sql_path, timeout=0).execute("SELECT 1"))
    # Close some of it; leave the rest to the garbage collector at exit.
    attempt("snapshot close", snap.close)
    attempt("txn rollback", txn.rollback)
    attempt("sql close", con.close)
    attempt("close", db.close)
    attempt("get after close", lambda: db.get(b"k00001"))
    with open(out, "w") as f:
        json.dump(results, f)
    sys.exit(0)                 # a normal exit: finalizers free db2, scan, ... here

for _ in range(600):            # up to a minute for the child to exit
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    time.sleep(0.1)
else:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    print(json.dumps({"child": "hung"}))
    sys.exit(0)
# The parent's handles all keep working.
parent = {"child_status": status, "get": db.get(b"k04999").decode(), "snap": snap.get(b"k00001").decode(),
          "scan_rest": sum(1 for _ in scan), "db2": db2.get(b"k00003").decode()}
txn.put(b"t2", b"2")
txn.commit()
db.put(b"parent-after", b"1")
db.flush()
parent["sql"] = con.execute("SELECT v FROM t ORDER BY id").fetchall()
con.execute("INSERT INTO t VALUES (3, 'parent')")
con.commit()
snap.close(); db2.close(); db.close(); con.close()
print(json.dumps({"parent": parent}))
"""


@pytest.mark.timeout(300)
def test_fork_with_an_open_database(tmp_path):
    path, sql_path = str(tmp_path / "kv.ldb"), str(tmp_path / "sql.ldb")
    out = str(tmp_path / "child.json")
    try:
        r = subprocess.run([sys.executable, "-c", FORKER, path, sql_path, out],
                           capture_output=True, env=child_env(), timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("the process that forked hung")
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-3000:]
    report = json.loads(r.stdout.decode().strip().splitlines()[-1])
    assert report.get("child") != "hung", "the child hung (at exit or in a call)"
    parent = report["parent"]
    assert parent["child_status"] == 0, r.stderr.decode(errors="replace")[-3000:]
    with open(out) as f:
        child = json.load(f)

    forked = {name: res for name, res in child.items()
              if res is not None and res[1] == lib.LT_EFORKED}
    for name in ("get", "get on a second handle", "contains", "put", "delete", "batch",
                 "scan", "inherited scan", "snapshot", "snapshot get", "snapshot scan",
                 "transaction", "txn get", "txn put", "inherited txn scan", "txn commit",
                 "flush", "compact", "stats", "sql select", "sql insert"):
        assert name in forked, (name, child[name])
        kind, _, msg = forked[name]
        assert kind == "InterfaceError", (name, child[name])
        assert "opened in a parent process; open it again after fork" in msg, (name, msg)
    # Opening again in the child: the parent holds the lock, and the message says so.
    for name in ("reopen", "reopen read-only", "sql reopen"):
        kind, code, msg = child[name]
        assert (kind, code) == ("OperationalError", lib.LT_ELOCKED), (name, child[name])
    # Closing what it inherited is allowed and quiet; later use says "closed".
    for name in ("snapshot close", "txn rollback", "sql close", "close"):
        assert child[name] is None, (name, child[name])
    assert child["get after close"][1] == lib.LT_ECLOSED, child["get after close"]

    # The parent never noticed: its handles worked after the fork and nothing of the
    # child's reached its log.
    assert parent["get"] == "v04999" and parent["snap"] == "v00001"
    assert parent["scan_rest"] == 4999 and parent["db2"] == "v00003"
    assert parent["sql"] == [["one"]] or parent["sql"] == [("one",)]
    with lightning.open(path) as db:
        assert db.get(b"child") is None and db.get(b"child-batch") is None
        assert db.get(b"child-txn") is None and db.get(b"k00002") == b"v00002"
        assert db.get(b"t") == b"1" and db.get(b"t2") == b"2"
        assert db.get(b"parent-after") == b"1"
        assert sum(1 for _ in db.scan()) == 5000 + 3
    con = lightning.connect(sql_path)
    assert con.execute("SELECT id, v FROM t ORDER BY id").fetchall() == [(1, "one"),
                                                                         (3, "parent")]
    con.close()


def test_child_that_opens_anew_names_the_parent(tmp_path):
    """The lock message in the child names the parent's pid (the child inherits no
    lock, and the in-process lock table of the parent is forgotten)."""
    path = str(tmp_path / "kv.ldb")
    script = r"""
import os, sys, lightning
db = lightning.open(sys.argv[1])
pid = os.fork()
if pid == 0:
    try:
        lightning.open(sys.argv[1])
        os._exit(3)
    except lightning.OperationalError as exc:
        ok = f"locked by pid {os.getppid()} " in str(exc) and exc.code == lightning.errors.ELOCKED
        os._exit(0 if ok else 4)
_, status = os.waitpid(pid, 0)
db.close()
print(os.waitstatus_to_exitcode(status))
"""
    r = subprocess.run([sys.executable, "-c", script, path], capture_output=True,
                       env=child_env(), timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == b"0", (r.stdout, r.stderr[-2000:])
