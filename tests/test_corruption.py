"""Damaged files: a flipped byte in a table block raises CorruptionError when that
block is read (never wrong data); a torn or garbage log tail is cut at recovery and the
database opens with every complete record; a damaged manifest gives CorruptionError
naming the manifest file. (Damage with records after it, and a lost CURRENT or
manifest: tests/test_recovery.py and tests/test_damage_matrix.py.)"""

import json
import os
import random
import struct

import pytest

import lightning

from conftest import files_with_suffix

FOOTER_SIZE = 56
TABLE_MAGIC = 0x4C69676874446231


def value_for(i):
    return json.dumps({"id": i, "name": f"user {i}", "tags": ["a", "b", str(i % 7)]}).encode()


def varint(buf, pos):
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def table_layout(path):
    """(data_end, index_offset, index_size) of a table file, from its footer."""
    with open(path, "rb") as f:
        data = f.read()
    footer = data[-FOOTER_SIZE:]
    (magic,) = struct.unpack_from("<Q", footer, FOOTER_SIZE - 8)
    assert magic == TABLE_MAGIC, f"{path}: bad magic {magic:#x}"
    filter_off, pos = varint(footer, 0)
    filter_size, pos = varint(footer, pos)
    index_off, pos = varint(footer, pos)
    index_size, pos = varint(footer, pos)
    data_end = filter_off if filter_size else index_off
    assert 0 < data_end <= index_off < len(data)
    return data_end, index_off, index_size


def flip_byte(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x5A]))


@pytest.fixture
def compacted_db(dbpath):
    """A closed database whose 5000 keys live in compacted table files."""
    with lightning.open(dbpath, memtable_size=64 << 10, table_size=128 << 10) as db:
        with db.batch() as b:
            for i in range(5000):
                b.put(b"key%06d" % i, value_for(i))
        db.flush()
        db.compact()
    return dbpath


@pytest.mark.parametrize("where", [0.1, 0.5, 0.9])
def test_flipped_data_block_byte_raises_corruption(compacted_db, where):
    tables = files_with_suffix(compacted_db, ".ldt")
    assert tables, "no table files after flush+compact"
    victim = max(tables, key=os.path.getsize)
    data_end, _, _ = table_layout(victim)
    flip_byte(victim, int(data_end * where))

    with lightning.open(compacted_db, cache_size=1 << 20) as db:
        errors = 0
        for i in range(5000):
            try:
                v = db.get(b"key%06d" % i)
            except lightning.CorruptionError as e:
                errors += 1
                assert os.path.basename(victim) in str(e), str(e)
                assert e.code == lightning.errors.ECORRUPT
            else:
                assert v == value_for(i), f"wrong data for key {i}"
        assert errors > 0, "a flipped byte went unnoticed"
        with pytest.raises(lightning.CorruptionError):
            for k, v in db.scan():
                assert v == value_for(int(k[3:])), "wrong data in scan"
        with pytest.raises(lightning.CorruptionError):
            for k, v in db.scan(reverse=True):
                assert v == value_for(int(k[3:])), "wrong data in reverse scan"
        # Reads of other blocks keep working.
        assert sum(1 for i in range(5000) if _readable(db, i)) == 5000 - errors


def _readable(db, i):
    try:
        return db.get(b"key%06d" % i) == value_for(i)
    except lightning.CorruptionError:
        return False


def test_flipped_index_block_byte_raises_corruption(compacted_db):
    victim = max(files_with_suffix(compacted_db, ".ldt"), key=os.path.getsize)
    _, index_off, index_size = table_layout(victim)
    flip_byte(victim, index_off + index_size // 2)
    with pytest.raises(lightning.CorruptionError):
        with lightning.open(compacted_db) as db:
            for k, v in db.scan():
                assert v == value_for(int(k[3:])), "wrong data"


def test_truncated_table_raises_corruption(compacted_db):
    victim = max(files_with_suffix(compacted_db, ".ldt"), key=os.path.getsize)
    with open(victim, "r+b") as f:
        f.truncate(os.path.getsize(victim) - 10)
    with pytest.raises(lightning.CorruptionError):
        with lightning.open(compacted_db) as db:
            list(db.scan())


def write_then_crash(dbpath, n, first=0):
    """n single-key commits with sync="full" and no flush, then an abandoned engine
    (files closed without any shutdown work). Returns the newest log file."""
    db = lightning.open(dbpath, sync="full", memtable_size=64 << 20)
    for i in range(first, first + n):
        db.put(b"k%05d" % i, b"v%05d" % i)
    db._crash()
    logs = files_with_suffix(dbpath, ".log")
    assert logs, "no log file"
    newest = max(logs, key=lambda p: int(os.path.basename(p)[:-4]))
    assert os.path.getsize(newest) > 0
    return newest


@pytest.mark.parametrize("cut", [1, 3, 7, 12])
def test_torn_log_tail_is_cut_at_recovery(dbpath, cut):
    log = write_then_crash(dbpath, 200)
    with open(log, "r+b") as f:
        f.truncate(os.path.getsize(log) - cut)
    with lightning.open(dbpath) as db:
        got = dict(db.scan())
        for i in range(199):
            assert got.get(b"k%05d" % i) == b"v%05d" % i, f"complete record {i} lost"
        assert b"k00199" not in got, "torn record resurrected"
        assert len(got) == 199
        db.put(b"after", b"recovery")
    with lightning.open(dbpath) as db:
        assert len(dict(db.scan())) == 200
        assert db.get(b"after") == b"recovery"


def test_garbage_log_tail_is_cut_at_recovery(dbpath):
    log = write_then_crash(dbpath, 100)
    with open(log, "ab") as f:
        f.write(random.Random(5).randbytes(1000))
    with lightning.open(dbpath) as db:
        assert len(list(db.scan())) == 100
        db.put(b"k00100", b"v00100")
    with lightning.open(dbpath) as db:
        assert len(list(db.scan())) == 101
        assert db.get(b"k00100") == b"v00100"


def test_torn_tail_after_several_recoveries(dbpath):
    write_then_crash(dbpath, 50)
    write_then_crash(dbpath, 50, first=50)
    log = write_then_crash(dbpath, 50, first=100)
    with open(log, "r+b") as f:
        f.truncate(os.path.getsize(log) - 2)
    with lightning.open(dbpath) as db:
        got = dict(db.scan())
        assert len(got) == 149 and b"k00149" not in got
        assert all(got[b"k%05d" % i] == b"v%05d" % i for i in range(149))


def current_manifest(dbpath):
    with open(os.path.join(dbpath, "CURRENT"), "rb") as f:
        name = f.read().decode().strip()
    assert name.startswith("MANIFEST-"), name
    return name


@pytest.mark.parametrize("damage", ["garbage", "flip"])
def test_damaged_manifest_names_the_file(compacted_db, damage):
    name = current_manifest(compacted_db)
    path = os.path.join(compacted_db, name)
    size = os.path.getsize(path)
    assert size > 0
    if damage == "garbage":
        with open(path, "wb") as f:
            f.write(random.Random(6).randbytes(size))
    else:
        flip_byte(path, min(10, size - 1))
    with pytest.raises(lightning.CorruptionError) as ei:
        lightning.open(compacted_db)
    assert name in str(ei.value), str(ei.value)


def test_missing_manifest_is_an_error_naming_it(compacted_db):
    name = current_manifest(compacted_db)
    os.remove(os.path.join(compacted_db, name))
    with pytest.raises(lightning.CorruptionError) as ei:
        lightning.open(compacted_db)
    assert name in str(ei.value), str(ei.value)
