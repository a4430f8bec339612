"""The key-value API: `open()`, `Database`, `Snapshot`, `Batch` and the scan iterator,
a thin layer over the C engine (lightning.h) through `lightning._ffi`.

Keys and values are bytes-like (bytes, bytearray, memoryview); results are `bytes`.
Keys sort bytewise. Limits: keys up to LT_MAX_KEY_SIZE (16 KiB, empty allowed), values
up to LT_MAX_VALUE_SIZE (64 MiB).

Lifetimes follow the engine: closing a Database invalidates its snapshots and
iterators, and every later use of any of them raises InterfaceError. C handles are
freed when their Python object goes away (ffi.gc); a child (snapshot, iterator)
references its Database so the database handle is always freed last.

Threads: cffi releases the GIL during every engine call. A Database may be used from
many threads at once; a Snapshot or an iterator serialises its own calls with a lock
(the engine allows one thread at a time on them).
"""

import json
import logging
import os
import struct
from array import array
import threading
import weakref
from itertools import count

from ._ffi import NULL, check, ffi, lib, raise_error, zstd_codec
from .errors import DataError, InterfaceError, InternalError, ProgrammingError

__all__ = ["open", "repair", "Database", "Snapshot", "Batch", "Scan",
           "MAX_KEY_SIZE", "MAX_VALUE_SIZE"]

MAX_KEY_SIZE = int(lib.LT_MAX_KEY_SIZE)
MAX_VALUE_SIZE = int(lib.LT_MAX_VALUE_SIZE)

_OK = lib.LT_OK
_NOTFOUND = lib.LT_ENOTFOUND
_EINVAL = lib.LT_EINVAL

_SYNC_MODES = {"off": lib.LT_SYNC_OFF, "normal": lib.LT_SYNC_NORMAL,
               "full": lib.LT_SYNC_FULL}
_WAL_RECOVERY = {"strict": lib.LT_WAL_STRICT, "point_in_time": lib.LT_WAL_POINT_IN_TIME}

_recovery_log = logging.getLogger("lightning.recovery")

# Advanced keyword options of open(): name -> (lt_options field, minimum value).
_ADVANCED = {
    "table_size": ("table_size", 1),
    "level1_size": ("level1_size", 1),
    "sync_interval_ms": ("sync_interval_ms", 1),
    "bloom_bits_per_key": ("bloom_bits_per_key", 0),
    "background_compaction": ("background_compaction", 0),
    "l0_compaction_trigger": ("l0_compaction_trigger", 1),
    "l0_slowdown_trigger": ("l0_slowdown_trigger", 1),
    "l0_stop_trigger": ("l0_stop_trigger", 1),
}

# Packed batch record header: u8 op (1 put, 0 delete) | u32le klen | u32le vlen.
_PUT_HDR = struct.Struct("<BII").pack
_OP_PUT, _OP_DELETE = 1, 0

_SCAN_BUF = 256 << 10        # bytes per lt_iter_next_batch call
_SCAN_ITEMS = 4096           # entries per call at most

_memory_names = count(1)


# ---- argument checks ------------------------------------------------------------------

def _bytes_arg(obj, name):
    """`obj` as bytes, or TypeError naming the argument (the slow path of every
    key/value argument: the hot paths accept `bytes` before calling this)."""
    if isinstance(obj, bytes):
        return obj
    if isinstance(obj, (bytearray, memoryview)):
        return bytes(obj)
    raise TypeError(f"{name} must be bytes-like, not {type(obj).__name__}")


def _key_arg(key, name="key"):
    if type(key) is not bytes:
        key = _bytes_arg(key, name)
    if len(key) > MAX_KEY_SIZE:
        raise DataError(f"{name} is {len(key)} bytes; the limit is {MAX_KEY_SIZE} bytes",
                        code=_EINVAL)
    return key


def _value_arg(value, name="value"):
    if type(value) is not bytes:
        value = _bytes_arg(value, name)
    if len(value) > MAX_VALUE_SIZE:
        raise DataError(f"{name} is {len(value)} bytes; the limit is {MAX_VALUE_SIZE} "
                        f"bytes", code=_EINVAL)
    return value


