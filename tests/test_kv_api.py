"""The KV API's promises, method by method: argument types and limits, errors and their
messages, :memory:, context managers, batches, snapshots, scans, persistence across
reopen, two handles on one path, and read-only opens."""

import os

import pytest

import lightning
from lightning import errors
from lightning._ffi import lib

from conftest import TINY


@pytest.fixture
def db(dbpath):
    with lightning.open(dbpath) as d:
        yield d


# ---- module surface ----------------------------------------------------------------

def test_module_exports():
    assert lightning.__version__ == "0.1.0"
    assert callable(lightning.open)
    for name in ("Warning", "Error", "InterfaceError", "DatabaseError", "DataError",
                 "OperationalError", "IntegrityError", "InternalError",
                 "ProgrammingError", "NotSupportedError", "CorruptionError"):
        assert isinstance(getattr(lightning, name), type), name


def test_exception_hierarchy_is_pep249():
    L = lightning
    assert issubclass(L.Error, Exception) and issubclass(L.Warning, Exception)
    assert not issubclass(L.Warning, L.Error)
    assert issubclass(L.InterfaceError, L.Error)
    assert issubclass(L.DatabaseError, L.Error)
    assert not issubclass(L.InterfaceError, L.DatabaseError)
    for cls in (L.DataError, L.OperationalError, L.IntegrityError, L.InternalError,
                L.ProgrammingError, L.NotSupportedError, L.CorruptionError):
        assert issubclass(cls, L.DatabaseError), cls


def test_error_codes_match_header():
    for name in ("ENOTFOUND", "ECORRUPT", "EIO", "EINVAL", "ENOMEM", "ELOCKED",
                 "EREADONLY", "ECLOSED", "ECONFLICT", "ENOENT", "EVERSION", "ENOSPC",
                 "EBUSY", "EFORKED"):
        assert getattr(errors, name) == getattr(lib, "LT_" + name), name
    assert errors.error_class(lib.LT_ECORRUPT) is lightning.CorruptionError
    assert errors.error_class(lib.LT_ECLOSED) is lightning.InterfaceError
    assert errors.error_class(lib.LT_ELOCKED) is lightning.OperationalError
    assert errors.error_class(lib.LT_EFORKED) is lightning.InterfaceError
    assert errors.error_class(-1) is lightning.InternalError
    assert lightning.MAX_KEY_SIZE == 16 * 1024
    assert lightning.MAX_VALUE_SIZE == 64 * 1024 * 1024


# ---- point operations --------------------------------------------------------------

def test_put_get_delete_contains(db):
    assert db.get(b"a") is None
    assert db.get(b"a", b"dflt") == b"dflt"
    assert b"a" not in db
    db.put(b"a", b"1")
    v = db.get(b"a")
    assert v == b"1" and type(v) is bytes
    assert b"a" in db
    db.put(b"a", b"2")
    assert db.get(b"a") == b"2"
    db.delete(b"a")
    assert db.get(b"a") is None and b"a" not in db
    db.delete(b"never-there")   # deleting an absent key is fine


def test_empty_key_and_empty_value(db):
    db.put(b"", b"empty key")
    db.put(b"k", b"")
    assert db.get(b"") == b"empty key"
    assert db.get(b"k", b"default") == b""
    assert b"k" in db
    assert list(db.scan()) == [(b"", b"empty key"), (b"k", b"")]


def test_bytes_like_arguments(db):
    db.put(bytearray(b"ba"), memoryview(b"mv-value"))
    assert db.get(memoryview(b"ba")) == b"mv-value"
    assert type(db.get(bytearray(b"ba"))) is bytes
    assert bytearray(b"ba") in db
    db.put(memoryview(b"xxkeyxx")[2:5], bytearray(b"sliced"))
    assert db.get(b"key") == b"sliced"
    db.delete(bytearray(b"ba"))
    assert db.get(b"ba") is None


