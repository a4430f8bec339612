"""The C reads of a transaction (lightning/_speedups_txn.c): `txn._reader.get(key)`,
`_speedups.point_row` and `_speedups.index_rows` see exactly what Transaction.get and
Transaction.scan see (snapshot, own puts and deletes), step aside with NotImplemented
for everything unusual (non-bytes or over-long keys, a busy lock, an ended transaction,
a closed database, too many index entries) so the Python path can answer or raise, never
leave the transaction's lock held, and count for serializable validation as the same
Python reads do."""

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lightning
from lightning import ConflictError, CorruptionError, DataError, InterfaceError
from lightning.kv import MAX_KEY_SIZE
from lightning.sql import rowcodec

from lightning import _speedups as sp   # required: conftest.py


@pytest.fixture
def db(dbpath):
    d = lightning.open(dbpath)
    yield d
    d.close()


def same(txn, key):
    """reader.get(key) agrees with txn.get(key); returns the value."""
    got = txn._reader.get(key)
    assert got is not NotImplemented
    assert got == txn.get(key)
    assert not txn._lock.locked()
    return got


# ---- reader.get ------------------------------------------------------------------------

def test_reader_is_a_txn_reader(db):
    t = db.transaction()
    assert isinstance(t._reader, sp.TxnReader)
    t.rollback()


def test_get_agrees_with_txn_get(db):
    db.put(b"a", b"A")
    db.put(b"b", b"B")
    db.put(b"e", b"")
    db.put(b"gone", b"x")
    t = db.transaction()
    db.put(b"later", b"L")               # committed after t began: not in its snapshot
    db.put(b"a", b"A2")
    db.delete(b"b")
    assert same(t, b"a") == b"A"
    assert same(t, b"b") == b"B"
    assert same(t, b"e") == b""          # empty value: bytes, not None
    assert same(t, b"later") is None
    assert same(t, b"absent") is None
    assert same(t, b"") is None
    # own writes: puts, overwrites, deletes, an empty value, a re-put after a delete
    t.put(b"new", b"N")
    t.put(b"a", b"mine")
    t.delete(b"gone")
    t.put(b"ev", b"")
    t.delete(b"never")
    t.put(b"", b"empty key")
    assert same(t, b"new") == b"N"
    assert same(t, b"a") == b"mine"
    assert same(t, b"gone") is None
    assert same(t, b"ev") == b""
    assert same(t, b"never") is None
    assert same(t, b"") == b"empty key"
    t.delete(b"new")
    assert same(t, b"new") is None
    t.put(b"new", b"again")
    assert same(t, b"new") == b"again"
    # a savepoint rolled back to undoes the own write for the reader too
    s = t.savepoint()
    t.put(b"a", b"inner")
    t.delete(b"e")
    assert same(t, b"a") == b"inner" and same(t, b"e") is None
    t.rollback_to(s)
    assert same(t, b"a") == b"mine" and same(t, b"e") == b""
    # large values
    big = bytes(range(256)) * 400
    t.put(b"big", big)
    assert same(t, b"big") == big
    t.rollback()                         # (t wrote `a`, also written after it began)


def test_snapshot_isolation_for_reader(db):
    db.put(b"k", b"old")
    t = db.transaction(isolation="snapshot")
    other = db.transaction()
    other.put(b"k", b"other")
    other.put(b"n", b"other")
    other.commit()
    assert same(t, b"k") == b"old"
    assert same(t, b"n") is None
    t.commit()
    t2 = db.transaction()
    assert same(t2, b"k") == b"other" and same(t2, b"n") == b"other"
    t2.rollback()


KEY_LIST = [b"", b"a", b"ab", b"b", b"\x00", b"\xff" * 3, b"k1", b"k2"]
KEYS = st.sampled_from(KEY_LIST)
VALUES = st.binary(max_size=40)
OPS = st.lists(st.one_of(
    st.tuples(st.just("put"), KEYS, VALUES),
    st.tuples(st.just("delete"), KEYS, st.none()),
    st.tuples(st.just("other_put"), KEYS, VALUES),      # committed by someone else
    st.tuples(st.just("other_delete"), KEYS, st.none()),
), max_size=30)

_round = [0]


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(initial=st.dictionaries(KEYS, VALUES, max_size=6), ops=OPS,
       isolation=st.sampled_from(["serializable", "snapshot"]))