def _pair_arg(pair, index):
    """put_many's item number `index` as a (key, value) pair, or TypeError naming the
    index and what the item is."""
    if isinstance(pair, (tuple, list)):
        if len(pair) == 2:
            return pair
        what = f"{type(pair).__name__} of {len(pair)}"
    else:
        what = type(pair).__name__
    raise TypeError(f"put_many items must be (key, value) pairs; item {index} is a {what}")


def _bound_arg(obj, name):
    return None if obj is None else _key_arg(obj, name)


def _int_option(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise ProgrammingError(f"{name} must be >= {minimum}, not {value}", code=_EINVAL)
    return value


def _codec_arg(compression):
    """The lt_codec pointer for `compression` ("zstd", "none" or None)."""
    if compression is None or compression == "none":
        return NULL
    if compression != "zstd":
        raise ProgrammingError(f"compression must be 'zstd' or 'none', not {compression!r}",
                               code=_EINVAL)
    return zstd_codec()


def _set_int_options(opts, items):
    """Set lt_options fields from (name, field, value, minimum) items, each value
    checked by _int_option; a value too large for its C field is a ProgrammingError."""
    for name, field, value, minimum in items:
        try:
            setattr(opts, field, _int_option(name, value, minimum))
        except OverflowError:
            raise ProgrammingError(f"{name} is too large: {value}", code=_EINVAL) from None


def _path_arg(path):
    """(the path as bytes for the engine, the path as str for messages)."""
    cpath = os.fsencode(path)
    if b"\0" in cpath:
        raise ProgrammingError("path must not contain NUL bytes", code=_EINVAL)
    return cpath, os.fsdecode(cpath)


def prefix_successor(prefix):
    """The smallest key greater than every key starting with `prefix`, or None when
    there is none (prefix empty or all 0xff)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes((stripped[-1] + 1,))


def _scan_range(start, end, prefix):
    """Resolve scan arguments to a [start, end) range (None = unbounded), or None when
    the range is empty."""
    start = _bound_arg(start, "start")
    end = _bound_arg(end, "end")
    if prefix is not None:
        prefix = _key_arg(prefix, "prefix")
        if start is None or start < prefix:
            start = prefix
        succ = prefix_successor(prefix)
        if succ is not None and (end is None or end > succ):
            end = succ
    if start is not None and end is not None and start >= end:
        return None
    return start, end


def _limit_arg(limit):
    if limit is None:
        return None
    return _int_option("limit", limit, 0)


# ---- point reads ----------------------------------------------------------------------

_tls = threading.local()   # .valp: this thread's `const char **` for lt_get's output


def _valp():
    valp = _tls.valp = ffi.new("const char **")
    return valp


def _make_get(snapshot):
    """Database.get (snapshot=False) or the body of Snapshot.get: one engine call
    (ltpy_get: value length or error code) and one copy. Names are bound in the
    closure so the hot path does no global or attribute lookups beyond `self._h`."""
    ltpy_get, unpack, tls, new_valp = lib.ltpy_get, ffi.unpack, _tls, _valp
    NOTFOUND, MAXK, null = _NOTFOUND, MAX_KEY_SIZE, NULL

    if not snapshot:
        def get(self, key, default=None):
            """The value stored under `key` (bytes), or `default` if there is none."""
            try:
                valp = tls.valp
            except AttributeError:
                valp = new_valp()
            if type(key) is not bytes:
                key = _key_arg(key)
            n = ltpy_get(self._h, null, key, len(key), valp)
            if n >= 0:
                return unpack(valp[0], n)
            if n == NOTFOUND and len(key) <= MAXK:
                return default
            _fail(n, "get", key)
        return get

    def snapshot_get(db_h, snap_h, key, default):
        try:
            valp = tls.valp
        except AttributeError:
            valp = new_valp()
        n = ltpy_get(db_h, snap_h, key, len(key), valp)
        if n >= 0:
            return unpack(valp[0], n)
        if n == NOTFOUND:
            return default
        _fail(n, "snapshot get", key)
    return snapshot_get


def _fail(rc, op, key):
    """Raise for a failed key operation: DataError if the key is too long (the
    engine says EINVAL), else the mapped engine error."""
    _key_arg(key)
    raise_error(rc, op)


_snapshot_get = _make_get(snapshot=True)


# ---- open ---------------------------------------------------------------------------

def open(path, *, create=True, read_only=False, sync="normal", compression="zstd",  # noqa: A001
         cache_size=64 << 20, memtable_size=4 << 20, page_size=4096,
         wal_recovery="strict", _env=None, **advanced):
    """Open (or create) the database directory `path` and return a `Database`.

    path           a directory path (str, bytes or os.PathLike), or ":memory:" for a
                   database held in memory with the same semantics and no files.
    create         create the database if it does not exist (else OperationalError).
    read_only      no writes (they raise OperationalError) and no compaction.
    sync           "off": a commit survives a process crash; "normal" (default): also
                   fsync'ed in the background every few milliseconds; "full": a commit
                   returns only after the fsync covering it (group commit).
    compression    "zstd" (default) or "none": how table blocks are stored.
    cache_size     bytes of decompressed blocks cached (default 64 MiB).
    memtable_size  bytes of writes held in memory before a flush (default 4 MiB; the
                   engine requires at least 16 KiB).
    page_size      uncompressed size of a table data block (default 4096; 256 B to
                   1 MiB).
    wal_recovery   what opening does about a write-ahead log damaged in the middle
                   (records after the damage): "strict" (default) raises
                   CorruptionError naming the log and changes nothing;
                   "point_in_time" opens with every commit before the damage, drops
                   the rest (counted in stats()["recovery"], logged as a warning on
                   the "lightning.recovery" logger) and keeps a copy of the log in
                   the database's lost/ directory. A torn tail (a crash cut the last
                   record short) is cut in either mode.

    Advanced keyword options, for tuning and tests: table_size, level1_size,
    sync_interval_ms, bloom_bits_per_key, background_compaction (bool),
    l0_compaction_trigger, l0_slowdown_trigger, l0_stop_trigger. Unknown keywords raise
    TypeError; bad values raise ProgrammingError naming the value.
    """
    unknown = sorted(set(advanced) - set(_ADVANCED))
    if unknown:
        raise TypeError("open() got unexpected keyword argument(s): "
                        + ", ".join(repr(k) for k in unknown))
    if sync not in _SYNC_MODES:
        raise ProgrammingError(f"sync must be one of 'off', 'normal', 'full', not {sync!r}",
                               code=_EINVAL)
    if wal_recovery not in _WAL_RECOVERY:
        raise ProgrammingError("wal_recovery must be 'strict' or 'point_in_time', not "
                               f"{wal_recovery!r}", code=_EINVAL)
    codec = _codec_arg(compression)

    opts = ffi.new("lt_options *")
    lib.lt_options_init(opts)
    opts.create = 1 if create else 0
    opts.read_only = 1 if read_only else 0
    opts.sync = _SYNC_MODES[sync]
    opts.wal_recovery = _WAL_RECOVERY[wal_recovery]
    sizes = [("cache_size", "cache_size", cache_size, 0),
             ("memtable_size", "memtable_size", memtable_size, 1),
             ("page_size", "block_size", page_size, 1)]
    for name, value in advanced.items():
        field, minimum = _ADVANCED[name]
        if name == "background_compaction" and isinstance(value, bool):
            value = int(value)
        sizes.append((name, field, value, minimum))
    _set_int_options(opts, sizes)
    opts.codec = codec

    env = _env
    if isinstance(path, str) and path == ":memory:":
        if env is None:
            from ._testing import MemEnv
            env = MemEnv()
        # A name of its own, so two :memory: databases never share an engine.
        cpath = b"/lightning-memory-%d" % next(_memory_names)
        name = ":memory:"
    else:
        cpath, name = _path_arg(path)
    if env is not None:
        opts.env = env._h
    out = ffi.new("lt_db **")
    rc = lib.lt_db_open(cpath, opts, out)
    if rc:
        if out[0] != NULL:
            lib.lt_db_free(out[0])
        raise_error(rc, f"open {name!r}")
    db = Database(out[0], name, env)
    _report_recovery(db, name)
    return db


def _report_recovery(db, name):
    """Log what recovery at open dropped or cut (the C core never prints)."""
    if not _recovery_log.isEnabledFor(logging.WARNING):
        return
    rec = db.stats().get("recovery", {})
    if rec.get("records_dropped") or rec.get("logs_set_aside"):
        _recovery_log.warning(
            "%s: point-in-time recovery dropped %d log record(s) after damage (%s); "
            "%d damaged log(s) kept in %s", name, rec["records_dropped"],
            rec.get("damage", ""), rec["logs_set_aside"], os.path.join(name, "lost"))
    elif rec.get("torn_tails") or rec.get("manifest_torn_bytes"):
        _recovery_log.info("%s: recovery cut a torn tail (%d log bytes, %d manifest bytes): %s",
                           name, rec.get("torn_bytes", 0), rec.get("manifest_torn_bytes", 0),
                           rec.get("damage", ""))


def repair(path, *, compression="zstd", page_size=4096, table_size=2 << 20,
           bloom_bits_per_key=10, _env=None):
    """Rebuild the database directory `path` from its table files and logs, for a
    database that does not open because `CURRENT` or its manifest is missing or
    damaged, or to salvage the records after damage in a log. The database must not
    be open. Returns a dict summarising what was done: "tables" and "table_entries"
    (tables read whole), "logs" and "log_records" (batches recovered from logs),
    "keys" (in the rebuilt database), "last_sequence", "manifest" (the new one), and
    "set_aside": a list of {"file": "lost/...", "reason": ...} for each damaged table
    (moved) or log (copied) into the `lost/` subdirectory, where nothing is deleted.
    Each set-aside file is also logged as a warning on the "lightning.recovery"
    logger. `compression` must be "zstd" to read compressed tables (and is used to
    write the new ones); page_size, table_size and bloom_bits_per_key shape the new
    tables. Raises OperationalError if the database is open or missing.
    """
    codec = _codec_arg(compression)
    opts = ffi.new("lt_options *")
    lib.lt_options_init(opts)
    _set_int_options(opts, (("page_size", "block_size", page_size, 256),
                            ("table_size", "table_size", table_size, 1024),
                            ("bloom_bits_per_key", "bloom_bits_per_key",
                             bloom_bits_per_key, 0)))
    opts.codec = codec
    if _env is not None:
        opts.env = _env._h
    cpath, name = _path_arg(path)
    cap = 1 << 20
    buf = ffi.new("char[]", cap)
    needed = ffi.new("size_t *")
    rc = lib.lt_db_repair(cpath, opts, buf, cap, needed)
    if rc:
        raise_error(rc, f"repair {name!r}")
    if needed[0] > cap:   # a very long list of files set aside: the report was cut
        summary = {"report_truncated": True}
    else:
        summary = json.loads(ffi.string(buf).decode("utf-8"))
    for item in summary.get("set_aside", ()):
        _recovery_log.warning("%s: repair set aside %s: %s", name, item["file"], item["reason"])
    return summary


def _free_db(h, env):
    """ffi.gc destructor of a database handle; `env` (the Python env object, if any)
    is referenced here so it is freed only after the database."""
    lib.lt_db_free(h)
    del env


# ---- Database -----------------------------------------------------------------------

class Database:
    """An open database. Create with `lightning.open()`; a context manager."""

    __slots__ = ("_h", "_path", "_env", "_closed", "_children", "__weakref__")

    def __init__(self, handle, path, env=None):
        self._h = ffi.gc(handle, lambda h, env=env: _free_db(h, env))
        self._path = path
        self._env = env
        self._closed = False
        self._children = weakref.WeakSet()   # live Scans, told when we close

    # -- point operations (hot paths: one engine call, no isinstance chains) --

    get = _make_get(snapshot=False)

    def __contains__(self, key):
        return self.get(key, _MISSING) is not _MISSING

    def put(self, key, value):
        """Store `value` under `key` (one atomic commit, durable per the sync mode)."""
        if type(key) is not bytes or len(key) > MAX_KEY_SIZE:
            key = _key_arg(key)
        if type(value) is not bytes or len(value) > MAX_VALUE_SIZE:
            value = _value_arg(value)
        rc = lib.lt_put(self._h, key, len(key), value, len(value))
        if rc:
            raise_error(rc, "put")

    def delete(self, key):
        """Remove `key` (no error if it is absent)."""
        if type(key) is not bytes or len(key) > MAX_KEY_SIZE:
            key = _key_arg(key)
        rc = lib.lt_delete(self._h, key, len(key))
        if rc:
            raise_error(rc, "delete")

    # -- ranges, batches, snapshots --

    def scan(self, start=None, end=None, *, prefix=None, reverse=False, limit=None):
        """Iterate (key, value) pairs with start <= key < end (None: unbounded) in key
        order, or descending when `reverse`. `prefix` restricts to keys starting with
        it (intersected with start/end); `limit` caps the number of pairs."""
        return Scan(self, None, start, end, prefix, reverse, limit)

    def batch(self):
        """A `Batch`: as a context manager its puts and deletes commit atomically on
        a clean exit and are discarded on an exception."""
        return Batch(self)

    def snapshot(self):
        """A `Snapshot`: a consistent read-only view of the database as of now."""
        return Snapshot(self)

    # -- transactions (lightning/transaction.py, docs/transactions.md) --

    def transaction(self, isolation="serializable", read_only=False, *,
                    max_write_bytes=64 << 20):
        """A new `Transaction` ("serializable" or "snapshot" isolation); as a context
        manager it commits on a clean exit and rolls back on an exception. A commit
        conflict raises ConflictError. `max_write_bytes` limits its write buffer."""
        from .transaction import Transaction
        return Transaction(self, isolation, read_only, max_write_bytes)

    def run_in_transaction(self, fn, *, isolation="serializable", read_only=False,
                           retries=20, backoff=0.001, max_backoff=0.1, jitter=True,
                           max_write_bytes=64 << 20):
        """Call `fn(txn)` in a new transaction and commit; on ConflictError start over,
        up to `retries` times, with exponential backoff and jitter. Returns fn's result."""
        from .transaction import run_in_transaction
        return run_in_transaction(self, fn, isolation=isolation, read_only=read_only,
                                  retries=retries, backoff=backoff,
                                  max_backoff=max_backoff, jitter=jitter,
                                  max_write_bytes=max_write_bytes)

    # -- maintenance --

    def flush(self):
        """Write the memtable to a table file and wait for it."""
        check(lib.lt_db_flush(self._h), "flush")

    def compact(self, start=None, end=None):
        """Compact every level overlapping [start, end) (None: unbounded) down to the
        bottom level, dropping overwritten versions and deletions."""
        start = _bound_arg(start, "start")
        end = _bound_arg(end, "end")
        s, sl = (NULL, 0) if start is None else (start, len(start))
        e, el = (NULL, 0) if end is None else (end, len(end))
        check(lib.lt_db_compact(self._h, s, sl, e, el), "compact")

    def stats(self):
        """A dict of engine statistics (bytes and files per level, memtable, cache,
        compactions, WAL syncs, ...)."""
        cap = 8192
        needed = ffi.new("size_t *")
        while True:
            buf = ffi.new("char[]", cap)
            check(lib.lt_db_stats(self._h, buf, cap, needed), "stats")
            if needed[0] < cap:
                return json.loads(ffi.string(buf, cap).decode("utf-8"))
            cap = needed[0] + 1

    # -- lifetime --

    @property
    def closed(self):
        return self._closed

    @property
    def path(self):
        return self._path

    def close(self):
        """Close this handle (idempotent). Its snapshots and iterators become unusable;
        the engine shuts down when the last handle on its path closes."""
        if self._closed:
            return
        self._closed = True
        for child in _live(self._children):
            child._invalidate()
        check(lib.lt_db_close(self._h), "close")

    def _crash(self):
        """Test hook: abandon the engine as a process crash would (lt_db_crash)."""
        self._closed = True
        for child in _live(self._children):
            child._invalidate()
        check(lib.lt_db_crash(self._h), "crash")

    def __enter__(self):
        if self._closed:
            raise InterfaceError("database is closed", code=lib.LT_ECLOSED)
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "closed" if self._closed else "open"
        return f"<lightning.Database {self._path!r} {state}>"


