"""Transactions: `Transaction` (from `Database.transaction()`), its savepoints and
scans, and the retry helper `retry()` behind `Database.run_in_transaction()`.

A transaction reads a snapshot taken when it begins, merged with its own buffered
writes, and commits them atomically through the engine's one commit path. At commit
the engine checks what committed after the snapshot (see docs/transactions.md):

  "snapshot"      a key this transaction writes was committed by someone else
                  -> ConflictError (first committer wins; write skew is possible).
  "serializable"  also a key it read or a key inside a range it scanned
                  -> ConflictError (write skew and phantoms are rejected).

A read-only transaction, or one that wrote nothing, never conflicts. A conflict is a
`ConflictError` (an `OperationalError`, `sqlstate` "40001"); nothing of the transaction
was written, and running it again normally succeeds: `retry()` does that with
exponential backoff and jitter.

Lifetimes: commit() and rollback() end the transaction; every later use raises
InterfaceError (commit/rollback after the end: rollback is a no-op, commit raises).
Closing the database ends its transactions the same way. Threads: a transaction
serialises its own calls with a lock, but is meant for one thread at a time.
"""

import random
import struct
from array import array
import threading
import time
import weakref

from ._ffi import NULL, check, ffi, lib, raise_error
from .errors import ConflictError, DataError, InterfaceError, InternalError, OperationalError, ProgrammingError
from .kv import MAX_KEY_SIZE, _key_arg, _limit_arg, _live, _pair_arg, _scan_range, _value_arg

__all__ = ["Transaction", "Savepoint", "TransactionScan", "retry", "ISOLATION_LEVELS",
           "DEFAULT_MAX_WRITE_BYTES"]

ISOLATION_LEVELS = {"snapshot": lib.LT_TXN_SNAPSHOT,
                    "serializable": lib.LT_TXN_SERIALIZABLE}
DEFAULT_MAX_WRITE_BYTES = int(lib.LT_TXN_DEFAULT_MAX_WRITE_BYTES)

_OK = lib.LT_OK
_NOTFOUND = lib.LT_ENOTFOUND
_EINVAL = lib.LT_EINVAL
_ECLOSED = lib.LT_ECLOSED

_ACTIVE, _COMMITTED, _ROLLED_BACK, _FAILED = "active", "committed", "rolled back", "failed"


try:        # the C fast path of the SQL layer's reads (lightning/_speedups_txn.c)
    from . import _speedups
except ImportError:                         # not built: every read goes through cffi
    _TxnReader = None
else:
    _TxnReader = _speedups.TxnReader
    _speedups.bind_engine(*(int(ffi.cast("uintptr_t", ffi.addressof(lib, name)))
                            for name in ("lt_txn_get_ex", "lt_txn_scan")))


def _free_txn(h, db):
    lib.lt_txn_free(h)
    del db   # the database handle outlives the transaction handle


class Savepoint:
    """A point inside a transaction to roll back to (`Transaction.rollback_to`). As a
    context manager: released on a clean exit, rolled back to (and released) on an
    exception, which propagates."""

    __slots__ = ("_txn", "_id", "_valid")

    def __init__(self, txn, sp_id):
        self._txn = txn
        self._id = sp_id
        self._valid = True

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self._valid or self._txn._state is not _ACTIVE:
            return
        if exc_type is not None:
            self._txn.rollback_to(self)
        self._txn.release(self)

    def __repr__(self):
        return f"<lightning.Savepoint {self._id}{'' if self._valid else ' (gone)'}>"


