"""The metadata damage matrix: each way CURRENT, the manifest, a log or a table file
can be lost or damaged, and its documented outcome. Never is data lost or deleted
silently: a failed open leaves every file as it was.

| damage | outcome |
| --- | --- |
| CURRENT missing, empty, garbage | CorruptionError naming CURRENT; repair recovers all data |
| CURRENT names a missing manifest | CorruptionError naming the manifest; repair recovers all data |
| manifest cut at a record boundary or mid-record | opens with all data (the cut lost nothing the files need), or CorruptionError naming the manifest (the files of the shortened state are gone); repair recovers all data |
| log damaged at its head or middle | CorruptionError naming the log; repair recovers every record but the damaged one |
| log cut inside its last record (torn tail) | opens with every complete record, the tail counted in stats() |
| table file missing | CorruptionError naming the table; repair recovers the rest |
| table file truncated | opens; reading it raises CorruptionError naming it; repair moves it into lost/ and recovers the rest |
"""

import os
import struct

import pytest

import lightning

from conftest import files_with_suffix, listing

BLOCK = 32768


def build(path):
    """A small database: keys a* compacted into level 1+, b* in a level-0 table, c*
    (one commit each) only in the log; a manifest of several records."""
    with lightning.open(path, memtable_size=16 << 10, background_compaction=False) as db:
        with db.batch() as b:
            for i in range(150):
                b.put(b"a%03d" % i, b"A%03d" % i)
        db.flush()
        db.compact()
        with db.batch() as b:
            for i in range(150):
                b.put(b"b%03d" % i, b"B%03d" % i)
        db.flush()
        for i in range(40):
            db.put(b"c%03d" % i, b"C%03d" % i)
    want = {b"a%03d" % i: b"A%03d" % i for i in range(150)}
    want.update({b"b%03d" % i: b"B%03d" % i for i in range(150)})
    want.update({b"c%03d" % i: b"C%03d" % i for i in range(40)})
    return want


def contents(path):
    with lightning.open(path) as db:
        return dict(db.scan())


def manifest_path(path):
    with open(os.path.join(path, "CURRENT"), "rb") as f:
        return os.path.join(path, f.read().decode().strip())


def record_ends(data):
    """Offsets just past each complete record of a record log."""
    ends, pos = [], 0
    while pos + 7 <= len(data):
        if BLOCK - pos % BLOCK < 7:
            pos += BLOCK - pos % BLOCK
            continue
        (n,) = struct.unpack_from("<H", data, pos + 4)
        kind = data[pos + 6]
        pos += 7 + n
        if kind in (1, 4):   # FULL, LAST
            ends.append(pos)
    return ends


def refused(path, *names):
    """Opening fails with CorruptionError naming each of `names`, changing nothing."""
    before = listing(path)
    with pytest.raises(lightning.CorruptionError) as ei:
        lightning.open(path)
    for name in names:
        assert name in str(ei.value), str(ei.value)
    assert listing(path) == before, "a failed open changed the directory"
    return str(ei.value)


@pytest.mark.parametrize("damage", ["missing", "empty", "garbage", "no_such_manifest"])
def test_current(tmp_path, damage):
    path = str(tmp_path / "db")
    want = build(path)
    current = os.path.join(path, "CURRENT")
    if damage == "missing":
        os.remove(current)
    else:
        with open(current, "wb") as f:
            f.write({"empty": b"", "garbage": b"\x00\xffMANIFEST?\n",
                     "no_such_manifest": b"MANIFEST-999999\n"}[damage])
    refused(path, "MANIFEST-999999" if damage == "no_such_manifest" else "CURRENT")
    lightning.repair(path)
    assert contents(path) == want


def manifest_cuts():
    """(label, function of the record ends -> cut offset): the manifest of build() has
    four records (the state at open, a flush, a compaction, a flush)."""
    cuts = [("empty", lambda ends: 0)]
    for k in range(4):
        cuts.append((f"after-record-{k}", lambda ends, k=k: ends[min(k, len(ends) - 1)]))
        cuts.append((f"inside-record-{k}", lambda ends, k=k:
                     (([0] + ends)[min(k, len(ends) - 1)] + ends[min(k, len(ends) - 1)]) // 2))
    return cuts


@pytest.mark.parametrize("label,cut", manifest_cuts(), ids=[c[0] for c in manifest_cuts()])
def test_manifest_cut(tmp_path, label, cut):
    path = str(tmp_path / "db")
    want = build(path)
    manifest = manifest_path(path)
    with open(manifest, "rb") as f:
        data = f.read()
    ends = record_ends(data)
    assert len(ends) == 4 and ends[-1] == len(data), ends
    with open(manifest, "r+b") as f:
        f.truncate(cut(ends))
    before = listing(path)
    try:
        got = contents(path)
    except lightning.CorruptionError as e:
        assert os.path.basename(manifest) in str(e), str(e)
        assert listing(path) == before, "a failed open changed the directory"
        lightning.repair(path)
        got = contents(path)
    assert got == want


@pytest.mark.parametrize("where", ["head", "middle"])
def test_log_damaged(tmp_path, where):
    path = str(tmp_path / "db")
    want = build(path)
    (log,) = [p for p in files_with_suffix(path, ".log") if os.path.getsize(p)]
    size = os.path.getsize(log)
    offset = 10 if where == "head" else size // 2
    with open(log, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x01]))
    refused(path, os.path.basename(log))
    summary = lightning.repair(path)
    assert [s["file"] for s in summary["set_aside"]] == ["lost/" + os.path.basename(log)]
    got = contents(path)
    lost = set(want) - set(got)
    assert len(lost) == 1 and lost.pop().startswith(b"c"), "only the damaged record is lost"
    assert all(want[k] == v for k, v in got.items())


def test_log_torn_tail(tmp_path):
    path = str(tmp_path / "db")
    want = build(path)
    (log,) = [p for p in files_with_suffix(path, ".log") if os.path.getsize(p)]
    with open(log, "r+b") as f:
        f.truncate(os.path.getsize(log) - 2)
    with lightning.open(path) as db:
        got = dict(db.scan())
        assert db.stats()["recovery"]["torn_tails"] == 1
    del want[b"c039"]
    assert got == want


def test_table_missing(tmp_path):
    path = str(tmp_path / "db")
    want = build(path)
    victim = files_with_suffix(path, ".ldt")[-1]
    os.remove(victim)
    refused(path, os.path.basename(victim))
    lightning.repair(path)
    got = contents(path)
    assert got and all(want[k] == v for k, v in got.items())


def test_table_truncated(tmp_path):
    path = str(tmp_path / "db")
    want = build(path)
    victim = files_with_suffix(path, ".ldt")[-1]
    with open(victim, "r+b") as f:
        f.truncate(os.path.getsize(victim) - 7)
    with lightning.open(path) as db:
        with pytest.raises(lightning.CorruptionError) as ei:
            dict(db.scan())
        assert os.path.basename(victim) in str(ei.value)
    summary = lightning.repair(path)
    assert [s["file"] for s in summary["set_aside"]] == ["lost/" + os.path.basename(victim)]
    got = contents(path)
    assert got and all(want[k] == v for k, v in got.items())
    assert set(want) - set(got), "the truncated table's keys cannot come back"