_MISSING = object()


def _live(children):
    """A list of the live members of a WeakSet that other threads may be adding to."""
    while True:
        try:
            return list(children)
        except RuntimeError:   # "set changed size during iteration": try again
            continue


# ---- Snapshot -----------------------------------------------------------------------

def _free_snapshot(h, db):
    lib.lt_snapshot_free(h)
    del db   # the database handle outlives its snapshot handle


class Snapshot:
    """A consistent read-only view: reads see the database as it was when the snapshot
    was taken. A context manager; released on exit (or by `close()`). Releasing it, or
    closing its database, makes it and its iterators raise InterfaceError."""

    __slots__ = ("_db", "_h", "_lock", "_closed", "_children", "__weakref__")

    def __init__(self, db):
        out = ffi.new("lt_snapshot **")
        check(lib.lt_snapshot_new(db._h, out), "snapshot")
        self._db = db
        self._h = ffi.gc(out[0], lambda h, db=db: _free_snapshot(h, db))
        self._lock = threading.Lock()   # the engine allows one thread at a time
        self._closed = False
        self._children = weakref.WeakSet()
        db._children.add(self)

    @property
    def seq(self):
        """The sequence number this snapshot reads at."""
        if self._closed:
            raise InterfaceError("snapshot: snapshot is released", code=lib.LT_ECLOSED)
        return int(lib.lt_snapshot_seq(self._h))

    def get(self, key, default=None):
        """The value of `key` at this snapshot, or `default`."""
        key = _key_arg(key)
        with self._lock:
            return _snapshot_get(self._db._h, self._h, key, default)

    def __contains__(self, key):
        return self.get(key, _MISSING) is not _MISSING

    def scan(self, start=None, end=None, *, prefix=None, reverse=False, limit=None):
        """As Database.scan, at this snapshot."""
        return Scan(self._db, self, start, end, prefix, reverse, limit)

    @property
    def closed(self):
        return self._closed

    def close(self):
        """Release the snapshot and its iterators (idempotent); later use raises
        InterfaceError."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for child in _live(self._children):
                child._invalidate(close_engine=True)
            check(lib.lt_snapshot_release(self._h), "snapshot release")

    release = close

    def _invalidate(self, close_engine=False):
        self._closed = True
        for child in _live(self._children):
            child._invalidate()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "released" if self._closed else f"seq={int(lib.lt_snapshot_seq(self._h))}"
        return f"<lightning.Snapshot {state}>"


# ---- Batch --------------------------------------------------------------------------

class Batch:
    """Puts and deletes buffered in Python and committed atomically in one engine
    call. As a context manager: commit on a clean exit, discard on an exception. As an
    object: `put`, `delete`, then `commit()` (the batch is empty again afterwards)."""

    __slots__ = ("_db", "_parts", "_n")

    def __init__(self, db):
        self._db = db
        self._parts = []
        self._n = 0

    def put(self, key, value):
        if type(key) is not bytes or len(key) > MAX_KEY_SIZE:
            key = _key_arg(key)
        if type(value) is not bytes or len(value) > MAX_VALUE_SIZE:
            value = _value_arg(value)
        self._parts += (_PUT_HDR(_OP_PUT, len(key), len(value)), key, value)
        self._n += 1

    def delete(self, key):
        if type(key) is not bytes or len(key) > MAX_KEY_SIZE:
            key = _key_arg(key)
        self._parts += (_PUT_HDR(_OP_DELETE, len(key), 0), key)
        self._n += 1

    def put_many(self, items):
        """`put` every (key, value) pair of `items`, in order: the bulk form (like
        lmdb's putmulti), which packs `bytes` pairs without Python work per item."""
        if not isinstance(items, (list, tuple)):
            items = list(items)
        if not items:
            return
        try:   # strict: an item of another length must not be cut to a pair
            keys, values = zip(*items, strict=True)
            fast = (len(keys) == len(items) and set(map(type, keys)) == {bytes}
                    and set(map(type, values)) == {bytes})
        except (TypeError, ValueError):
            fast = False
        if fast:
            klens, vlens = array("I", map(len, keys)), array("I", map(len, values))
            fast = max(klens) <= MAX_KEY_SIZE and max(vlens) <= MAX_VALUE_SIZE
        if not fast:   # mixed types, bad pairs or sizes: the checks of put name them
            for i, pair in enumerate(items):
                key, value = _pair_arg(pair, i)
                self.put(key, value)
            return
        kb, vb = b"".join(keys), b"".join(values)
        out = bytearray(len(kb) + len(vb) + 9 * len(keys))     # packed in place
        lib.ltpy_pack_puts(kb, ffi.from_buffer("uint32_t[]", klens), vb,
                           ffi.from_buffer("uint32_t[]", vlens), len(keys),
                           ffi.from_buffer(out))
        self._parts.append(out)
        self._n += len(keys)

    def __len__(self):
        return self._n

    def clear(self):
        """Drop every buffered operation."""
        self._parts = []
        self._n = 0

    def commit(self):
        """Commit the buffered operations atomically; returns the sequence number of
        the last record (None for an empty batch). The batch is emptied either way."""
        n, parts = self._n, self._parts
        self.clear()
        if n == 0:
            if self._db._closed:
                raise InterfaceError("batch commit: database is closed",
                                     code=lib.LT_ECLOSED)
            return None
        buf = b"".join(parts)
        out = ffi.new("lt_batch **")
        check(lib.lt_batch_new(out), "batch")
        b = out[0]
        try:
            check(lib.lt_batch_put_packed(b, buf, len(buf), n), "batch")
            seqp = ffi.new("uint64_t *")
            check(lib.lt_write(self._db._h, b, ffi.NULL, ffi.NULL, seqp), "batch commit")
            return int(seqp[0])
        finally:
            lib.lt_batch_free(b)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.clear()


# ---- scan iterator --------------------------------------------------------------------

def _free_iter(h, owner):
    lib.lt_iter_free(h)
    del owner   # the database (and snapshot) handles outlive the iterator handle


_OPEN, _DONE, _CLOSED = "open", "done", "closed"

# Scan buffers are large (256 KiB): reuse them across scans instead of allocating
# them for every short range scan. list.pop/append are atomic.
_buffer_pool = []
_alloc_raw = ffi.new_allocator(should_clear_after_alloc=False)
_FMT_CAP = 1 + lib.LTPY_FMT_PER_ITEM * _SCAN_ITEMS
_last_struct = (b"", struct.Struct(""))   # the last batch's format, compiled


def _new_buffers():
    return (_alloc_raw("char[]", _SCAN_BUF), _SCAN_BUF, _alloc_raw("char[]", _FMT_CAP),
            ffi.new("size_t[3]"))


class Scan:
    """The iterator returned by `scan()`: yields (key, value) bytes pairs. Entries are
    fetched from the engine a buffer (up to 4096 entries) at a time and yielded from a
    list. `close()` releases it early. Using a closed iterator, or one whose database
    (or snapshot) was closed, raises InterfaceError; an exhausted one stops."""

    __slots__ = ("_db", "_snap", "_it", "_gen", "_items", "_lock", "_state",
                 "_remaining", "_buf", "_cap", "_fmt", "_out", "__weakref__")

    def __init__(self, db, snap, start, end, prefix, reverse, limit):
        rng = _scan_range(start, end, prefix)
        self._remaining = _limit_arg(limit)
        self._db = db
        self._snap = snap
        self._it = None
        self._items = []
        self._lock = snap._lock if snap is not None else threading.Lock()
        self._state = _OPEN
        self._gen = self._generate()
        owner = snap if snap is not None else db
        if owner._closed:
            what = "snapshot is released" if snap is not None else "database is closed"
            raise InterfaceError(f"scan: {what}", code=lib.LT_ECLOSED)
        if rng is None or self._remaining == 0:
            self._state = _DONE   # empty: no engine iterator needed
            return
        lo, hi = rng
        s, sl = (NULL, 0) if lo is None else (lo, len(lo))
        e, el = (NULL, 0) if hi is None else (hi, len(hi))
        out = ffi.new("lt_iterator **")
        with self._lock:
            rc = lib.lt_iter_new(db._h, NULL if snap is None else snap._h,
                                 s, sl, e, el, 1 if reverse else 0, out)
        if rc:
            raise_error(rc, "scan")
        keep = (db, snap)
        self._it = ffi.gc(out[0], lambda h, keep=keep: _free_iter(h, keep))
        try:
            bufs = _buffer_pool.pop()
        except IndexError:
            bufs = _new_buffers()
        self._buf, self._cap, self._fmt, self._out = bufs
        owner._children.add(self)

    def _fetch(self):
        """The next entries from the engine as a flat list [k0, v0, k1, v1, ...];
        [] at the end."""
        global _last_struct
        with self._lock:
            if self._state is not _OPEN:
                if self._state is _CLOSED:
                    raise InterfaceError("scan: iterator is closed", code=lib.LT_ECLOSED)
                return []
            maxn = _SCAN_ITEMS
            if self._remaining is not None:
                maxn = min(maxn, self._remaining)
            out = self._out
            while True:
                rc = lib.ltpy_iter_next_batch(self._it, self._buf, self._cap, maxn,
                                              out, out + 1, self._fmt, _FMT_CAP, out + 2)
                if rc:
                    self._scan_error(rc)
                n = out[0]
                if n:
                    break
                used = out[1]
                if used <= self._cap:
                    self._end()
                    return []
                self._cap = used   # one entry larger than the buffer: grow, retry
                self._buf = _alloc_raw("char[]", used)
            fmt = ffi.unpack(self._fmt, out[2])
            last = _last_struct
            if fmt == last[0]:
                st = last[1]
            else:
                st = struct.Struct(fmt)
                _last_struct = (fmt, st)
            flat = list(st.unpack_from(ffi.buffer(self._buf, out[1])))
            if self._remaining is not None:
                self._remaining -= n
                if self._remaining == 0:
                    self._end()
            return flat

    def _scan_error(self, rc):
        if rc == lib.LT_ECLOSED:
            self._state = _CLOSED
        if rc == -1:
            raise InternalError("scan: the engine returned a malformed batch")
        raise_error(rc, "scan")

    def _end(self):
        """Exhausted: release the engine iterator now (it pins files and memtables)
        and give the buffers back to the pool."""
        self._state = _DONE
        lib.lt_iter_close(self._it)
        self._release_buffers()

    def _release_buffers(self):
        if self._cap == _SCAN_BUF and len(_buffer_pool) < 8:
            _buffer_pool.append((self._buf, self._cap, self._fmt, self._out))
        self._buf = self._fmt = self._out = None
        self._cap = 0

    def _generate(self):
        while True:
            flat = self._fetch()
            if not flat:
                return
            self._items = flat
            pairs = iter(flat)
            # zip reuses its result tuple when the consumer drops it; clearing `flat`
            # (close, _invalidate) ends this batch early.
            yield from zip(pairs, pairs)

    def __iter__(self):
        if self._state is _CLOSED:
            raise InterfaceError("scan: iterator is closed", code=lib.LT_ECLOSED)
        return self._gen

    def __next__(self):
        if self._state is _CLOSED:
            raise InterfaceError("scan: iterator is closed", code=lib.LT_ECLOSED)
        return next(self._gen)

    def _invalidate(self, close_engine=False):
        """The database or snapshot is closing: mark closed and drop what is buffered,
        so the next step raises InterfaceError. With `close_engine` (the snapshot's
        lock held by the caller) also release the engine iterator now; a closing
        database closes it in the engine itself."""
        if self._state is _OPEN:
            self._state = _CLOSED
            if close_engine:
                lib.lt_iter_close(self._it)
        self._items.clear()

    def close(self):
        """Release the engine iterator (idempotent); later use raises InterfaceError."""
        with self._lock:
            if self._state is _CLOSED:
                return
            was_open = self._state is _OPEN
            self._state = _CLOSED
            self._items.clear()
            if was_open:
                self._release_buffers()
                check(lib.lt_iter_close(self._it), "scan close")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