@pytest.mark.parametrize("call, arg", [
    (lambda db: db.get("text"), "key"),
    (lambda db: db.get(1), "key"),
    (lambda db: db.put("k", b"v"), "key"),
    (lambda db: db.put(b"k", "v"), "value"),
    (lambda db: db.put(b"k", None), "value"),
    (lambda db: db.delete(None), "key"),
    (lambda db: "k" in db, "key"),
    (lambda db: list(db.scan(start="a")), "start"),
    (lambda db: list(db.scan(end=5)), "end"),
    (lambda db: list(db.scan(prefix="p")), "prefix"),
    (lambda db: db.compact(start="a"), "start"),
    (lambda db: db.batch().put(b"k", 3.5), "value"),
    (lambda db: db.batch().delete("k"), "key"),
])
def test_type_errors_name_the_argument(db, call, arg):
    with pytest.raises(TypeError) as ei:
        call(db)
    msg = str(ei.value)
    assert msg.startswith(f"{arg} must be bytes-like, not "), msg


def test_type_error_message_names_the_type(db):
    with pytest.raises(TypeError, match=r"^key must be bytes-like, not str$"):
        db.get("k")
    with pytest.raises(TypeError, match=r"^value must be bytes-like, not int$"):
        db.put(b"k", 1)


def test_size_limits(db):
    big_key = b"k" * lightning.MAX_KEY_SIZE
    db.put(big_key, b"v")
    assert db.get(big_key) == b"v"
    too_big = big_key + b"x"
    for call in (lambda: db.put(too_big, b"v"), lambda: db.get(too_big),
                 lambda: db.delete(too_big), lambda: db.batch().put(too_big, b""),
                 lambda: too_big in db):
        with pytest.raises(lightning.DataError) as ei:
            call()
        assert "key" in str(ei.value) and str(len(too_big)) in str(ei.value)
        assert ei.value.code == lib.LT_EINVAL
    with pytest.raises(lightning.DataError, match="start is 16385 bytes"):
        list(db.scan(start=too_big))


def test_value_size_limit(db):
    too_big = bytes(lightning.MAX_VALUE_SIZE + 1)
    with pytest.raises(lightning.DataError, match=f"value is {len(too_big)} bytes"):
        db.put(b"k", too_big)
    del too_big
    big = os.urandom(1 << 20) * 3
    db.put(b"big", big)
    assert db.get(b"big") == big


# ---- open options ------------------------------------------------------------------

def test_open_bad_values_raise_programming_error(dbpath):
    with pytest.raises(lightning.ProgrammingError, match="'bogus'"):
        lightning.open(dbpath, sync="bogus")
    with pytest.raises(lightning.ProgrammingError, match="'lz4'"):
        lightning.open(dbpath, compression="lz4")
    for name in ("cache_size", "memtable_size", "page_size", "table_size"):
        with pytest.raises(lightning.ProgrammingError, match=f"{name} must be >= .*-1"):
            lightning.open(dbpath, **{name: -1})
    with pytest.raises(TypeError, match="memtable_size must be an int, not str"):
        lightning.open(dbpath, memtable_size="4MB")
    assert not os.path.exists(dbpath)


def test_open_unknown_keyword_raises_type_error(dbpath):
    with pytest.raises(TypeError, match="'frobnicate'"):
        lightning.open(dbpath, frobnicate=1)
    with pytest.raises(TypeError):
        lightning.open(dbpath, "full")   # options are keyword-only


def test_open_accepts_every_advanced_option(dbpath):
    with lightning.open(dbpath, sync="off", compression="none", cache_size=1 << 20,
                        memtable_size=64 << 10, page_size=1024, table_size=256 << 10,
                        level1_size=1 << 20, sync_interval_ms=10, bloom_bits_per_key=0,
                        background_compaction=False, l0_compaction_trigger=2,
                        l0_slowdown_trigger=6, l0_stop_trigger=10) as db:
        for i in range(2000):
            db.put(b"%05d" % i, b"v" * 50)
        db.flush()
        db.compact()
        assert db.get(b"01999") == b"v" * 50


def test_open_create_false_missing(dbpath):
    with pytest.raises(lightning.OperationalError) as ei:
        lightning.open(dbpath, create=False)
    assert ei.value.code == lib.LT_ENOENT
    assert ei.value.args[0].startswith("open ")
    assert not os.path.exists(dbpath)