class Transaction:
    """A transaction; create with `Database.transaction()`. As a context manager it
    commits on a clean exit and rolls back on an exception."""

    __slots__ = ("_db", "_h", "_lock", "_state", "_isolation", "_read_only",
                 "_savepoints", "_children", "_valp", "_idp", "_stop", "_reader",
                 "__weakref__")

    def __init__(self, db, isolation="serializable", read_only=False,
                 max_write_bytes=DEFAULT_MAX_WRITE_BYTES):
        if isolation not in ISOLATION_LEVELS:
            raise ProgrammingError("isolation must be 'serializable' or 'snapshot', not "
                                   f"{isolation!r}", code=_EINVAL)
        if isinstance(max_write_bytes, bool) or not isinstance(max_write_bytes, int):
            raise TypeError("max_write_bytes must be an int")
        if max_write_bytes < 1:
            raise ProgrammingError(f"max_write_bytes must be >= 1, not {max_write_bytes}",
                                   code=_EINVAL)
        if db._closed:
            raise InterfaceError("transaction: database is closed", code=_ECLOSED)
        out = ffi.new("lt_txn **")
        rc = lib.lt_txn_begin(db._h, ISOLATION_LEVELS[isolation], 1 if read_only else 0,
                              max_write_bytes, out)
        if rc:
            raise_error(rc, "transaction")
        self._db = db
        self._h = ffi.gc(out[0], lambda h, db=db: _free_txn(h, db))
        self._lock = threading.Lock()
        self._state = _ACTIVE
        self._isolation = isolation
        self._read_only = bool(read_only)
        self._savepoints = []
        self._children = weakref.WeakSet()
        self._valp = ffi.new("const char **")
        self._idp = ffi.new("uint64_t *")
        self._stop = ffi.new("int64_t *")
        # reads from C for the SQL layer (None without the extension): same lock,
        # same engine calls; anything unusual comes back as NotImplemented
        self._reader = None if _TxnReader is None else \
            _TxnReader(int(ffi.cast("uintptr_t", self._h)), self._h, self._lock)
        db._children.add(self)

    # -- properties --

    @property
    def isolation(self):
        return self._isolation

    @property
    def read_only(self):
        return self._read_only

    @property
    def active(self):
        """True until commit(), rollback() or the database's close."""
        return self._state is _ACTIVE

    @property
    def state(self):
        """"active", "committed", "rolled back" or "failed" (commit raised)."""
        return self._state

    @property
    def snapshot_seq(self):
        """The sequence number of the snapshot this transaction reads."""
        return int(lib.lt_txn_snapshot_seq(self._h))

    def _check(self, op):
        if self._state is not _ACTIVE:
            raise InterfaceError(f"{op}: the transaction has ended ({self._state})",
                                 code=_ECLOSED)

    def _fail(self, rc, op):
        if rc == _ECLOSED:
            self._state = _FAILED
        raise_error(rc, op)

    # -- reads and writes --

    def get(self, key, default=None):
        """The value of `key` as this transaction sees it (its own writes over its
        snapshot), or `default`. Under "serializable" the read is validated at commit."""
        reader = self._reader               # the C read; NotImplemented: the cases below
        if reader is not None:
            v = reader.get(key)
            if v is not NotImplemented:
                return default if v is None else v
        if type(key) is not bytes or len(key) > MAX_KEY_SIZE:
            key = _key_arg(key)
        with self._lock:
            if self._state is not _ACTIVE:
                self._check("get")
            valp = self._valp
            n = lib.ltpy_txn_get(self._h, key, len(key), valp)
            if n >= 0:
                return ffi.unpack(valp[0], n)
            if n == _NOTFOUND:
                return default
            self._fail(n, "get")

    def __contains__(self, key):
        return self.get(key, _MISSING) is not _MISSING

    def _write(self, op, key, value):
        if type(key) is not bytes or len(key) > MAX_KEY_SIZE:
            key = _key_arg(key)
        with self._lock:
            if self._state is not _ACTIVE:
                self._check(op)
            if value is None:
                rc = lib.lt_txn_delete(self._h, key, len(key))
            else:
                rc = lib.lt_txn_put(self._h, key, len(key), value, len(value))
            if rc:
                self._write_failed(rc, op)

    def put(self, key, value):
        """Buffer `key` = `value`; written at commit."""
        if type(value) is not bytes:
            value = _value_arg(value)
        elif len(value) > lib.LT_MAX_VALUE_SIZE:
            value = _value_arg(value)
        self._write("put", key, value)

    def delete(self, key):
        """Buffer the deletion of `key` (no error if absent); written at commit."""
        self._write("delete", key, None)

    def put_many(self, items, if_absent=None):
        """`put` every (key, value) pair of the list `items`, in order, in one engine
        call. `if_absent` (optional, a sequence of booleans parallel to `items`):
        where true, the pair's key is first read like get() (validated at commit under
        "serializable") and, if it exists, put_many stops before writing that pair
        and returns its index; the pairs before it stay written. Returns None when
        every pair was written."""
        n = len(items)
        if not n:
            return None
        try:   # strict: an item of another length must not be cut to a pair
            keys, values = zip(*items, strict=True)
            fast = set(map(type, keys)) == {bytes} and set(map(type, values)) == {bytes}
        except (TypeError, ValueError):
            fast = False
        if fast:
            klens, vlens = array("I", map(len, keys)), array("I", map(len, values))
            fast = max(klens) <= MAX_KEY_SIZE and max(vlens) <= lib.LT_MAX_VALUE_SIZE
        if not fast:    # odd types or sizes: one by one, so put() names the problem
            for i, pair in enumerate(items):
                k, v = _pair_arg(pair, i)
                if if_absent is not None and if_absent[i] and self.get(k) is not None:
                    return i
                self.put(k, v)
            return None
        flags = None if if_absent is None else bytes(map(bool, if_absent))
        if flags is not None and len(flags) != n:
            raise ValueError(f"if_absent has {len(flags)} flags for {n} items")
        return self.put_packed(b"".join(keys), klens, b"".join(values), vlens, flags)

    def put_packed(self, keys, klens, values, vlens, if_absent=None):
        """put_many() for callers that build the pairs packed: `keys` and `values`
        the concatenated bytes (bytes-like), `klens` and `vlens` one native-endian
        uint32 per pair (bytes-like, e.g. a bytearray or array("I")), `if_absent` None
        or one byte per pair (nonzero: put_many's flag). Returns as put_many."""
        # The views are released before returning or raising: while one exists the
        # caller cannot resize its buffers (a bytearray raises BufferError), and an
        # exception's traceback would keep this frame's views alive.
        kl, vl = memoryview(klens).cast("B").cast("I"), memoryview(vlens).cast("B").cast("I")
        try:
            n = len(kl)
            if len(vl) != n or sum(kl) != len(keys) or sum(vl) != len(values) or (
                    if_absent is not None and len(if_absent) != n):
                raise ValueError("put_packed: lengths do not match the packed data")
            if not n:
                return None
            if max(kl) > MAX_KEY_SIZE or max(vl) > lib.LT_MAX_VALUE_SIZE:
                raise DataError(f"put_packed: a key over {MAX_KEY_SIZE} bytes or a value "
                                f"over {lib.LT_MAX_VALUE_SIZE} bytes")
            with self._lock:
                self._check("put")
                stopped = self._stop
                rc = lib.ltpy_txn_put_many(
                    self._h, ffi.from_buffer(keys), ffi.from_buffer("uint32_t[]", kl),
                    ffi.from_buffer(values), ffi.from_buffer("uint32_t[]", vl),
                    NULL if if_absent is None else ffi.from_buffer(if_absent), n, stopped)
                if rc:
                    self._write_failed(rc, "put")
                i = stopped[0]
                return None if i < 0 else int(i)
        finally:
            kl.release()
            vl.release()

    def _write_failed(self, rc, op):
        """Raise the error of a failed write (sizes were checked before, so LT_EINVAL is
        the write buffer limit)."""
        if rc == _EINVAL:
            msg = ffi.string(lib.lt_errmsg()).decode("utf-8", "replace")
            raise OperationalError(msg, code=rc)
        if rc == lib.LT_EREADONLY:
            raise OperationalError(f"{op}: the transaction is read-only", code=rc)
        self._fail(rc, op)

    def scan(self, start=None, end=None, *, prefix=None, reverse=False, limit=None):
        """As Database.scan: (key, value) pairs of this transaction's view (its writes
        made before this call, over its snapshot). Under "serializable" the part of the
        range the scan delivered is validated at commit (phantoms are rejected)."""
        return TransactionScan(self, start, end, prefix, reverse, limit)

    # -- savepoints --

    def savepoint(self):
        """A new `Savepoint` (nestable): `rollback_to(sp)` undoes the writes made after
        it; `release(sp)` forgets it and every savepoint taken after it."""
        with self._lock:
            sp = Savepoint(self, self._new_savepoint("savepoint"))
            self._savepoints.append(sp)
            return sp

    def _sp_index(self, sp, op):
        if not isinstance(sp, Savepoint) or sp._txn is not self:
            raise ProgrammingError(f"{op}: not a savepoint of this transaction",
                                   code=_EINVAL)
        if not sp._valid:
            raise ProgrammingError(f"{op}: the savepoint was released or rolled back past",
                                   code=_EINVAL)
        return self._savepoints.index(sp)

    def rollback_to(self, sp):
        """Undo every write made since `sp` was taken; savepoints taken after `sp` are
        discarded, `sp` itself stays usable. Reads and scans made since still count
        for validation under "serializable"."""
        with self._lock:
            self._check("rollback to savepoint")
            i = self._sp_index(sp, "rollback to savepoint")
            rc = lib.lt_txn_rollback_to(self._h, sp._id)
            if rc:
                self._fail(rc, "rollback to savepoint")
            for later in self._savepoints[i + 1:]:
                later._valid = False
            del self._savepoints[i + 1:]

    def release(self, sp):
        """Forget `sp` and every savepoint taken after it, keeping the writes."""
        with self._lock:
            self._check("release savepoint")
            i = self._sp_index(sp, "release savepoint")
            rc = lib.lt_txn_release(self._h, sp._id)
            if rc:
                self._fail(rc, "release savepoint")
            for gone in self._savepoints[i:]:
                gone._valid = False
            del self._savepoints[i:]

    # -- statement marks (the SQL driver's per-statement savepoints) --
    #
    # A bare engine savepoint without a Savepoint object: `_mark()` before a statement,
    # then `_unmark(m)` when it succeeded or `_undo(m)` when it failed. Only for callers
    # that take no other savepoint between the two calls (the driver runs a statement
    # to completion before any user SAVEPOINT / RELEASE / ROLLBACK TO).

    def _mark(self):
        with self._lock:
            return self._new_savepoint("statement")

    def _new_savepoint(self, op):
        """The id of a new engine savepoint. REQUIRES: self._lock held."""
        self._check(op)
        rc = lib.lt_txn_savepoint(self._h, self._idp)
        if rc:
            self._fail(rc, op)
        return int(self._idp[0])

    def _unmark(self, mark):
        with self._lock:
            self._check("statement")
            rc = lib.lt_txn_release(self._h, mark)
            if rc:
                self._fail(rc, "statement")

    def _undo(self, mark):
        with self._lock:
            self._check("statement")
            rc = lib.lt_txn_rollback_to(self._h, mark)
            if rc == 0:
                rc = lib.lt_txn_release(self._h, mark)
            if rc:
                self._fail(rc, "statement")

    # -- ending --

    def _end_children(self):
        for child in _live(self._children):
            child._invalidate()
        for sp in self._savepoints:
            sp._valid = False
        self._savepoints = []

    def commit(self):
        """Commit: validate, then write everything atomically (durable per the sync
        mode). Returns the commit's sequence number. Raises ConflictError if
        validation fails (nothing written). The transaction ends either way."""
        with self._lock:
            self._check("commit")
            self._end_children()
            seqp = ffi.new("uint64_t *")
            rc = lib.lt_txn_commit(self._h, seqp)
            if rc:
                self._state = _FAILED
                raise_error(rc, "commit")
            self._state = _COMMITTED
            return int(seqp[0])

    def rollback(self):
        """Discard every write and end the transaction (a no-op once ended)."""
        with self._lock:
            if self._state is not _ACTIVE:
                return
            self._end_children()
            self._state = _ROLLED_BACK
            check(lib.lt_txn_rollback(self._h), "rollback")

    def _invalidate(self, close_engine=False):
        """The database is closing: the transaction ends (its writes are discarded)."""
        if self._state is _ACTIVE:
            self._state = _FAILED
            for child in _live(self._children):
                child._invalidate()

    def __enter__(self):
        self._check("transaction")
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None and self._state is _ACTIVE:
            self.commit()
        else:
            self.rollback()

    def __repr__(self):
        mode = "read-only " if self._read_only else ""
        return f"<lightning.Transaction {mode}{self._isolation} {self._state}>"