def test_reader_matches_txn_get_random(db, initial, ops, isolation):
    _round[0] += 1
    pre = b"r%d:" % _round[0]            # a fresh key space for every example
    for k, v in initial.items():
        db.put(pre + k, v)
    t = db.transaction(isolation=isolation)
    model = {pre + k: v for k, v in initial.items()}
    keys = [pre + k for k in KEY_LIST]
    for op, k, v in ops:
        k = pre + k
        if op == "put":
            t.put(k, v)
            model[k] = v
        elif op == "delete":
            t.delete(k)
            model.pop(k, None)
        elif op == "other_put":
            db.put(k, v)                 # never visible to t
        else:
            db.delete(k)
        for key in keys:
            assert t._reader.get(key) == t.get(key) == model.get(key), key
    assert not t._lock.locked()
    t.rollback()


# ---- NotImplemented: the Python path decides ---------------------------------------

def test_not_implemented_for_other_key_types_and_sizes(db):
    db.put(b"k", b"v")
    t = db.transaction()
    r = t._reader
    assert r.get("k") is NotImplemented
    assert r.get(bytearray(b"k")) is NotImplemented
    assert r.get(memoryview(b"k")) is NotImplemented
    assert r.get(None) is NotImplemented
    assert r.get(1) is NotImplemented

    class B(bytes):
        pass
    assert r.get(B(b"k")) is NotImplemented
    # ... and the Python path answers or raises
    assert t.get(bytearray(b"k")) == b"v" and t.get(B(b"k")) == b"v"
    with pytest.raises(TypeError):
        t.get("k")
    long_key = b"x" * (MAX_KEY_SIZE + 1)
    assert r.get(long_key) is NotImplemented
    with pytest.raises(DataError):
        t.get(long_key)
    assert same(t, b"x" * MAX_KEY_SIZE) is None      # the limit itself is fine
    assert not t._lock.locked()
    t.rollback()


@pytest.mark.parametrize("end", ["commit", "rollback"])
def test_not_implemented_after_the_end(db, end):
    db.put(b"k", b"v")
    t = db.transaction()
    t.put(b"own", b"1")
    assert same(t, b"k") == b"v"
    getattr(t, end)()
    assert t._reader.get(b"k") is NotImplemented
    assert t._reader.get(b"own") is NotImplemented
    assert sp.point_row(t._reader, b"k", (1,)) is NotImplemented
    assert sp.index_rows(t._reader, b"a", b"z", False, b"", 0, (1,), 16) is NotImplemented
    with pytest.raises(InterfaceError, match="ended"):
        t.get(b"k")
    assert not t._lock.locked()


def test_not_implemented_after_database_close(dbpath):
    d = lightning.open(dbpath)
    d.put(b"k", b"v")
    t = d.transaction()
    t.put(b"own", b"1")
    r = t._reader
    d.close()
    assert r.get(b"k") is NotImplemented
    assert r.get(b"own") is NotImplemented
    assert sp.point_row(r, b"k", (1,)) is NotImplemented
    assert sp.index_rows(r, b"a", b"z", False, b"", 0, (1,), 16) is NotImplemented
    with pytest.raises(InterfaceError):
        t.get(b"k")
    assert not t._lock.locked()
    t.rollback()                          # a no-op once ended
    del t
    assert r.get(b"k") is NotImplemented  # the reader keeps the handle alive


def test_busy_lock(db):
    db.put(b"k", b"v")
    db.put(b"R1", rowcodec.encode_row({1: 5}))
    db.put(b"I\x01", b"1")
    t = db.transaction()
    r = t._reader
    assert t._lock.acquire(blocking=False)
    try:
        assert r.get(b"k") is NotImplemented
        assert sp.point_row(r, b"R1", (1,)) is NotImplemented
        assert sp.index_rows(r, b"I", b"J", False, b"R", 1, (1,), 16) is NotImplemented
        assert t._lock.locked()           # not released by the reader
    finally:
        t._lock.release()
    assert same(t, b"k") == b"v"
    assert sp.point_row(r, b"R1", (1,)) == [(5,)]
    assert sp.index_rows(r, b"I", b"J", False, b"R", 1, (1,), 16) == [[5]]
    assert not t._lock.locked()
    t.rollback()