def test_open_pathlike_and_sync_modes(tmp_path):
    for sync in ("off", "normal", "full"):
        p = tmp_path / f"db-{sync}"
        with lightning.open(p, sync=sync) as db:
            db.put(b"k", sync.encode())
        with lightning.open(str(p), create=False) as db:
            assert db.get(b"k") == sync.encode()


def test_created_files_are_private(dbpath):
    with lightning.open(dbpath, **TINY) as db:
        for i in range(500):
            db.put(b"%04d" % i, b"x" * 100)
        db.flush()
    names = os.listdir(dbpath)
    assert any(n.endswith(".ldt") for n in names)
    for n in names:
        mode = os.stat(os.path.join(dbpath, n)).st_mode & 0o777
        assert mode & 0o077 == 0, (n, oct(mode))


# ---- :memory: ----------------------------------------------------------------------

def test_memory_database(tmp_path):
    before = set(os.listdir(tmp_path))
    with lightning.open(":memory:", **TINY) as db:
        assert db.path == ":memory:"
        for i in range(3000):
            db.put(b"k%05d" % i, b"value %d" % i)
        db.flush()
        db.compact()
        assert db.get(b"k00042") == b"value 42"
        assert len(list(db.scan(prefix=b"k01"))) == 1000
        with db.snapshot() as snap:
            db.delete(b"k00042")
            assert snap.get(b"k00042") == b"value 42"
        assert db.get(b"k00042") is None
        assert isinstance(db.stats(), dict)
    assert set(os.listdir(tmp_path)) == before
    assert not os.path.exists(":memory:")


def test_memory_databases_are_independent():
    a = lightning.open(":memory:")
    b = lightning.open(":memory:")
    a.put(b"k", b"a")
    assert b.get(b"k") is None
    b.put(b"k", b"b")
    assert a.get(b"k") == b"a"
    a.close()
    assert b.get(b"k") == b"b"
    b.close()


# ---- lifetime ----------------------------------------------------------------------

def test_context_manager_and_closed(dbpath):
    with lightning.open(dbpath) as db:
        assert not db.closed
        assert "open" in repr(db)
    assert db.closed
    assert "closed" in repr(db)
    db.close()   # idempotent


@pytest.mark.parametrize("op", [
    lambda db: db.get(b"k"),
    lambda db: db.put(b"k", b"v"),
    lambda db: db.delete(b"k"),
    lambda db: b"k" in db,
    lambda db: list(db.scan()),
    lambda db: db.snapshot(),
    lambda db: db.flush(),
    lambda db: db.compact(),
    lambda db: db.stats(),
    lambda db: db.batch().commit(),
    lambda db: db.__enter__(),
])
def test_closed_database_raises_interface_error(dbpath, op):
    db = lightning.open(dbpath)
    db.put(b"k", b"v")
    db.close()
    with pytest.raises(lightning.InterfaceError) as ei:
        op(db)
    assert ei.value.code == lib.LT_ECLOSED


def test_batch_commit_on_closed_database(dbpath):
    db = lightning.open(dbpath)
    b = db.batch()
    b.put(b"k", b"v")
    db.close()
    with pytest.raises(lightning.InterfaceError, match="^batch commit: "):
        b.commit()


def test_close_invalidates_snapshots_and_iterators(dbpath):
    db = lightning.open(dbpath)
    for i in range(10000):
        db.put(b"%05d" % i, b"v")
    snap = db.snapshot()
    it = db.scan()
    assert next(it) == (b"00000", b"v")
    sit = snap.scan()
    assert next(sit)[0] == b"00000"
    db.close()
    with pytest.raises(lightning.InterfaceError):
        snap.get(b"00001")
    with pytest.raises(lightning.InterfaceError):
        snap.seq
    with pytest.raises(lightning.InterfaceError):
        next(it)
    with pytest.raises(lightning.InterfaceError):
        next(it)   # stays unusable
    with pytest.raises(lightning.InterfaceError):
        next(sit)
    with pytest.raises(lightning.InterfaceError):
        for _ in it:
            pass
    snap.close()   # releasing after the database closed is harmless
    it.close()


