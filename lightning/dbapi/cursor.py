"""The DB-API `Cursor`: runs statements through its connection and hands out the rows
of the last one.

- execute(sql, parameters) / executemany(sql, seq): parameters are checked by
  params.py (qmark `?` with a sequence, or `:name` with a mapping); transaction control
  is run by the connection, everything else by the connection's executor. Both return
  the cursor. executemany() runs only statements that return no rows; its rowcount is
  the sum over the parameter sets, and it is one statement: all its sets take effect or
  none.
- description: None for statements without rows; otherwise one 7-tuple per column,
  (name, type_code, display_size, internal_size, precision, scale, null_ok), where the
  last five are None unless the SQL layer reports them (sqlite3 gives None for all
  six; we give a type code that compares equal to the type objects of typeobjects.py).
- rowcount: rows changed by DML, -1 for other statements (and SELECT), as sqlite3.
- lastrowid: the rowid of the last row inserted by the last execute(), else None.
- fetchone/fetchmany/fetchall/iteration read the rows lazily; fetchmany's default size
  is `arraysize` (1). Fetching when the last statement produced no result set, or before
  any statement, raises ProgrammingError.
- A closed cursor, or a cursor of a closed connection, raises ProgrammingError.
- Threads: a cursor belongs to one thread at a time, as its connection does. Fetching
  from a cursor whose rows are read lazily (from the open transaction) while another
  thread is fetching from it raises ProgrammingError in the second thread (a
  non-blocking lock per cursor; rows already in memory need none: each row goes to
  one of the threads). Without the check the second thread's error ended the first
  thread's row generator, which then stopped early as if the rows had run out.
- setinputsizes/setoutputsize do nothing; callproc raises NotSupportedError (there
  are no stored procedures); nextset() returns None (there is never a second result
  set).
"""

import threading
from itertools import islice

from ..errors import NotSupportedError, OperationalError, ProgrammingError
from .params import bind, bind_each
from .statements import prepare

__all__ = ["Cursor"]

_LIST_ITER = type(iter([]))
# Statements the executor may offer a one-step runner for (Executor.fast_path).
_FAST_KINDS = frozenset(("SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE"))

# Statements that cannot write: they run without a statement savepoint.
_READS = frozenset(("SELECT", "EXPLAIN"))
# First words of the statements that write: refused on a read-only connection.
_WRITES = frozenset(("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER"))


def _read_only_error(kind):
    return OperationalError(f"attempt to write a read-only database: {kind} on a "
                            "connection opened read-only (mode=ro)")


def _take(rows, n):
    return list(islice(rows, n))


def _busy():
    return ProgrammingError("cursor used by two threads at once: another thread is "
                            "fetching from it (a cursor and its connection belong to one "
                            "thread at a time; use a connection per thread)")


def _replay(rows, error):
    yield from rows
    if error is not None:
        raise error