def test_busy_lock_held_by_another_thread(db):
    db.put(b"k", b"v")
    t = db.transaction()
    held, done = threading.Event(), threading.Event()

    def holder():
        with t._lock:
            held.set()
            done.wait(10)
    th = threading.Thread(target=holder)
    th.start()
    try:
        assert held.wait(10)
        assert t._reader.get(b"k") is NotImplemented      # no waiting
    finally:
        done.set()
        th.join()
    assert same(t, b"k") == b"v"
    t.rollback()


def test_argument_checks(db):
    t = db.transaction()
    r = t._reader
    with pytest.raises(TypeError):
        sp.point_row(object(), b"k", (1,))
    with pytest.raises(TypeError):
        sp.point_row(r, b"k")
    with pytest.raises(TypeError):
        sp.index_rows(None, b"a", b"b", False, b"", 0, (1,), 16)
    with pytest.raises(TypeError):
        sp.index_rows(r, b"a", b"b", False, b"", 0, (1,))
    assert sp.point_row(r, "k", (1,)) is NotImplemented
    assert sp.point_row(r, b"k", [1]) is NotImplemented
    for bad in [dict(start="a"), dict(end=bytearray(b"b")), dict(rp="R"), dict(ids=[1]),
                dict(fixed=1.0), dict(limit=16.0), dict(fixed=-1), dict(limit=-1),
                dict(limit=65)]:
        a = dict(start=b"a", end=b"b", rp=b"", fixed=0, ids=(1,), limit=16)
        a.update(bad)
        assert sp.index_rows(r, a["start"], a["end"], False, a["rp"], a["fixed"], a["ids"],
                             a["limit"]) is NotImplemented, bad
    assert sp.index_rows(r, b"a", b"b", False, b"", 0, (1,), 64) == []
    assert not t._lock.locked()
    t.rollback()


# ---- point_row and index_rows over a hand-made layout ------------------------------
#
# rows at b"R" + pk (rowcodec values); a non-unique index's entries at
# b"I" + value + pk with an empty value (the row key is the key's bytes from `fixed`
# on), a "unique" entry's value is the pk itself.

def row(i):
    return rowcodec.encode_row({1: i, 2: f"r{i}", 3: None})


def fill(t_or_db, group, pks):
    for pk in pks:
        t_or_db.put(b"R" + pk, row(pk[0]))
        t_or_db.put(b"I" + group + pk, b"")


def rows_py(t, start, end, reverse=False, fixed=None, ids=(1, 2, 3)):
    """index_rows done with Transaction.scan and Transaction.get."""
    out = []
    for k, v in t.scan(start, end, reverse=reverse):
        raw = t.get(b"R" + (v or k[fixed:]))
        if raw is not None:
            out.append(rowcodec.decode_row_ids(raw, ids))
    return out


def test_point_and_index_rows_match_python(db):
    fill(db, b"g", [b"\x01", b"\x03", b"\x05"])
    fill(db, b"h", [b"\x02"])
    db.put(b"Iu", b"\x05")                       # an entry naming its row by its value
    db.put(b"Ig\x09", b"")                      # an entry whose row is missing
    t = db.transaction()
    fill(t, b"g", [b"\x04"])                     # own writes
    t.delete(b"R\x03")
    t.put(b"R\x01", rowcodec.encode_row({1: 100, 2: "é\U0001f600", 3: b"\x00"}))
    db.put(b"R\x06", row(6))                     # committed later: not visible
    db.put(b"Ig\x06", b"")
    r = t._reader
    for pk in [b"\x01", b"\x02", b"\x03", b"\x04", b"\x06", b"\x09"]:
        raw = t.get(b"R" + pk)
        want = [] if raw is None else [tuple(rowcodec.decode_row_ids(raw, (3, 1, 2)))]
        assert sp.point_row(r, b"R" + pk, (3, 1, 2)) == want
    for start, end in [(b"Ig", b"Ih"), (b"Ih", b"Ii"), (b"Ix", b"Iy"), (b"Iu", b"Iv")]:
        for rev in (False, True):
            got = sp.index_rows(r, start, end, rev, b"R", 2, (1, 2, 3), 16)
            assert got == rows_py(t, start, end, rev, 2), (start, rev)
    assert sp.index_rows(r, b"Ig", b"Ih", False, b"R", 2, (1,), 16) == [[100], [4], [5]]
    assert sp.index_rows(r, b"Ig", b"Ih", True, b"R", 2, (2, 1), 16) == \
        [["r5", 5], ["r4", 4], ["é\U0001f600", 100]]
    # `limit` counts entries (5 here: \x03's and \x09's rows are missing): more than
    # `limit`: NotImplemented; exactly `limit`: the rows
    assert sp.index_rows(r, b"Ig", b"Ih", False, b"R", 2, (1,), 4) is NotImplemented
    assert sp.index_rows(r, b"Ig", b"Ih", False, b"R", 2, (1,), 5) == [[100], [4], [5]]
    assert not t._lock.locked()
    t.rollback()