def test_iterator_close(db):
    for i in range(100):
        db.put(b"%03d" % i, b"v")
    it = db.scan()
    assert next(it)[0] == b"000"
    it.close()
    it.close()
    with pytest.raises(lightning.InterfaceError, match="iterator is closed"):
        next(it)
    with pytest.raises(lightning.InterfaceError):
        list(it)
    with db.scan() as it2:
        assert next(it2)[0] == b"000"
    with pytest.raises(lightning.InterfaceError):
        next(it2)


def test_iterator_close_while_looping(db):
    for i in range(100):
        db.put(b"%03d" % i, b"v")
    it = db.scan()
    seen = []
    with pytest.raises(lightning.InterfaceError):
        for k, _ in it:
            seen.append(k)
            if len(seen) == 3:
                it.close()
    assert seen == [b"000", b"001", b"002"]


def test_exhausted_iterator_stops(db):
    db.put(b"a", b"1")
    it = db.scan()
    assert list(it) == [(b"a", b"1")]
    assert list(it) == []
    with pytest.raises(StopIteration):
        next(it)


def test_handles_are_freed(dbpath):
    """Dropping objects without closing them releases their handles (the lock too)."""
    db = lightning.open(dbpath)
    db.put(b"k", b"v")
    snap = db.snapshot()
    it = db.scan()
    next(it)
    del db, snap, it
    import gc
    gc.collect()
    # The engine shut down, so a fresh open recovers from the files.
    with lightning.open(dbpath) as db2:
        assert db2.get(b"k") == b"v"


# ---- batches -----------------------------------------------------------------------

def test_batch_context_manager_commits(db):
    with db.batch() as b:
        for i in range(100):
            b.put(b"b%03d" % i, b"v%d" % i)
        b.delete(b"b050")
        assert len(b) == 101
        assert db.get(b"b000") is None   # nothing visible before commit
    assert db.get(b"b000") == b"v0"
    assert db.get(b"b099") == b"v99"
    assert db.get(b"b050") is None


def test_batch_exception_writes_nothing(db):
    db.put(b"keep", b"old")
    with pytest.raises(RuntimeError, match="boom"):
        with db.batch() as b:
            b.put(b"x1", b"1")
            b.put(b"keep", b"new")
            b.delete(b"keep")
            raise RuntimeError("boom")
    assert db.get(b"x1") is None
    assert db.get(b"keep") == b"old"
    assert list(db.scan()) == [(b"keep", b"old")]


def test_batch_order_within_batch(db):
    db.put(b"a", b"0")
    with db.batch() as b:
        b.put(b"a", b"1")
        b.delete(b"a")
        b.delete(b"c")
        b.put(b"c", b"3")
        b.put(b"d", b"4")
        b.put(b"d", b"5")
    assert db.get(b"a") is None
    assert db.get(b"c") == b"3"
    assert db.get(b"d") == b"5"


def test_batch_object_api(db):
    b = db.batch()
    assert b.commit() is None   # empty
    b.put(b"k1", b"v1")
    b.put(bytearray(b"k2"), memoryview(b"v2"))
    s1 = b.commit()
    assert isinstance(s1, int) and s1 > 0
    assert len(b) == 0
    assert db.get(b"k1") == b"v1" and db.get(b"k2") == b"v2"
    b.delete(b"k1")
    s2 = b.commit()
    assert s2 > s1
    assert db.get(b"k1") is None
    b.put(b"k3", b"v3")
    b.clear()
    assert b.commit() is None
    assert db.get(b"k3") is None


def test_batch_is_atomic_for_snapshots(db):
    snap_before = db.snapshot()
    with db.batch() as b:
        for i in range(1000):
            b.put(b"%04d" % i, b"x")
    with db.snapshot() as after:
        assert len(list(after.scan())) == 1000
    assert list(snap_before.scan()) == []
    snap_before.close()


def test_large_batch_crossing_memtables(dbpath):
    with lightning.open(dbpath, **TINY) as db:
        with db.batch() as b:
            for i in range(5000):
                b.put(b"%05d" % i, b"y" * 20)
        assert sum(1 for _ in db.scan()) == 5000
        assert db.get(b"04999") == b"y" * 20


# ---- snapshots ---------------------------------------------------------------------

