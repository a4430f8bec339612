"""Recovery after metadata and log failures: a manifest append cut short by a full
disk, a lost CURRENT, damage in the middle of a log, and lightning.repair."""

import logging
import os
import subprocess
import sys

import pytest

import lightning
from lightning._testing import FaultEnv, MemEnv

from conftest import child_env, files_with_suffix, listing

# A child that fills the disk (RLIMIT_FSIZE) until a write fails, then closes and
# prints the number of acknowledged batches. Small memtables and tables, so the
# manifest is the first file to reach the limit.
FILL_CHILD = r"""
import os, resource, signal, sys, lightning
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
db = lightning.open(sys.argv[1], memtable_size=16 << 10, table_size=8 << 10,
                    level1_size=32 << 10, compression="none")
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), resource.RLIM_INFINITY))
acked = 0
try:
    for n in range(10**6):
        with db.batch() as b:
            for i in range(20):
                b.put(b"%06d:%03d" % (n, i), os.urandom(50))
        acked = n + 1
except lightning.OperationalError as e:
    print("error:", e)
    try:
        db.put(b"after", b"failure")
        print("write after failure accepted")
    except lightning.OperationalError as e2:
        print("refused:", e2)
db.close()
print(acked)
"""


def test_disk_full_during_manifest_append_keeps_every_commit(tmp_path):
    path = str(tmp_path / "x.ldb")
    out = subprocess.run([sys.executable, "-c", FILL_CHILD, path, "24000"], env=child_env(),
                         capture_output=True, timeout=120)
    lines = out.stdout.decode().splitlines()
    assert out.returncode == 0, out.stderr.decode()
    assert any(l.startswith("error:") and "MANIFEST" in l for l in lines), lines
    assert any(l.startswith("refused:") for l in lines), lines   # latched until reopen
    acked = int(lines[-1])
    assert acked > 0
    with lightning.open(path) as db:
        keys = [k for k, _ in db.scan()]
        batches = {}
        for k in keys:
            batches[int(k[:6])] = batches.get(int(k[:6]), 0) + 1
        assert all(batches.get(n) == 20 for n in range(acked)), "acknowledged batch lost"
        assert set(batches.values()) <= {20}, "partial batch"
        assert b"after" not in keys
        assert db.stats()["recovery"]["manifest_torn_bytes"] > 0
        db.put(b"more", b"writes")
    with lightning.open(path) as db:
        assert db.get(b"more") == b"writes"


def test_failed_manifest_append_at_every_write_loses_nothing():
    """Fail the n-th append of a flush, for every n up to past its manifest append:
    some n cut the manifest record short. Reopening always works and holds every
    acknowledged commit."""
    torn_seen = 0
    # The memtable holds all 200 puts, so only flush() writes: with a background flush
    # racing it the n-th append would fall elsewhere from run to run.
    for n in range(1, 120):
        fault = FaultEnv(MemEnv())
        opts = dict(sync="full", memtable_size=1 << 20, page_size=512, _env=fault,
                    background_compaction=False)
        db = lightning.open("/m/db", **opts)
        for i in range(200):
            db.put(b"k%05d" % i, b"v" * 40)
        fault.fail_write(n, "ENOSPC")
        try:
            db.flush()
        except lightning.OperationalError as e:
            if "MANIFEST" in str(e):
                with pytest.raises(lightning.OperationalError):
                    db.put(b"x", b"y")
        fault.fail_write(0)
        db.close()   # the partial record stays in the file, as after a full disk
        with lightning.open("/m/db", **opts) as db:
            assert sum(1 for _ in db.scan()) == 200, n
            torn_seen += db.stats().get("recovery", {}).get("manifest_torn_bytes", 0) > 0
    assert torn_seen > 0, "no n cut the manifest append short"


def make_db(path, n=400, **opts):
    """Keys k00000.. in tables (flushed) and the newest overwrites in the log."""
    with lightning.open(path, memtable_size=32 << 10, **opts) as db:
        for i in range(n):
            db.put(b"k%05d" % i, b"old%05d" % i)
        db.flush()
        for i in range(0, n, 3):
            db.put(b"k%05d" % i, b"new%05d" % i)
    return {b"k%05d" % i: (b"new%05d" if i % 3 == 0 else b"old%05d") % i for i in range(n)}


def test_missing_current_raises_changes_nothing_and_repair_recovers(tmp_path):
    path = str(tmp_path / "x.ldb")
    want = make_db(path)
    os.remove(os.path.join(path, "CURRENT"))
    before = listing(path)
    with pytest.raises(lightning.CorruptionError) as ei:
        lightning.open(path)
    assert "CURRENT" in str(ei.value)
    assert listing(path) == before, "a failed open changed the directory"
    summary = lightning.repair(path)
    assert summary["keys"] == len(want) and summary["set_aside"] == []
    with lightning.open(path) as db:
        assert dict(db.scan()) == want