def test_index_rows_limit_64(db):
    fill(db, b"g", [bytes([i]) for i in range(64)])
    t = db.transaction()
    got = sp.index_rows(t._reader, b"Ig", b"Ih", False, b"R", 2, (1,), 64)
    assert got == [[i] for i in range(64)]
    t.put(b"Ig\x40", b"")
    t.put(b"R\x40", row(64))
    assert sp.index_rows(t._reader, b"Ig", b"Ih", False, b"R", 2, (1,), 64) is NotImplemented
    t.rollback()


def test_index_rows_fixed_past_the_key(db):
    db.put(b"Ig", b"")                           # empty value, key shorter than `fixed`
    t = db.transaction()
    assert sp.index_rows(t._reader, b"Ig", b"Ih", False, b"R", 5, (1,), 16) \
        is NotImplemented
    t.rollback()


def test_index_rows_entries_over_the_batch(db):
    group = b"v" * 300                           # 14 entries of ~310 bytes > 4096
    fill(db, group, [bytes([i]) for i in range(14)])
    t = db.transaction()
    start, end = b"I" + group, b"I" + group + b"\xff"
    got = sp.index_rows(t._reader, start, end, False, b"R", len(start), (1,), 16)
    want = rows_py(t, start, end, fixed=len(start), ids=(1,))
    assert len(want) == 14
    assert got is NotImplemented or got == want
    t.rollback()


def test_index_rows_single_entry_over_the_batch(db):
    group = b"v" * 5000                          # one entry larger than the batch
    db.put(b"I" + group + b"\x01", b"")
    db.put(b"R\x01", row(1))
    t = db.transaction()
    start = b"I" + group
    assert sp.index_rows(t._reader, start, start + b"\xff", False, b"R", len(start),
                         (1,), 16) is NotImplemented
    t.rollback()


# ---- serializable validation ---------------------------------------------------------

def test_reader_get_counts_for_serializable(db):
    db.put(b"k", b"v")
    t = db.transaction()                         # serializable
    assert t._reader.get(b"k") == b"v"           # read only through the reader
    db.put(b"k", b"changed")
    t.put(b"elsewhere", b"1")
    with pytest.raises(ConflictError):
        t.commit()
    assert db.get(b"elsewhere") is None


def test_reader_get_of_absent_key_counts_for_serializable(db):
    t = db.transaction()
    assert t._reader.get(b"k") is None
    db.put(b"k", b"inserted")
    t.put(b"elsewhere", b"1")
    with pytest.raises(ConflictError):
        t.commit()


def test_point_row_counts_for_serializable(db):
    db.put(b"R1", row(1))
    t = db.transaction()
    assert sp.point_row(t._reader, b"R1", (1,)) == [(1,)]
    other = db.transaction()
    other.put(b"R1", row(2))
    other.commit()
    t.put(b"elsewhere", b"1")
    with pytest.raises(ConflictError):
        t.commit()


def test_reader_get_under_snapshot_commits(db):
    db.put(b"k", b"v")
    t = db.transaction(isolation="snapshot")
    assert t._reader.get(b"k") == b"v"
    db.put(b"k", b"changed")
    t.put(b"elsewhere", b"1")
    t.commit()
    assert db.get(b"elsewhere") == b"1"


def test_reads_without_a_conflicting_write_commit(db):
    db.put(b"k", b"v")
    fill(db, b"g", [b"\x01", b"\x02"])
    t = db.transaction()
    assert t._reader.get(b"k") == b"v"
    assert sp.index_rows(t._reader, b"Ig", b"Ih", False, b"R", 2, (1,), 16) == [[1], [2]]
    db.put(b"unrelated", b"x")                   # outside everything t read
    db.put(b"Ih\x01", b"")
    t.put(b"elsewhere", b"1")
    t.commit()