def test_snapshot_isolation(db):
    db.put(b"a", b"1")
    db.put(b"b", b"1")
    with db.snapshot() as snap:
        seq = snap.seq
        assert isinstance(seq, int)
        db.put(b"a", b"2")
        db.delete(b"b")
        db.put(b"c", b"new")
        with db.batch() as b:
            b.put(b"d", b"batched")
        assert snap.get(b"a") == b"1"
        assert snap.get(b"b") == b"1"
        assert snap.get(b"c") is None
        assert snap.get(b"c", b"dflt") == b"dflt"
        assert b"c" not in snap and b"b" in snap
        assert list(snap.scan()) == [(b"a", b"1"), (b"b", b"1")]
        assert list(snap.scan(reverse=True)) == [(b"b", b"1"), (b"a", b"1")]
        assert list(snap.scan(start=b"b")) == [(b"b", b"1")]
        assert snap.seq == seq
        with db.snapshot() as snap2:
            assert snap2.seq > seq
            assert snap2.get(b"a") == b"2"
    assert snap.closed
    assert db.get(b"a") == b"2"


def test_snapshot_survives_flush_and_compaction(dbpath):
    with lightning.open(dbpath, **TINY) as db:
        for i in range(2000):
            db.put(b"%05d" % i, b"old")
        snap = db.snapshot()
        for i in range(2000):
            db.put(b"%05d" % i, b"new")
        for i in range(0, 2000, 2):
            db.delete(b"%05d" % i)
        db.flush()
        db.compact()
        assert snap.get(b"00000") == b"old"
        assert all(v == b"old" for _, v in snap.scan())
        assert sum(1 for _ in snap.scan()) == 2000
        assert sum(1 for _ in db.scan()) == 1000
        snap.close()
        db.compact()
        assert sum(1 for _ in db.scan()) == 1000


def test_released_snapshot_raises(db):
    snap = db.snapshot()
    snap.close()
    snap.close()
    assert snap.closed
    with pytest.raises(lightning.InterfaceError):
        snap.get(b"k")
    with pytest.raises(lightning.InterfaceError):
        snap.scan()
    with pytest.raises(lightning.InterfaceError):
        snap.seq
    with pytest.raises(lightning.InterfaceError):
        b"k" in snap
    with pytest.raises(TypeError, match="key must be bytes-like"):
        snap.get("k")


def test_snapshot_release_invalidates_its_iterators(db):
    for i in range(100):
        db.put(b"%03d" % i, b"v")
    snap = db.snapshot()
    it = snap.scan()
    assert next(it)[0] == b"000"
    snap.close()
    with pytest.raises(lightning.InterfaceError):
        next(it)
    assert db.get(b"000") == b"v"


# ---- scans -------------------------------------------------------------------------

@pytest.fixture
def letters(db):
    for c in b"abcdefgh":
        db.put(bytes([c]), bytes([c]) * 2)
    return db


def keys(it):
    return [k for k, _ in it]


def test_scan_bounds(letters):
    db = letters
    assert keys(db.scan()) == list(b"a b c d e f g h".split())
    assert keys(db.scan(b"c")) == [b"c", b"d", b"e", b"f", b"g", b"h"]
    assert keys(db.scan(b"c", b"f")) == [b"c", b"d", b"e"]          # end exclusive
    assert keys(db.scan(end=b"c")) == [b"a", b"b"]
    assert keys(db.scan(b"bb", b"dd")) == [b"c", b"d"]
    assert keys(db.scan(b"f", b"c")) == []
    assert keys(db.scan(b"c", b"c")) == []
    assert keys(db.scan(b"z")) == []
    assert list(db.scan(b"a", b"b")) == [(b"a", b"aa")]
    pair = next(db.scan())
    assert type(pair) is tuple and type(pair[0]) is bytes and type(pair[1]) is bytes


def test_scan_reverse(letters):
    db = letters
    assert keys(db.scan(reverse=True)) == list(b"h g f e d c b a".split())
    assert keys(db.scan(b"c", b"f", reverse=True)) == [b"e", b"d", b"c"]
    assert keys(db.scan(end=b"c", reverse=True)) == [b"b", b"a"]
    assert keys(db.scan(b"g", reverse=True)) == [b"h", b"g"]
    assert keys(db.scan(b"f", b"c", reverse=True)) == []