_MISSING = object()


# ---- scans ----------------------------------------------------------------------------

_SCAN_BUF = 64 << 10
_SCAN_ITEMS = 1024
_FMT_CAP = 1 + lib.LTPY_FMT_PER_ITEM * _SCAN_ITEMS
# SQL index lookups open many short scans: their buffers come from a pool (uncleared
# memory; list.pop/append are atomic) and the last batch format stays compiled.
_pool = []
_alloc_raw = ffi.new_allocator(should_clear_after_alloc=False)
_last_struct = (b"", struct.Struct(""))


def _buffers():
    try:
        return _pool.pop()
    except IndexError:
        return (_alloc_raw("char[]", _SCAN_BUF), _SCAN_BUF, _alloc_raw("char[]", _FMT_CAP),
                ffi.new("size_t[3]"))


def _free_titer(h, txn):
    lib.lt_txn_iter_free(h)
    del txn


class TransactionScan:
    """The iterator returned by `Transaction.scan()`: yields (key, value) pairs,
    fetched from the engine many at a time. Ends with the transaction; using it after
    that raises InterfaceError."""

    __slots__ = ("_txn", "_it", "_gen", "_state", "_remaining", "_buf", "_cap", "_fmt",
                 "_out", "__weakref__")

    def __init__(self, txn, start, end, prefix, reverse, limit):
        rng = _scan_range(start, end, prefix)
        self._remaining = _limit_arg(limit)
        self._txn = txn
        self._it = None
        self._state = "open"
        self._gen = self._generate()
        with txn._lock:
            txn._check("scan")
            if rng is None or self._remaining == 0:
                self._state = "done"
                return
            lo, hi = rng
            s, sl = (NULL, 0) if lo is None else (lo, len(lo))
            e, el = (NULL, 0) if hi is None else (hi, len(hi))
            out = ffi.new("lt_txn_iter **")
            rc = lib.lt_txn_iter_new(txn._h, s, sl, e, el, 1 if reverse else 0, out)
            if rc:
                txn._fail(rc, "scan")
            self._it = ffi.gc(out[0], lambda h, txn=txn: _free_titer(h, txn))
            self._buf, self._cap, self._fmt, self._out = _buffers()
            txn._children.add(self)

    def _done(self):
        """Exhausted or closed: release the engine iterator and pool the buffers."""
        lib.lt_txn_iter_close(self._it)
        if self._cap == _SCAN_BUF and len(_pool) < 8:
            _pool.append((self._buf, self._cap, self._fmt, self._out))
        self._buf = self._fmt = self._out = None
        self._cap = 0

    def _fetch(self):
        with self._txn._lock:
            if self._state != "open":
                if self._state == "closed":
                    raise InterfaceError("scan: iterator is closed", code=_ECLOSED)
                return []
            maxn = _SCAN_ITEMS
            if self._remaining is not None:
                maxn = min(maxn, self._remaining)   # never deliver (and so validate) more
            out = self._out
            while True:
                rc = lib.ltpy_txn_iter_next_batch(self._it, self._buf, self._cap, maxn,
                                                  out, out + 1, self._fmt, _FMT_CAP, out + 2)
                if rc == -1:
                    raise InternalError("scan: the engine returned a malformed batch")
                if rc:
                    if rc == _ECLOSED:
                        self._state = "closed"
                    raise_error(rc, "scan")
                n = out[0]
                if n:
                    break
                if out[1] <= self._cap:
                    self._state = "done"
                    self._done()
                    return []
                self._cap = out[1]
                self._buf = ffi.new("char[]", self._cap)
            global _last_struct
            fmt = ffi.unpack(self._fmt, out[2])
            cached = _last_struct
            if cached[0] == fmt:
                st = cached[1]
            else:
                st = struct.Struct(fmt)
                _last_struct = (fmt, st)
            flat = list(st.unpack_from(ffi.buffer(self._buf, out[1])))
            if self._remaining is not None:
                self._remaining -= n
                if self._remaining == 0:
                    self._state = "done"
                    self._done()
            return flat

    def _generate(self):
        while True:
            flat = self._fetch()
            if not flat:
                return
            pairs = iter(flat)
            yield from zip(pairs, pairs)

    def __iter__(self):
        if self._state == "closed":
            raise InterfaceError("scan: iterator is closed", code=_ECLOSED)
        return self._gen

    def __next__(self):
        if self._state == "closed":
            raise InterfaceError("scan: iterator is closed", code=_ECLOSED)
        return next(self._gen)

    def _invalidate(self, close_engine=False):
        self._state = "closed"

    def close(self):
        """Stop the scan early (idempotent)."""
        with self._txn._lock:
            if self._state == "open" and self._it is not None:
                self._done()
            self._state = "closed"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- retry ------------------------------------------------------------------------------