@pytest.mark.parametrize("new", [b"Ig\x00", b"Ig\x02", b"Ig\x09", b"Ig"])
@pytest.mark.parametrize("reverse", [False, True])
def test_index_rows_phantom_is_a_conflict(db, new, reverse):
    fill(db, b"g", [b"\x01", b"\x05"])
    t = db.transaction()
    got = sp.index_rows(t._reader, b"Ig", b"Ih", reverse, b"R", 2, (1,), 16)
    assert sorted(got) == [[1], [5]]
    other = db.transaction()
    other.put(new, b"")                         # a new entry inside [start, end)
    other.put(b"R" + new[2:], row(9))
    other.commit()
    t.put(b"elsewhere", b"1")
    with pytest.raises(ConflictError):
        t.commit()


def test_index_rows_phantom_in_an_empty_range_is_a_conflict(db):
    t = db.transaction()
    assert sp.index_rows(t._reader, b"Ig", b"Ih", False, b"R", 2, (1,), 16) == []
    db.put(b"Ig\x03", b"")
    t.put(b"elsewhere", b"1")
    with pytest.raises(ConflictError):
        t.commit()


def test_index_rows_row_read_is_a_conflict(db):
    fill(db, b"g", [b"\x01", b"\x05"])
    t = db.transaction()
    assert sp.index_rows(t._reader, b"Ig", b"Ih", False, b"R", 2, (1,), 16) == [[1], [5]]
    db.put(b"R\x05", row(50))                   # a row it read changes
    t.put(b"elsewhere", b"1")
    with pytest.raises(ConflictError):
        t.commit()


def test_index_rows_phantom_under_snapshot_commits(db):
    fill(db, b"g", [b"\x01", b"\x05"])
    t = db.transaction(isolation="snapshot")
    assert sp.index_rows(t._reader, b"Ig", b"Ih", False, b"R", 2, (1,), 16) == [[1], [5]]
    db.put(b"Ig\x02", b"")
    db.put(b"R\x05", row(50))
    t.put(b"elsewhere", b"1")
    t.commit()


# ---- decoder fallbacks under the lock ------------------------------------------------

def test_declined_rows_are_decoded_in_python_and_release_the_lock(db):
    huge = rowcodec._py_encode_row({1: 2 ** 70, 2: "x"})    # a varint over 64 bits
    bad = b"\x01\x11" + b"\xff" * 12                          # over-long, then truncated
    db.put(b"R\x01", huge)
    db.put(b"R\x02", bad)
    db.put(b"Ia\x01", b"")
    db.put(b"Ib\x02", b"")
    t = db.transaction()
    r = t._reader
    assert sp.point_row(r, b"R\x01", (2, 1)) == [("x", 2 ** 70)]
    assert sp.index_rows(r, b"Ia", b"Ib", False, b"R", 2, (1, 2), 16) == [[2 ** 70, "x"]]
    with pytest.raises(CorruptionError):
        rowcodec.decode_row_ids(bad, (1,))
    with pytest.raises(CorruptionError):
        sp.point_row(r, b"R\x02", (1,))
    assert not t._lock.locked()
    with pytest.raises(CorruptionError):
        sp.index_rows(r, b"Ia", b"Ic", False, b"R", 2, (1,), 16)
    assert not t._lock.locked()
    assert same(t, b"R\x01") == huge
    t.rollback()


@pytest.mark.parametrize("ids", [(1, 1), (2, 2, 1), (-1,), (2 ** 70,), (True,), (3, 3), (),
                                 tuple(range(100)), ("a",), (1.0,)])
def test_ids_of_every_form_decode_as_python(db, ids):
    raw = rowcodec._py_encode_row({1: 5, 2: "x", 3: 2 ** 70})
    db.put(b"R", raw)
    db.put(b"I\x00", b"R")

    def outcome(fn, *args):
        try:
            return "ok", fn(*args)
        except Exception as e:           # noqa: BLE001 - the type is compared
            return "raised", type(e)
    want = outcome(rowcodec._py_decode_row, raw, ids)
    t = db.transaction()
    point = outcome(sp.point_row, t._reader, b"R", ids)
    index = outcome(sp.index_rows, t._reader, b"I", b"J", False, b"", 1, ids, 16)
    if want[0] == "ok":
        assert point == ("ok", [tuple(want[1])]) and index == ("ok", [want[1]])
    else:
        assert point == want and index == want
    assert not t._lock.locked()
    t.rollback()