def damage_log_middle(path):
    """Flip a byte in the middle of the newest log; returns its path."""
    log = max(files_with_suffix(path, ".log"), key=os.path.getsize)
    size = os.path.getsize(log)
    assert size > 1000
    with open(log, "r+b") as f:
        f.seek(size // 2)
        b = f.read(1)
        f.seek(size // 2)
        f.write(bytes([b[0] ^ 0x40]))
    return log


def write_full_then_crash(path, n=300):
    db = lightning.open(path, sync="full", memtable_size=8 << 20)
    for i in range(n):
        db.put(b"k%05d" % i, b"v%05d" % i)
    db._crash()


def test_mid_log_damage_is_an_error_by_default_and_nothing_is_deleted(tmp_path):
    path = str(tmp_path / "x.ldb")
    write_full_then_crash(path)
    log = damage_log_middle(path)
    before = listing(path)
    with pytest.raises(lightning.CorruptionError) as ei:
        lightning.open(path, sync="full")
    assert os.path.basename(log) in str(ei.value) and "point_in_time" in str(ei.value)
    assert listing(path) == before


def test_mid_log_damage_point_in_time_counts_logs_and_keeps_the_log(tmp_path, caplog):
    path = str(tmp_path / "x.ldb")
    write_full_then_crash(path)
    log = damage_log_middle(path)
    with open(log, "rb") as f:
        damaged = f.read()
    with caplog.at_level(logging.WARNING, logger="lightning.recovery"):
        db = lightning.open(path, wal_recovery="point_in_time")
    with db:
        got = dict(db.scan())
        m = len(got)
        assert 0 < m < 300
        assert got == {b"k%05d" % i: b"v%05d" % i for i in range(m)}, "not a prefix"
        rec = db.stats()["recovery"]
        assert rec["records_dropped"] >= 299 - m and rec["logs_set_aside"] == 1
        assert os.path.basename(log) in rec["damage"]
    assert any("dropped" in r.getMessage() for r in caplog.records)
    kept = os.path.join(path, "lost", os.path.basename(log))
    with open(kept, "rb") as f:
        assert f.read() == damaged, "the damaged log was not kept as it was"
    with lightning.open(path) as db:   # later opens keep it too
        assert len(dict(db.scan())) == m
    assert os.path.exists(kept)


def test_torn_log_tail_is_cut_and_counted(tmp_path):
    path = str(tmp_path / "x.ldb")
    write_full_then_crash(path, 100)
    log = max(files_with_suffix(path, ".log"), key=os.path.getsize)
    with open(log, "r+b") as f:
        f.truncate(os.path.getsize(log) - 3)
    with lightning.open(path) as db:
        assert len(dict(db.scan())) == 99
        rec = db.stats()["recovery"]
        assert rec["torn_tails"] == 1 and rec["torn_bytes"] > 0
        assert rec["records_dropped"] == 0


def test_repair_salvages_log_records_after_damage(tmp_path):
    path = str(tmp_path / "x.ldb")
    write_full_then_crash(path)
    log = damage_log_middle(path)
    summary = lightning.repair(path)
    assert [s["file"] for s in summary["set_aside"]] == ["lost/" + os.path.basename(log)]
    with lightning.open(path) as db:
        got = dict(db.scan())
    assert len(got) == 299, "repair keeps every record but the damaged one"
    assert all(v == b"v" + k[1:] for k, v in got.items())


def test_repair_orders_versions_by_sequence_not_file_number(tmp_path):
    """Renumber the tables so the one holding older versions has the higher number;
    repair must still keep the newer versions."""
    path = str(tmp_path / "x.ldb")
    with lightning.open(path, background_compaction=False) as db:
        for i in range(100):
            db.put(b"k%03d" % i, b"old")
        db.flush()
        for i in range(100):
            db.put(b"k%03d" % i, b"new")
        db.flush()
    tables = files_with_suffix(path, ".ldt")
    assert len(tables) == 2
    older, newer = tables
    os.rename(older, os.path.join(path, "000900.ldt"))
    os.rename(newer, os.path.join(path, "000001.ldt"))
    os.remove(os.path.join(path, "CURRENT"))
    lightning.repair(path)
    with lightning.open(path) as db:
        assert dict(db.scan()) == {b"k%03d" % i: b"new" for i in range(100)}


def test_repair_moves_a_damaged_table_aside(tmp_path):
    path = str(tmp_path / "x.ldb")
    with lightning.open(path, background_compaction=False) as db:
        for i in range(100):
            db.put(b"a%03d" % i, b"x" * 20)
        db.flush()
        for i in range(100):
            db.put(b"b%03d" % i, b"y" * 20)
        db.flush()
    victim = files_with_suffix(path, ".ldt")[0]
    with open(victim, "r+b") as f:
        f.truncate(os.path.getsize(victim) - 10)
    data = listing(path)[os.path.basename(victim)]
    summary = lightning.repair(path)
    aside = [s["file"] for s in summary["set_aside"]]
    assert aside == ["lost/" + os.path.basename(victim)]
    assert listing(path)[aside[0]] == data
    with lightning.open(path) as db:
        got = dict(db.scan())
    assert len(got) == 100 and all(k.startswith(b"b") for k in got)


def test_repair_refuses_an_open_database(tmp_path):
    path = str(tmp_path / "x.ldb")
    with lightning.open(path):
        with pytest.raises(lightning.OperationalError):
            lightning.repair(path)


def test_wal_recovery_option_is_checked(tmp_path):
    with pytest.raises(lightning.ProgrammingError):
        lightning.open(str(tmp_path / "x.ldb"), wal_recovery="bogus")


def test_connect_passes_wal_recovery(tmp_path):
    path = str(tmp_path / "x.ldb")
    write_full_then_crash(path)
    damage_log_middle(path)
    with pytest.raises(lightning.CorruptionError):
        lightning.connect(path)
    conn = lightning.connect(path, wal_recovery="point_in_time")
    conn.close()