def retry(fn, *args, retries=20, backoff=0.001, max_backoff=0.1, jitter=True, **kwargs):
    """Call `fn(*args, **kwargs)`; on ConflictError call it again, up to `retries`
    more times, sleeping an exponentially growing delay (backoff * 2**attempt, capped
    at max_backoff; with `jitter`, a uniformly random part of it: "full jitter") before
    each retry. Returns fn's result; the last ConflictError propagates. `fn` must run
    a whole transaction (begin to commit) so each attempt starts a new snapshot."""
    if retries < 0:
        raise ProgrammingError(f"retries must be >= 0, not {retries}", code=_EINVAL)
    attempt = 0
    while True:
        try:
            return fn(*args, **kwargs)
        except ConflictError:
            if attempt >= retries:
                raise
        delay = min(max_backoff, backoff * (2 ** attempt))
        if jitter:
            delay = random.uniform(0, delay)
        if delay > 0:
            time.sleep(delay)
        attempt += 1


def run_in_transaction(db, fn, *, isolation="serializable", read_only=False, retries=20,
                       backoff=0.001, max_backoff=0.1, jitter=True,
                       max_write_bytes=DEFAULT_MAX_WRITE_BYTES):
    """Run `fn(txn)` in a new transaction and commit it, retrying the whole thing on
    ConflictError (see `retry`). Returns fn's result."""
    def attempt():
        with Transaction(db, isolation, read_only, max_write_bytes) as txn:
            return fn(txn)
    return retry(attempt, retries=retries, backoff=backoff, max_backoff=max_backoff,
                 jitter=jitter)
