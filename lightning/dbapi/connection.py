"""The DB-API `Connection`: one open database plus the transaction state of one user.

Transactions (PEP 249 "implicit" transactions, as sqlite3 with autocommit=False):

  no transaction --first statement / BEGIN / SAVEPOINT--> open (a lightning.Transaction)
  open --commit() / COMMIT / END--> no transaction   (ConflictError may be raised;
                                                      the transaction is over either way)
  open --rollback() / ROLLBACK / close()--> no transaction

In autocommit mode (`autocommit=True`, or `isolation_level=None` as in sqlite3's
legacy mode) a data statement outside an explicit transaction runs in a transaction
of its own that is committed before execute() returns (executemany(): one transaction
for all its parameter sets); BEGIN opens an explicit transaction that lasts until
COMMIT/ROLLBACK (or commit()/rollback()), and SAVEPOINT outside a transaction opens
one that the RELEASE of that outermost savepoint commits, as in SQLite.

Every data statement runs inside a savepoint of the transaction, so a statement that
fails leaves the transaction as it was before the statement; the transaction stays
open. Before a transaction ends, the unread rows of this connection's cursors are read
into memory, so fetching after commit() works as in sqlite3.

Conflicts are `lightning.ConflictError` (an OperationalError, `sqlstate` "40001"),
raised by whatever commits: commit(), COMMIT, an autocommitted statement, the
context manager. They are never retried by the driver: the caller re-runs its whole
transaction (see `lightning.retry`).

Using a closed connection (or a cursor of it) raises ProgrammingError, as sqlite3
does; close() itself is idempotent. Threads: threadsafety 1 (see module.py) -- a
connection and its cursors belong to one thread at a time; an internal lock keeps a
misused connection consistent, not meaningful.
"""

import threading
import weakref

from .. import errors
from ..errors import OperationalError, ProgrammingError
from ..transaction import DEFAULT_MAX_WRITE_BYTES
from .cursor import Cursor
from .executor import Result

__all__ = ["Connection", "ISOLATION_LEVELS"]

# isolation_level values -> lightning.Transaction isolation. The sqlite3 legacy values
# ("", DEFERRED, IMMEDIATE, EXCLUSIVE) name locking modes Lightning does not have;
# they mean the default, SERIALIZABLE, so code written for sqlite3 runs unchanged.
ISOLATION_LEVELS = {
    "SERIALIZABLE": "serializable",
    "REPEATABLE READ": "snapshot",
    "SNAPSHOT": "snapshot",
    "": "serializable",
    "DEFERRED": "serializable",
    "IMMEDIATE": "serializable",
    "EXCLUSIVE": "serializable",
}
_CANONICAL = {"serializable": "SERIALIZABLE", "snapshot": "SNAPSHOT"}


def _isolation_arg(level):
    if not isinstance(level, str) or " ".join(level.upper().split()) not in ISOLATION_LEVELS:
        raise ProgrammingError(f"isolation_level must be None, 'SERIALIZABLE', 'REPEATABLE "
                               f"READ' or 'SNAPSHOT', not {level!r}")
    return ISOLATION_LEVELS[" ".join(level.upper().split())]