def test_scan_limit(letters):
    db = letters
    assert keys(db.scan(limit=3)) == [b"a", b"b", b"c"]
    assert keys(db.scan(limit=3, reverse=True)) == [b"h", b"g", b"f"]
    assert keys(db.scan(b"g", limit=5)) == [b"g", b"h"]
    assert keys(db.scan(limit=0)) == []
    assert len(keys(db.scan(limit=100))) == 8
    with pytest.raises(lightning.ProgrammingError, match="limit"):
        db.scan(limit=-1)
    with pytest.raises(TypeError, match="limit"):
        db.scan(limit="3")


def test_scan_prefix(db):
    for k in (b"user:1", b"user:2", b"user:20", b"user;", b"use", b"users", b"v",
              b"\xff", b"\xff\xff", b"\xff\xffa", b"a\xff", b"a\xff\x00", b"b"):
        db.put(k, k)
    assert keys(db.scan(prefix=b"user:")) == [b"user:1", b"user:2", b"user:20"]
    assert keys(db.scan(prefix=b"user:", reverse=True)) == [b"user:20", b"user:2",
                                                            b"user:1"]
    assert keys(db.scan(prefix=b"user")) == [b"user:1", b"user:2", b"user:20",
                                             b"user;", b"users"]
    assert keys(db.scan(prefix=b"\xff")) == [b"\xff", b"\xff\xff", b"\xff\xffa"]
    assert keys(db.scan(prefix=b"\xff\xff", reverse=True)) == [b"\xff\xffa", b"\xff\xff"]
    assert keys(db.scan(prefix=b"a\xff")) == [b"a\xff", b"a\xff\x00"]
    assert len(keys(db.scan(prefix=b""))) == 13
    assert keys(db.scan(prefix=b"nope")) == []
    # prefix intersected with start/end
    assert keys(db.scan(b"user:2", prefix=b"user:")) == [b"user:2", b"user:20"]
    assert keys(db.scan(end=b"user:2", prefix=b"user:")) == [b"user:1"]
    assert keys(db.scan(b"a", b"z", prefix=b"user:")) == [b"user:1", b"user:2",
                                                          b"user:20"]
    assert keys(db.scan(b"v", prefix=b"user:")) == []
    assert keys(db.scan(end=b"b", prefix=b"user:")) == []
    assert keys(db.scan(b"user:1", b"user:3", prefix=b"user:2")) == [b"user:2",
                                                                     b"user:20"]
    assert keys(db.scan(prefix=b"user:", limit=2, reverse=True)) == [b"user:20",
                                                                     b"user:2"]


def test_scan_many_entries_both_directions(dbpath):
    n = 20000   # several engine batches
    with lightning.open(dbpath, memtable_size=256 << 10) as db:
        with db.batch() as b:
            for i in range(n):
                b.put(b"k%06d" % i, b"v%d" % i)
        fwd = list(db.scan())
        assert len(fwd) == n
        assert fwd[0] == (b"k000000", b"v0") and fwd[-1] == (b"k%06d" % (n - 1),
                                                              b"v%d" % (n - 1))
        assert [k for k, _ in fwd] == sorted(k for k, _ in fwd)
        assert list(db.scan(reverse=True)) == fwd[::-1]
        assert len(list(db.scan(limit=5000))) == 5000
        assert list(db.scan(b"k005000", b"k012000")) == fwd[5000:12000]
        assert list(db.scan(b"k005000", b"k012000", reverse=True)) == fwd[5000:12000][::-1]


def test_scan_values_larger_than_buffer(db):
    big = [os.urandom(300 << 10), os.urandom(1 << 20), b"small"]
    for i, v in enumerate(big):
        db.put(b"%d" % i, v)
    assert list(db.scan()) == [(b"%d" % i, v) for i, v in enumerate(big)]
    assert list(db.scan(reverse=True)) == [(b"%d" % i, v) for i, v in enumerate(big)][::-1]
    assert [len(v) for _, v in db.scan()] == [len(v) for v in big]