class Cursor:
    """A cursor; create with `Connection.cursor()`."""

    def __init__(self, connection):
        self._connection = connection
        self._closed = False
        self.arraysize = 1
        self._description = None
        self._rows = None           # iterator of the current result set, or None
        self._fetching = threading.Lock()   # held while fetching from a lazy _rows
        self.rowcount = -1
        self.lastrowid = None

    @property
    def connection(self):
        return self._connection

    @property
    def description(self):
        return self._description

    def _check(self):
        if self._connection._closed:
            raise ProgrammingError("Cannot operate on a closed connection.")
        if self._closed:
            raise ProgrammingError("Cannot operate on a closed cursor.")

    def _reset(self):
        rows = self._rows
        if type(rows) is not _LIST_ITER:        # a generator over the transaction
            close = getattr(rows, "close", None)
            if close is not None:
                self._guarded(close)            # (not while another thread fetches)
        self._rows = None
        self._description = None
        self.rowcount = -1
        self.lastrowid = None

    def _detach(self):
        """The transaction the rows come from is ending: read the rest into memory
        (an error while reading is raised by the fetch that reaches it)."""
        if self._rows is None:
            return
        buf, error = [], None
        with self._fetching:        # waits for a fetch in another thread to return
            try:
                for row in self._rows:
                    buf.append(row)
            except Exception as exc:  # surfaced by the fetch that reaches it
                error = exc
            self._rows = _replay(buf, error)

    # -- statements --

    def execute(self, sql, parameters=()):
        """Run one statement with `parameters`; returns the cursor."""
        conn = self._connection
        if self._closed or conn._closed:
            self._check()
        fast = conn._fast.get(sql)
        if fast is not None:            # a statement the executor runs in one step
            if fast.writes:
                out = conn._run_fast(fast, parameters)
            else:                       # (the same as _run_fast, inlined for reads)
                with conn._lock:
                    txn = conn._txn
                    if txn is None and not conn._autocommit:
                        txn = conn._begin()
                    out = fast.run(txn, parameters) if txn is not None else None
            if out is not None:
                old = self._rows
                if old is not None and type(old) is not _LIST_ITER:
                    self._reset()
                if fast.writes:
                    self._description, self._rows = None, None
                    self.rowcount, self.lastrowid = out.rowcount, out.lastrowid
                else:
                    self._description = fast.description
                    self._rows = iter(out)
                    self.rowcount, self.lastrowid = -1, None
                    if type(out) is not list:       # lazy: read from the transaction
                        conn._live_results.add(self)
                return self
        if type(sql) is not str:
            raise TypeError(f"SQL must be a str, not {type(sql).__name__}")
        prep = prepare(sql)
        params = bind(prep.placeholders, parameters)
        if self._rows is not None:
            self._reset()
        else:
            self._description, self.rowcount, self.lastrowid = None, -1, None
        kind = prep.kind
        if kind is None:
            return self
        if prep.control is not None:
            conn._run_control(prep.control)
            return self
        if conn._read_only and kind.split(" ", 1)[0] in _WRITES:
            raise _read_only_error(kind)
        result, lazy = conn._run_one(sql, params, kind in _READS)
        self._set_result(result)
        if lazy:
            conn._live_results.add(self)
        if kind in _FAST_KINDS and not conn._autocommit:    # (runners need a transaction)
            conn._learn_fast(sql)
        return self

    def executemany(self, sql, seq_of_parameters):
        """Run one statement that returns no rows once per parameter set (one
        statement: all sets take effect or none); returns the cursor."""
        self._check()
        if type(sql) is not str:
            raise TypeError(f"SQL must be a str, not {type(sql).__name__}")
        prep = prepare(sql)
        if prep.control is not None:
            raise ProgrammingError(f"executemany() cannot run transaction control "
                                   f"({prep.kind}); use execute()")
        if isinstance(seq_of_parameters, (str, bytes)):
            raise ProgrammingError("executemany() needs an iterable of parameter sets")
        try:
            sets = iter(seq_of_parameters)
        except TypeError:
            raise ProgrammingError("executemany() needs an iterable of parameter sets, "
                                   f"not {type(seq_of_parameters).__name__}") from None
        placeholders = prep.placeholders
        self._reset()
        if prep.kind is None:
            return self
        if self._connection._read_only and prep.kind.split(" ", 1)[0] in _WRITES:
            raise _read_only_error(prep.kind)
        bound = bind_each(placeholders, sets)
        result = self._connection._run_many(prep.sql, bound)
        self.rowcount = result.rowcount
        self.lastrowid = result.lastrowid
        return self

    def _set_result(self, result):
        desc = result.description
        if desc is not None:
            if type(desc) is not tuple:     # pad (name, type_code) pairs to 7-tuples
                desc = tuple(tuple(col) + (None,) * (7 - len(col)) for col in desc)
            self._description = desc
            self._rows = iter(result.rows)
        self.rowcount = result.rowcount
        self.lastrowid = result.lastrowid

    # -- rows --

    def _result(self):
        self._check()
        if self._rows is None:
            raise ProgrammingError("no result set: the last statement returned no rows "
                                   "(or no statement was executed)")
        return self._rows

    def _guarded(self, fn, *args):
        """fn(*args) holding the fetch lock; ProgrammingError if another thread holds
        it (see the module comment)."""
        lock = self._fetching
        if not lock.acquire(False):
            raise _busy()
        try:
            return fn(*args)
        finally:
            lock.release()

    def fetchone(self):
        """The next row, or None when there are no more."""
        rows = self._rows
        if rows is None or self._closed or self._connection._closed:
            rows = self._result()           # raises the right error
        if type(rows) is _LIST_ITER:        # rows in memory: next() is atomic
            return next(rows, None)
        return self._guarded(next, rows, None)

    def fetchmany(self, size=None):
        """Up to `size` (default: arraysize) more rows, as a list."""
        rows = self._result()
        if size is None:
            size = self.arraysize
        if type(rows) is _LIST_ITER:
            return list(islice(rows, max(size, 0)))
        return self._guarded(_take, rows, max(size, 0))

    def fetchall(self):
        """Every remaining row, as a list."""
        rows = self._rows
        if rows is None or self._closed or self._connection._closed:
            rows = self._result()           # raises the right error
        if type(rows) is _LIST_ITER:
            return list(rows)
        return self._guarded(list, rows)

    def __iter__(self):
        return self

    def __next__(self):
        rows = self._result()
        if type(rows) is _LIST_ITER:
            return next(rows)
        return self._guarded(next, rows)

    # -- the rest of PEP 249 --

    def close(self):
        """Close the cursor (idempotent); its unread rows are dropped."""
        if not self._closed:
            if not self._connection._closed:
                self._reset()
            self._closed = True

    def setinputsizes(self, sizes):
        """Accepted and ignored (PEP 249 allows that)."""
        self._check()

    def setoutputsize(self, size, column=None):
        """Accepted and ignored (PEP 249 allows that)."""
        self._check()

    def callproc(self, procname, parameters=()):
        self._check()
        raise NotSupportedError("callproc(): Lightning has no stored procedures")

    def nextset(self):
        """None: a statement produces at most one result set."""
        self._check()
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<lightning.Cursor {'closed' if self._closed else 'open'}>"