class Connection:
    """A connection; create with `lightning.connect()`. As a context manager it commits
    on a clean exit and rolls back on an exception; it does not close (as sqlite3)."""

    Warning = errors.Warning
    Error = errors.Error
    InterfaceError = errors.InterfaceError
    DatabaseError = errors.DatabaseError
    DataError = errors.DataError
    OperationalError = errors.OperationalError
    IntegrityError = errors.IntegrityError
    InternalError = errors.InternalError
    ProgrammingError = errors.ProgrammingError
    NotSupportedError = errors.NotSupportedError

    def __init__(self, kv, *, isolation_level="SERIALIZABLE", autocommit=None,
                 cached_statements=128, executor_factory=None, database=None,
                 read_only=False, max_write_bytes=DEFAULT_MAX_WRITE_BYTES):
        from .executor import default_factory
        if isolation_level is None:
            self._level = "serializable"
        else:
            self._level = _isolation_arg(isolation_level)
        if autocommit is None:
            autocommit = isolation_level is None
        if not isinstance(autocommit, bool):
            raise ProgrammingError(f"autocommit must be True or False, not {autocommit!r}")
        if isinstance(cached_statements, bool) or not isinstance(cached_statements, int) \
                or cached_statements < 0:
            raise ProgrammingError(f"cached_statements must be an int >= 0, not "
                                   f"{cached_statements!r}")
        if isinstance(max_write_bytes, bool) or not isinstance(max_write_bytes, int) or \
                max_write_bytes < 1:
            raise ProgrammingError(f"max_write_bytes must be an int >= 1, not "
                                   f"{max_write_bytes!r}")
        self._kv = kv
        self._read_only = bool(read_only)   # the database was opened read-only
        self._max_write_bytes = max_write_bytes     # each transaction's write limit
        self._autocommit = autocommit
        self._lock = threading.RLock()
        self._closed = False
        self._txn = None
        self._savepoints = []        # [(casefolded name, lightning.Savepoint)]
        self._sp_autobegin = False   # the open transaction began with SAVEPOINT (autocommit)
        self._cursors = weakref.WeakSet()       # every cursor, closed with us
        self._live_results = weakref.WeakSet()  # cursors reading rows from self._txn
        self.database = database if database is not None else kv.path
        self.cached_statements = cached_statements
        self._executor = (executor_factory or default_factory)(self)
        # SQL text -> the executor's one-step runner for it (Executor.fast_path)
        self._fast = {}
        self._fast_path = getattr(self._executor, "fast_path", None)

    # -- state --

    def _check(self):
        if self._closed:
            raise ProgrammingError("Cannot operate on a closed connection.")

    @property
    def closed(self):
        return self._closed

    @property
    def kv(self):
        """The `lightning.Database` this connection uses (same file, same engine as
        every other connection and `lightning.open` on the path). Closed by close()."""
        self._check()
        return self._kv

    @property
    def max_write_bytes(self):
        """The write limit of each transaction of this connection (connect()'s
        `max_write_bytes`): the bytes of keys and values it may buffer, plus 16 per
        write. A statement going past it raises OperationalError and is undone."""
        return self._max_write_bytes

    @property
    def in_transaction(self):
        """True while a transaction is open (begun by a statement, BEGIN or SAVEPOINT)."""
        self._check()
        return self._txn is not None

    @property
    def autocommit(self):
        self._check()
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value):
        if not isinstance(value, bool):
            raise ProgrammingError(f"autocommit must be True or False, not {value!r}")
        with self._lock:
            self._check()
            if value and self._txn is not None:
                self.commit()      # as sqlite3: turning autocommit on commits
            self._autocommit = value

    @property
    def isolation_level(self):
        """"SERIALIZABLE" or "SNAPSHOT" (REPEATABLE READ), or None in autocommit mode.
        Setting None turns autocommit on; setting a level turns it off. A new level
        applies from the next transaction."""
        self._check()
        return None if self._autocommit else _CANONICAL[self._level]

    @isolation_level.setter
    def isolation_level(self, value):
        with self._lock:
            self._check()
            if value is None:
                self.autocommit = True
                return
            self._level = _isolation_arg(value)
            self._autocommit = False

    # -- cursors and shortcuts --

    def cursor(self, factory=Cursor):
        """A new cursor of this connection."""
        with self._lock:
            self._check()
            cur = factory(self)
            self._cursors.add(cur)
            return cur

    def execute(self, sql, parameters=()):
        """Shortcut: a new cursor's execute(); returns the cursor."""
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql, seq_of_parameters):
        """Shortcut: a new cursor's executemany(); returns the cursor."""
        return self.cursor().executemany(sql, seq_of_parameters)

    # -- transactions --

    def _begin(self):
        self._txn = self._kv.transaction(self._level, self._read_only,
                                         max_write_bytes=self._max_write_bytes)
        return self._txn

    def _end(self, commit):
        txn = self._txn
        for cur in list(self._live_results):
            cur._detach()
        self._live_results = weakref.WeakSet()
        try:
            if commit:
                self._commit(txn)
            else:
                txn.rollback()
        finally:
            self._txn = None
            self._savepoints = []
            self._sp_autobegin = False

    def commit(self):
        """Commit the open transaction, if any. Raises ConflictError (sqlstate 40001)
        when it conflicts; the transaction is over either way."""
        with self._lock:
            self._check()
            if self._txn is not None:
                self._end(commit=True)

    def rollback(self):
        """Roll back the open transaction, if any."""
        with self._lock:
            self._check()
            if self._txn is not None:
                self._end(commit=False)

    def close(self):
        """Roll back the open transaction, close every cursor and the database handle.
        Idempotent."""
        with self._lock:
            if self._closed:
                return
            try:
                if self._txn is not None:
                    self._end(commit=False)
            finally:
                self._closed = True
                for cur in list(self._cursors):
                    cur._closed = True
                self._kv.close()

    def __enter__(self):
        self._check()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.rollback()
        return False

    # -- statements (called by Cursor) --

    def _run_control(self, control):
        with self._lock:
            self._check()
            op = control.op
            if op == "begin":
                if self._txn is not None:
                    raise OperationalError("cannot start a transaction within a transaction")
                self._begin()
            elif op == "commit":
                self.commit()
            elif op == "rollback":
                self.rollback()
            elif op == "savepoint":
                if self._txn is None:
                    self._begin()
                    self._sp_autobegin = self._autocommit
                self._savepoints.append((control.name.casefold(), self._txn.savepoint()))
            else:
                key = control.name.casefold()
                for i in range(len(self._savepoints) - 1, -1, -1):
                    if self._savepoints[i][0] == key:
                        break
                else:
                    raise OperationalError(f"no such savepoint: {control.name}")
                sp = self._savepoints[i][1]
                if op == "release":
                    self._txn.release(sp)
                    del self._savepoints[i:]
                    if not self._savepoints and self._sp_autobegin:
                        self._end(commit=True)
                else:  # rollback_to: the savepoint itself stays
                    self._txn.rollback_to(sp)
                    del self._savepoints[i + 1:]

    def _run_one(self, sql, params, reads):
        """Run `sql` once; returns (Result, lazy) where `lazy` says the rows are read
        from the open transaction. `reads`: the statement cannot write (SELECT), so
        it needs no statement savepoint."""
        with self._lock:
            if self._closed:
                self._check()
            txn = self._txn
            if txn is None:
                if self._autocommit:
                    return self._run_autocommit(sql, (params,), False), False
                txn = self._begin()
            execute = self._executor.execute
            if reads:
                result = execute(txn, sql, params)
                rows = result.rows
                return result, type(rows) is not list and type(rows) is not tuple
            result = _statement(txn, execute, txn, sql, params)
            rows = result.rows
            return result, result.description is not None and \
                type(rows) is not list and type(rows) is not tuple

    def _run_fast(self, fast, params):
        """`fast.run` in the current transaction (begun if none, unless in autocommit
        mode), inside a statement savepoint when it writes; None when it declines."""
        with self._lock:
            txn = self._txn
            if txn is None:
                if self._autocommit:
                    return None
                txn = self._begin()
            if not fast.writes:
                return fast.run(txn, params)
            return _statement(txn, fast.run, txn, params)

    def _learn_fast(self, sql):
        """After `sql` ran the normal way: ask the executor whether it can run it in
        one step from now on."""
        if self._fast_path is None:
            return
        with self._lock:
            fast = self._fast_path(sql)
            fasts = self._fast
            if fast is None:
                fasts.pop(sql, None)
                return
            if sql not in fasts and len(fasts) >= max(self.cached_statements, 1):
                del fasts[next(iter(fasts))]        # the oldest
            fasts[sql] = fast

    def _run_many(self, sql, param_sets):
        """Run `sql` once per parameter set, as one statement; returns its Result."""
        with self._lock:
            self._check()
            txn = self._txn
            if txn is None:
                if self._autocommit:
                    return self._run_autocommit(sql, param_sets, True)
                txn = self._begin()
            return _statement(txn, _execute_all, self._executor, txn, sql, param_sets, True)

    def _run_autocommit(self, sql, param_sets, many):
        txn = self._kv.transaction(self._level, self._read_only,
                                   max_write_bytes=self._max_write_bytes)
        try:
            result = _execute_all(self._executor, txn, sql, param_sets, many)
            if result.description is not None:
                result.rows = list(result.rows)
        except BaseException:
            txn.rollback()
            raise
        self._commit(txn)
        return result

    def _commit(self, txn):
        """txn.commit(); a ConflictError's message names the table or index and the
        key values in conflict when the executor can say (its optional
        conflict_message(message)), instead of the engine's raw key."""
        try:
            txn.commit()
        except errors.ConflictError as exc:
            describe = getattr(self._executor, "conflict_message", None)
            msg = describe(str(exc)) if describe is not None else None
            if msg is None:
                raise
            raise errors.ConflictError(msg, code=exc.code) from None

    def __repr__(self):
        state = "closed" if self._closed else "open"
        return f"<lightning.Connection {self.database!r} {state}>"


def _statement(txn, fn, *args):
    """fn(*args) as one statement of `txn`: inside a statement savepoint, so a failure
    undoes its writes and leaves the transaction as it was."""
    mark = txn._mark()
    try:
        result = fn(*args)
    except BaseException:
        if txn.active:
            txn._undo(mark)
        raise
    txn._unmark(mark)
    return result


def _execute_all(executor, txn, sql, param_sets, many):
    """The Result of running `sql` once per parameter set (executemany: the rowcounts
    summed, rows refused)."""
    many_fn = getattr(executor, "execute_many", None)
    if many and many_fn is not None:
        result = many_fn(txn, sql, param_sets)
        if result is not None:
            return result
    execute = executor.execute
    result, total = None, 0
    for params in param_sets:
        result = execute(txn, sql, params)
        if many:
            if result.description is not None:
                raise ProgrammingError("executemany() can only run statements that "
                                       "return no rows")
            if result.rowcount >= 0:
                total += result.rowcount
    if result is None:
        return Result(rowcount=0 if many else -1)
    if many:
        result.rowcount = total
    return result