def test_scan_iterator_protocol(letters):
    it = letters.scan()
    assert iter(it) is iter(it)
    assert next(it) == (b"a", b"aa")
    rest = list(it)
    assert rest[0] == (b"b", b"bb") and len(rest) == 7


def test_scan_sees_deletes_and_overwrites_across_levels(dbpath):
    with lightning.open(dbpath, **TINY) as db:
        for i in range(1000):
            db.put(b"%04d" % i, b"a")
        db.flush()
        db.compact()
        for i in range(0, 1000, 3):
            db.put(b"%04d" % i, b"b")
        db.flush()
        for i in range(0, 1000, 5):
            db.delete(b"%04d" % i)
        expect = {}
        for i in range(1000):
            if i % 5 == 0:
                continue
            expect[b"%04d" % i] = b"b" if i % 3 == 0 else b"a"
        assert dict(db.scan()) == expect
        assert list(db.scan(reverse=True)) == sorted(expect.items(), reverse=True)


# ---- maintenance -------------------------------------------------------------------

def test_flush_compact_stats(dbpath):
    with lightning.open(dbpath, **TINY) as db:
        for i in range(3000):
            db.put(b"%05d" % i, b"value-%d" % i)
        db.flush()
        db.compact(b"00100", b"00200")
        db.compact(start=b"02000")
        db.compact(end=b"00500")
        db.compact()
        assert db.get(b"02999") == b"value-2999"
        st = db.stats()
        assert isinstance(st, dict) and st
    assert any(n.endswith(".ldt") for n in os.listdir(dbpath))


def test_compact_bad_range_is_harmless(db):
    db.put(b"a", b"1")
    db.compact(b"z", b"a")
    assert db.get(b"a") == b"1"


# ---- persistence -------------------------------------------------------------------

def test_reopen_persistence(dbpath):
    with lightning.open(dbpath, **TINY) as db:
        for i in range(3000):
            db.put(b"%05d" % i, b"v%d" % i)
        db.flush()
        for i in range(0, 3000, 2):
            db.delete(b"%05d" % i)
        db.put(b"last", b"unflushed")
    with lightning.open(dbpath, **TINY) as db:
        assert db.get(b"00000") is None
        assert db.get(b"00001") == b"v1"
        assert db.get(b"last") == b"unflushed"
        assert sum(1 for _ in db.scan()) == 1501
        db.compact()
    with lightning.open(dbpath) as db:
        assert sum(1 for _ in db.scan()) == 1501
        assert db.get(b"02999") == b"v2999"


def test_two_handles_on_one_path(dbpath):
    a = lightning.open(dbpath)
    b = lightning.open(dbpath)
    a.put(b"from-a", b"1")
    assert b.get(b"from-a") == b"1"
    with b.batch() as wb:
        wb.put(b"from-b", b"2")
    assert a.get(b"from-b") == b"2"
    snap = a.snapshot()
    a.close()
    with pytest.raises(lightning.InterfaceError):
        a.get(b"from-a")
    with pytest.raises(lightning.InterfaceError):
        snap.get(b"from-a")
    assert b.get(b"from-a") == b"1"
    b.put(b"after", b"3")
    assert list(b.scan()) == [(b"after", b"3"), (b"from-a", b"1"), (b"from-b", b"2")]
    b.close()
    with lightning.open(dbpath) as c:
        assert c.get(b"after") == b"3"


# ---- read-only ---------------------------------------------------------------------

def test_read_only(dbpath):
    with lightning.open(dbpath) as db:
        db.put(b"k", b"v")
    with lightning.open(dbpath, read_only=True) as db:
        assert db.get(b"k") == b"v"
        assert list(db.scan()) == [(b"k", b"v")]
        with db.snapshot() as s:
            assert s.get(b"k") == b"v"
        for op in (lambda: db.put(b"k", b"w"), lambda: db.delete(b"k"),
                   lambda: _commit_one(db)):
            with pytest.raises(lightning.OperationalError) as ei:
                op()
            assert ei.value.code == lib.LT_EREADONLY
        assert db.get(b"k") == b"v"
    with lightning.open(dbpath) as db:
        assert db.get(b"k") == b"v"


def _commit_one(db):
    with db.batch() as b:
        b.put(b"x", b"y")


def test_read_only_missing_database(dbpath):
    with pytest.raises(lightning.OperationalError):
        lightning.open(dbpath, read_only=True)
    assert not os.path.exists(dbpath)


def test_scan_reads_the_state_at_its_creation(db):
    for i in range(10000):   # more than one engine batch
        db.put(b"%05d" % i, b"a")
    it = db.scan()
    assert next(it) == (b"00000", b"a")
    db.put(b"09000", b"changed")
    db.put(b"09000x", b"new")
    db.delete(b"09999")
    rest = list(it)
    assert len(rest) == 9999
    assert all(v == b"a" for _, v in rest)
    assert rest[-1] == (b"09999", b"a")


def test_batch_put_many_matches_put(db):
    pairs = [(b"k%03d" % i, b"v" * i) for i in range(200)]
    with db.batch() as b:
        b.delete(b"k005")                      # order with other operations is kept
        b.put_many(pairs[:100])
        b.delete(b"k050")
        b.put_many(iter(pairs[100:]))          # any iterable
        b.put_many([])
        assert len(b) == 202
    expected = {k: v for k, v in pairs if k != b"k050"}
    assert dict(db.scan()) == expected


def test_batch_put_many_bytes_like_and_errors(db):
    with db.batch() as b:
        b.put_many([(bytearray(b"a"), memoryview(b"1")), (b"b", b"2")])
    assert db.get(b"a") == b"1" and db.get(b"b") == b"2"
    with pytest.raises(TypeError, match="value must be bytes-like, not str"):
        with db.batch() as b:
            b.put_many([(b"c", b"3"), (b"d", "4")])
    with pytest.raises(TypeError, match="pairs"):
        db.batch().put_many([b"ab"])
    with pytest.raises(lightning.DataError, match="key is 16385 bytes"):
        db.batch().put_many([(b"k" * 16385, b"v")])
    assert db.get(b"c") is None and db.get(b"d") is None


@pytest.mark.parametrize("items, index, what", [
    ([(b"a", b"1"), (b"b", b"2", b"x")], 1, "tuple of 3"),       # mixed with pairs
    ([(b"a", b"1", b"x"), (b"b", b"2")], 0, "tuple of 3"),
    ([(b"a", b"1", b"x")], 0, "tuple of 3"),
    ([(b"a", b"1"), [b"b"]], 1, "list of 1"),
    ([(b"a", b"1"), b"bc"], 1, "bytes"),
])
def test_batch_put_many_rejects_items_that_are_not_pairs(db, items, index, what):
    b = db.batch()
    with pytest.raises(TypeError, match=rf"put_many items must be \(key, value\) pairs; "
                                        rf"item {index} is a {what}$"):
        b.put_many(items)
    b.clear()
    with pytest.raises(TypeError, match=rf"; item {index} is a {what}$"):
        b.put_many(iter(items))
    assert db.get(b"a") is None and db.get(b"b") is None
    t = db.transaction()
    with pytest.raises(TypeError, match=rf"; item {index} is a {what}$"):
        t.put_many(items)
    assert t.get(b"b") is None          # nothing of the bad item was written
    t.rollback()


def test_garbage_collected_in_any_order_does_not_crash():
    """Python's cyclic GC frees objects of a cycle in any order: a ":memory:" database
    (with its memory env), open transactions, snapshots, scans and SQL connections
    dropped together must not crash the process. Run in a child so a crash fails the
    test instead of killing the test run."""
    import subprocess, sys  # noqa: E401
    from conftest import child_env
    script = r'''
import gc, lightning
def leak(i):
    db = lightning.open(":memory:")
    db.put(b"k", b"v")
    t = db.transaction(); t.put(b"a", b"1")
    s = db.snapshot(); it = iter(db.scan())
    cycle = [db, t, s, it]; cycle.append(cycle)
    con = lightning.connect(":memory:")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    con.execute("INSERT INTO t VALUES (1)")
for i in range(30):
    leak(i)
    gc.collect()
print("survived")
'''
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, env=child_env(),
                       timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == b"survived", (r.returncode, r.stderr[-2000:])
